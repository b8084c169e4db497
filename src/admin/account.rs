//! Marketing accounts that may use the admin pages.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admins")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// [`EmailAddress::key`](crate::EmailAddress::key): one account per address, any case.
    #[sea_orm(unique)]
    pub email: String,
    /// Argon2id, in PHC string form.
    pub password_hash: String,
    pub created_at: DateTimeUtc,
}

/// Sessions name their account; an account names nothing.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
