//! What the product sends, apart from sending it: the kinds, the reminder
//! schedule, rendering with its templates, marketing's custom copy, signed
//! registrant links, the calendar attachment and Markdown.
pub mod calendar;
pub mod copy;
pub mod kind;
pub mod links;
pub mod markdown;
pub mod render;
pub mod schedule;

pub use kind::Kind;
pub use links::Links;
pub use render::{CustomCopy, Emails, WebinarLinks};
