use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webinars::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Webinars::Id))
                    .col(string_len_uniq(Webinars::Slug, 80))
                    .col(string_len(Webinars::Title, 200))
                    .col(string_len(Webinars::Subtitle, 300))
                    .col(text(Webinars::Description))
                    .col(text(Webinars::Speakers))
                    .col(timestamp_with_time_zone(Webinars::StartsAt))
                    .col(integer(Webinars::DurationMinutes))
                    .col(string_len(Webinars::Timezone, 64))
                    .col(string_len(Webinars::JoinUrl, 500))
                    .col(string_len(Webinars::Status, 16))
                    .col(integer_null(Webinars::Capacity))
                    .col(integer(Webinars::ScheduleVersion).default(0))
                    .col(timestamp_with_time_zone(Webinars::CreatedAt))
                    .col(timestamp_with_time_zone(Webinars::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_webinars_status_starts_at",
                Webinars::Table,
                [Webinars::Status, Webinars::StartsAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Registrations::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Registrations::Id))
                    .col(big_integer(Registrations::WebinarId))
                    .col(string_len(Registrations::Name, 100))
                    .col(string_len(Registrations::Email, 254))
                    .col(string_len(Registrations::EmailKey, 254))
                    .col(string_len_null(Registrations::Company, 200))
                    .col(string_len_null(Registrations::Icp, 64))
                    .col(string_len_null(Registrations::UtmSource, 200))
                    .col(string_len_null(Registrations::UtmMedium, 200))
                    .col(string_len_null(Registrations::UtmCampaign, 200))
                    .col(string_len_uniq(Registrations::Token, 64))
                    .col(timestamp_with_time_zone_null(Registrations::UnsubscribedAt))
                    .col(timestamp_with_time_zone(Registrations::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Registrations::Table, Registrations::WebinarId)
                            .to(Webinars::Table, Webinars::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One registration per person per webinar; also the count's index.
        manager
            .create_index(unique_index(
                "uq_registrations_webinar_email",
                Registrations::Table,
                [Registrations::WebinarId, Registrations::EmailKey],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EmailJobs::Table)
                    .if_not_exists()
                    .col(big_pk_auto(EmailJobs::Id))
                    .col(big_integer(EmailJobs::RegistrationId))
                    .col(big_integer(EmailJobs::WebinarId))
                    .col(string_len(EmailJobs::Kind, 32))
                    .col(integer(EmailJobs::ScheduleVersion).default(0))
                    .col(timestamp_with_time_zone(EmailJobs::RunAt))
                    .col(string_len(EmailJobs::Status, 16))
                    .col(integer(EmailJobs::Attempts).default(0))
                    .col(text_null(EmailJobs::LastError))
                    .col(timestamp_with_time_zone_null(EmailJobs::LockedUntil))
                    .col(string_len_null(EmailJobs::LockedBy, 64))
                    .col(timestamp_with_time_zone_null(EmailJobs::SentAt))
                    .col(timestamp_with_time_zone(EmailJobs::CreatedAt))
                    .col(timestamp_with_time_zone(EmailJobs::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailJobs::Table, EmailJobs::RegistrationId)
                            .to(Registrations::Table, Registrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailJobs::Table, EmailJobs::WebinarId)
                            .to(Webinars::Table, Webinars::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A duplicate job is impossible: one per registration, kind and schedule version.
        manager
            .create_index(unique_index(
                "uq_email_jobs_registration_kind_version",
                EmailJobs::Table,
                [EmailJobs::RegistrationId, EmailJobs::Kind, EmailJobs::ScheduleVersion],
            ))
            .await?;
        // The worker's claim, in its own order (due time, then webinar and kind
        // so a claim fills whole batches): an index scan with a limit, no sort.
        manager
            .create_index(index(
                "idx_email_jobs_claim",
                EmailJobs::Table,
                [EmailJobs::Status, EmailJobs::RunAt, EmailJobs::WebinarId, EmailJobs::Kind, EmailJobs::Id],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(EmailJobs::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Registrations::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Webinars::Table).to_owned()).await
    }
}

fn index<T: IntoIden + 'static, C: IntoIden + 'static>(
    name: &str,
    table: T,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index
}

fn unique_index<T: IntoIden + 'static, C: IntoIden + 'static>(
    name: &str,
    table: T,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    index(name, table, columns).unique().to_owned()
}

#[derive(DeriveIden)]
enum Webinars {
    Table,
    Id,
    Slug,
    Title,
    Subtitle,
    Description,
    Speakers,
    StartsAt,
    DurationMinutes,
    Timezone,
    JoinUrl,
    Status,
    Capacity,
    ScheduleVersion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Registrations {
    Table,
    Id,
    WebinarId,
    Name,
    Email,
    EmailKey,
    Company,
    Icp,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    Token,
    UnsubscribedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EmailJobs {
    Table,
    Id,
    RegistrationId,
    WebinarId,
    Kind,
    ScheduleVersion,
    RunAt,
    Status,
    Attempts,
    LastError,
    LockedUntil,
    LockedBy,
    SentAt,
    CreatedAt,
    UpdatedAt,
}
