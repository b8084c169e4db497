//! The queue's indexes hold only the jobs each query looks for: pending jobs
//! in claim order, running jobs by lease end. With `status` as the old claim
//! index's first column, Postgres answered "these ids, if still running"
//! (every outcome a worker records) by walking all running jobs in that index
//! rather than the ids' primary keys: 80 ms per 1,000 ids during a burst.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index this migration replaces.
const OLD_CLAIM: &str = "idx_email_jobs_claim";
const PENDING: &str = "idx_email_jobs_pending";
const RUNNING: &str = "idx_email_jobs_running";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(OLD_CLAIM).table(EmailJobs::Table).to_owned()).await?;
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
        manager
            .create_index(
                Index::create()
                    .name(RUNNING)
                    .table(EmailJobs::Table)
                    .col(EmailJobs::LockedUntil)
                    .and_where(Expr::col(EmailJobs::Status).eq("running"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(RUNNING).table(EmailJobs::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name(PENDING).table(EmailJobs::Table).to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name(OLD_CLAIM)
                    .table(EmailJobs::Table)
                    .col(EmailJobs::Status)
                    .col(EmailJobs::RunAt)
                    .col(EmailJobs::WebinarId)
                    .col(EmailJobs::Kind)
                    .col(EmailJobs::Id)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum EmailJobs {
    Table,
    Id,
    WebinarId,
    Kind,
    RunAt,
    Status,
    LockedUntil,
}
