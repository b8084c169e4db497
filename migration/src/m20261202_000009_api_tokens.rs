//! `api_tokens`: the admin API's bearer tokens (only their hashes), and
//! `idempotent_requests`: the answers of creates sent with an
//! `Idempotency-Key`, kept a day, one per token and key.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(big_pk_auto(ApiTokens::Id))
                    .col(string_len(ApiTokens::Name, 100))
                    .col(string_len(ApiTokens::Scope, 16))
                    .col(string_len_uniq(ApiTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdempotentRequests::Table)
                    .col(big_pk_auto(IdempotentRequests::Id))
                    .col(big_integer(IdempotentRequests::TokenId))
                    .col(string_len(IdempotentRequests::Key, 255))
                    .col(string_len(IdempotentRequests::Fingerprint, 64))
                    .col(integer(IdempotentRequests::Status))
                    .col(text(IdempotentRequests::Body))
                    .col(timestamp_with_time_zone(IdempotentRequests::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdempotentRequests::Table, IdempotentRequests::TokenId)
                            .to(ApiTokens::Table, ApiTokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotent_requests_token_key")
                    .table(IdempotentRequests::Table)
                    .col(IdempotentRequests::TokenId)
                    .col(IdempotentRequests::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotent_requests_created_at")
                    .table(IdempotentRequests::Table)
                    .col(IdempotentRequests::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(IdempotentRequests::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ApiTokens::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Scope,
    TokenHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IdempotentRequests {
    Table,
    Id,
    TokenId,
    Key,
    Fingerprint,
    Status,
    Body,
    CreatedAt,
}
