//! The job table's and the queue's session indexes go. Each registration
//! writes four jobs and their four queue rows, so the two indexes were eight
//! more index entries on the registration path, about a third of its write
//! cost; only a session's reschedule and cancel read them. Those now reach a
//! session's jobs through its registrations (`idx_registrations_session`)
//! and the jobs' (registration, session, kind, version) index.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const JOB_SESSION: &str = "idx_email_jobs_session_kind";
const QUEUE_SESSION: &str = "idx_email_queue_session_kind";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(JOB_SESSION).table(EmailJobs::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name(QUEUE_SESSION).table(EmailQueue::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(JOB_SESSION)
                    .table(EmailJobs::Table)
                    .col(EmailJobs::SessionId)
                    .col(EmailJobs::Kind)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(QUEUE_SESSION)
                    .table(EmailQueue::Table)
                    .col(EmailQueue::SessionId)
                    .col(EmailQueue::Kind)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum EmailJobs {
    Table,
    SessionId,
    Kind,
}

#[derive(DeriveIden)]
enum EmailQueue {
    Table,
    SessionId,
    Kind,
}
