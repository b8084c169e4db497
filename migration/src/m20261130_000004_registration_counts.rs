//! Each webinar's registration count, kept in a few counter rows that the
//! registration's own transaction updates. Counting the registrations table
//! instead is linear in its size and was the write path's largest cost.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RegistrationCounts::Table)
                    .if_not_exists()
                    .col(big_integer(RegistrationCounts::WebinarId))
                    .col(integer(RegistrationCounts::Shard))
                    .col(big_integer(RegistrationCounts::Registrations).default(0))
                    .primary_key(Index::create().col(RegistrationCounts::WebinarId).col(RegistrationCounts::Shard))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RegistrationCounts::Table, RegistrationCounts::WebinarId)
                            .to(Webinars::Table, Webinars::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Registrations made before this migration land in shard 0.
        let backfill = Query::insert()
            .into_table(RegistrationCounts::Table)
            .columns([RegistrationCounts::WebinarId, RegistrationCounts::Shard, RegistrationCounts::Registrations])
            .select_from(
                Query::select()
                    .column(Registrations::WebinarId)
                    .expr(Expr::val(0))
                    .expr(Expr::col(Registrations::Id).count())
                    .from(Registrations::Table)
                    .group_by_col(Registrations::WebinarId)
                    .to_owned(),
            )
            .map_err(|error| DbErr::Migration(error.to_string()))?
            .to_owned();
        manager.exec_stmt(backfill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RegistrationCounts::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum RegistrationCounts {
    Table,
    WebinarId,
    Shard,
    Registrations,
}

#[derive(DeriveIden)]
enum Registrations {
    Table,
    Id,
    WebinarId,
}

#[derive(DeriveIden)]
enum Webinars {
    Table,
    Id,
}
