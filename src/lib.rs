//! The webinar domain: webinars, registrations, their email jobs and the
//! reminder schedule. No web framework here: `app/` and `server/` call into
//! [`Service`], which owns the database connection and the injected clock.

pub mod admin;
pub mod calendar;
pub mod clock;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod editor;
pub mod email_address;
pub mod email_copy;
pub mod email_job;
pub mod email_lease;
pub mod email_queue;
pub mod emails;
pub mod error;
pub mod export;
pub mod icp_variant;
pub mod links;
pub mod live;
pub mod markdown;
pub mod registration;
pub mod registration_count;
pub mod registration_writer;
pub mod reminders;
pub mod retry;
pub mod schedule;
pub mod secrets;
pub mod service;
pub mod testing;
pub mod webinar;
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use email_address::EmailAddress;
pub use error::{ClosedReason, DomainError, FieldError};
pub use live::CountPublisher;
pub use registration::{RegistrationOutcome, RegistrationRequest};
/// For callers without SeaORM of their own: `to_value()` on the domain's enums.
pub use sea_orm::ActiveEnum;
pub use service::{Landing, Service, Stats};
