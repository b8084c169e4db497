//! The pending jobs get a table of their own, `email_queue`: one row per
//! pending job with what a claim reads (due time, webinar, kind, registrant,
//! schedule version, attempts so far) and the claim's index, so a claim
//! reads this table alone. The job table then has no index that reads
//! `status`, so recording an outcome (pending -> sent) is a HOT update: a new
//! row version on the same page and no new index entries. Before, every outcome wrote new
//! entries into the primary key and the unique (registration, kind, version)
//! index, and the outcome writes of a 100,000-job burst took as long as the
//! whole drain was allowed. On Postgres the job table leaves half of each
//! page free for those versions: a worker records a batch of neighbouring
//! jobs at once, so a page needs room for all of theirs.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const DUE: &str = "idx_email_queue_due";
/// The claim index this migration replaces.
const PENDING: &str = "idx_email_jobs_pending";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailQueue::Table)
                    .col(big_integer(EmailQueue::JobId).primary_key())
                    .col(timestamp_with_time_zone(EmailQueue::RunAt))
                    .col(big_integer(EmailQueue::WebinarId))
                    .col(string_len(EmailQueue::Kind, 32))
                    .col(big_integer(EmailQueue::RegistrationId))
                    .col(integer(EmailQueue::ScheduleVersion))
                    .col(integer(EmailQueue::Attempts))
                    // A job that is erased (with its registrant or webinar) leaves the queue too.
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailQueue::Table, EmailQueue::JobId)
                            .to(EmailJobs::Table, EmailJobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(DUE)
                    .table(EmailQueue::Table)
                    .col(EmailQueue::RunAt)
                    .col(EmailQueue::WebinarId)
                    .col(EmailQueue::Kind)
                    .col(EmailQueue::JobId)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO email_queue (job_id, run_at, webinar_id, kind, registration_id, schedule_version, attempts) \
             SELECT id, run_at, webinar_id, kind, registration_id, schedule_version, attempts \
             FROM email_jobs WHERE status = 'pending'",
        )
        .await?;
        manager.drop_index(Index::drop().name(PENDING).table(EmailJobs::Table).to_owned()).await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            db.execute_unprepared("ALTER TABLE email_jobs SET (fillfactor = 50)").await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared("ALTER TABLE email_jobs RESET (fillfactor)").await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(PENDING)
                    .table(EmailJobs::Table)
                    .col(EmailJobs::RunAt)
                    .col(EmailJobs::WebinarId)
                    .col(EmailJobs::Kind)
                    .col(EmailJobs::Id)
                    .and_where(Expr::col(EmailJobs::Status).eq("pending"))
                    .to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(EmailQueue::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum EmailQueue {
    Table,
    JobId,
    RunAt,
    WebinarId,
    Kind,
    RegistrationId,
    ScheduleVersion,
    Attempts,
}

#[derive(DeriveIden)]
enum EmailJobs {
    Table,
    Id,
    WebinarId,
    Kind,
    RunAt,
    Status,
}
