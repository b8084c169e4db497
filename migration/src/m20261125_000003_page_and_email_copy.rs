//! What marketing edits without a developer: the agenda, per-ICP landing
//! copy, and email copy per kind (and per ICP).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Webinars::Table).add_column(text(Webinars::Agenda).default("[]")).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IcpVariants::Table)
                    .if_not_exists()
                    .col(big_pk_auto(IcpVariants::Id))
                    .col(big_integer(IcpVariants::WebinarId))
                    .col(string_len(IcpVariants::Icp, 64))
                    .col(string_len(IcpVariants::Headline, 200))
                    .col(text(IcpVariants::Intro))
                    .col(timestamp_with_time_zone(IcpVariants::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IcpVariants::Table, IcpVariants::WebinarId)
                            .to(Webinars::Table, Webinars::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_icp_variants_webinar_icp")
                    .table(IcpVariants::Table)
                    .col(IcpVariants::WebinarId)
                    .col(IcpVariants::Icp)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailCopies::Table)
                    .if_not_exists()
                    .col(big_pk_auto(EmailCopies::Id))
                    .col(big_integer(EmailCopies::WebinarId))
                    .col(string_len(EmailCopies::Kind, 32))
                    // Empty for the copy every registrant gets; an ICP key for its variant.
                    .col(string_len(EmailCopies::Icp, 64))
                    .col(string_len(EmailCopies::Subject, 300))
                    .col(text(EmailCopies::Body))
                    .col(timestamp_with_time_zone(EmailCopies::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailCopies::Table, EmailCopies::WebinarId)
                            .to(Webinars::Table, Webinars::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_email_copies_webinar_kind_icp")
                    .table(EmailCopies::Table)
                    .col(EmailCopies::WebinarId)
                    .col(EmailCopies::Kind)
                    .col(EmailCopies::Icp)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(EmailCopies::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(IcpVariants::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Webinars::Table).drop_column(Webinars::Agenda).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Webinars {
    Table,
    Id,
    Agenda,
}

#[derive(DeriveIden)]
enum IcpVariants {
    Table,
    Id,
    WebinarId,
    Icp,
    Headline,
    Intro,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EmailCopies {
    Table,
    Id,
    WebinarId,
    Kind,
    Icp,
    Subject,
    Body,
    UpdatedAt,
}
