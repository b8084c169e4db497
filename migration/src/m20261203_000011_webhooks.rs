//! Webhooks: the endpoints (`webhooks`) and the events each wants
//! (`webhook_subscriptions`); the events written with the change that
//! caused them (`webhook_events`); one delivery per event and endpoint
//! (`webhook_deliveries`), a job of the queue's `webhook` channel; and each
//! attempt's answer (`webhook_attempts`), the delivery log. The queue's
//! leases now serve both channels: `email_leases` becomes `leases`, with the
//! channel each lease belongs to.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.rename_table(Table::rename().table(EmailLeases::Table, Leases::Table).to_owned()).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Leases::Table)
                    .add_column(string_len(Leases::Channel, 16).default("email"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(big_pk_auto(Webhooks::Id))
                    .col(string_len(Webhooks::Url, 2000))
                    .col(string_len(Webhooks::Secret, 64))
                    .col(boolean(Webhooks::Enabled).default(true))
                    .col(timestamp_with_time_zone_null(Webhooks::FailingSince))
                    .col(timestamp_with_time_zone_null(Webhooks::DisabledAt))
                    .col(string_len_null(Webhooks::DisabledReason, 2000))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(timestamp_with_time_zone(Webhooks::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookSubscriptions::Table)
                    .col(big_integer(WebhookSubscriptions::WebhookId))
                    .col(string_len(WebhookSubscriptions::EventType, 64))
                    .primary_key(
                        Index::create().col(WebhookSubscriptions::EventType).col(WebhookSubscriptions::WebhookId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookSubscriptions::Table, WebhookSubscriptions::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(big_pk_auto(WebhookEvents::Id))
                    .col(string_len(WebhookEvents::MessageId, 40))
                    .col(string_len(WebhookEvents::EventType, 64))
                    .col(timestamp_with_time_zone(WebhookEvents::OccurredAt))
                    .col(big_integer_null(WebhookEvents::RegistrationId))
                    .col(text_null(WebhookEvents::Payload))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_events_registration")
                    .table(WebhookEvents::Table)
                    .col(WebhookEvents::RegistrationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(big_integer(WebhookDeliveries::WebhookId))
                    .col(big_integer(WebhookDeliveries::EventId))
                    .col(string_len(WebhookDeliveries::Status, 16))
                    .col(timestamp_with_time_zone(WebhookDeliveries::RunAt))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(integer_null(WebhookDeliveries::LastStatusCode))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LastAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::DeliveredAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EventId)
                            .to(WebhookEvents::Table, WebhookEvents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_webhook_deliveries_due",
                [WebhookDeliveries::Status, WebhookDeliveries::RunAt, WebhookDeliveries::Id],
            ),
            (
                "idx_webhook_deliveries_log",
                [WebhookDeliveries::WebhookId, WebhookDeliveries::Id, WebhookDeliveries::Status],
            ),
        ] {
            let mut index = Index::create().name(name).table(WebhookDeliveries::Table).to_owned();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_event")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EventId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(big_pk_auto(WebhookAttempts::Id))
                    .col(big_integer(WebhookAttempts::DeliveryId))
                    .col(timestamp_with_time_zone(WebhookAttempts::AttemptedAt))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(integer(WebhookAttempts::DurationMs))
                    .col(text(WebhookAttempts::Response))
                    .col(text_null(WebhookAttempts::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_delivery")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::DeliveryId)
                    .col(WebhookAttempts::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            WebhookSubscriptions::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        manager.alter_table(Table::alter().table(Leases::Table).drop_column(Leases::Channel).to_owned()).await?;
        manager.rename_table(Table::rename().table(Leases::Table, EmailLeases::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum EmailLeases {
    Table,
}

#[derive(DeriveIden)]
enum Leases {
    Table,
    Channel,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    Url,
    Secret,
    Enabled,
    FailingSince,
    DisabledAt,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookSubscriptions {
    Table,
    WebhookId,
    EventType,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    MessageId,
    EventType,
    OccurredAt,
    RegistrationId,
    Payload,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    EventId,
    Status,
    RunAt,
    Attempts,
    LastError,
    LastStatusCode,
    LastAttemptAt,
    DeliveredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    AttemptedAt,
    StatusCode,
    DurationMs,
    Response,
    Error,
}
