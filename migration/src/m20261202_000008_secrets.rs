//! `secrets`: keys the server generates for itself, shared by every instance
//! on the database. The first is the key that signs unsubscribe links when
//! `SECRET_KEY` is not set: generated at random on first start, so no
//! installation signs with a key anyone can read in the source.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Secrets::Table)
                    .col(string_len(Secrets::Name, 64).primary_key())
                    .col(string_len(Secrets::Value, 256))
                    .col(timestamp_with_time_zone(Secrets::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Secrets::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Secrets {
    Table,
    Name,
    Value,
    CreatedAt,
}
