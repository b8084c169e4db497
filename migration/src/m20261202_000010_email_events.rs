//! `email_events`: what the provider reported about each email job, each
//! event once (`provider_event_id`); `suppressions`: the addresses no email
//! goes to any more.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailEvents::Table)
                    .col(big_pk_auto(EmailEvents::Id))
                    .col(string_len_uniq(EmailEvents::ProviderEventId, 100))
                    .col(big_integer_null(EmailEvents::JobId))
                    .col(string_len(EmailEvents::Event, 32))
                    .col(string_len(EmailEvents::EmailKey, 320))
                    .col(string_len_null(EmailEvents::Reason, 2000))
                    .col(timestamp_with_time_zone(EmailEvents::OccurredAt))
                    .col(timestamp_with_time_zone(EmailEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_email_events_job")
                    .table(EmailEvents::Table)
                    .col(EmailEvents::JobId)
                    .col(EmailEvents::Event)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Suppressions::Table)
                    .col(string_len(Suppressions::EmailKey, 320).primary_key())
                    .col(string_len(Suppressions::Event, 32))
                    .col(string_len_null(Suppressions::Reason, 2000))
                    .col(timestamp_with_time_zone(Suppressions::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Suppressions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(EmailEvents::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum EmailEvents {
    Table,
    Id,
    ProviderEventId,
    JobId,
    Event,
    EmailKey,
    Reason,
    OccurredAt,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Suppressions {
    Table,
    EmailKey,
    Event,
    Reason,
    CreatedAt,
}
