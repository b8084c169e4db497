//! The webinar domain: webinars, registrations, their email jobs and the
//! reminder schedule. No web framework here: `app/` and `server/` call into
//! [`Service`], which owns the database connection and the injected clock.
//! ARCHITECTURE.md draws the module map and which way its dependencies point.

pub mod admin;
pub mod announce;
pub mod api;
pub mod clock;
pub mod deliverability;
pub mod delivery;
pub mod email;
pub mod email_address;
pub mod error;
pub mod field;
pub mod queue;
pub mod registration;
pub mod resource;
pub mod service;
pub mod session;
pub mod store;
pub mod webhook;
pub mod webhook_sender;
pub mod webinar;
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use email_address::EmailAddress;
pub use error::{ClosedReason, DomainError, FieldError};
pub use registration::live::{CountPublisher, LiveCount};
pub use registration::{RegistrationOutcome, RegistrationRequest};
/// For callers without SeaORM of their own: `to_value()` on the domain's enums.
pub use sea_orm::ActiveEnum;
pub use service::{Landing, Service, Stats};
