//! What an email is: the kinds the product sends. A leaf: the queue, the
//! reminder schedule and the templates all name kinds, and a kind names
//! nothing.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[sea_orm(string_value = "confirmation")]
    Confirmation,
    #[sea_orm(string_value = "reminder_24h")]
    Reminder24h,
    #[sea_orm(string_value = "reminder_3h")]
    Reminder3h,
    #[sea_orm(string_value = "reminder_15m")]
    Reminder15m,
    #[sea_orm(string_value = "time_changed")]
    TimeChanged,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}
