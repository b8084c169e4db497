//! Webhooks: events sent to the endpoints marketing wires up (a CRM, an
//! automation), signed by the Standard Webhooks scheme and delivered at least
//! once. The endpoints and what they want ([`endpoint`], [`subscription`]);
//! the events, written in the transaction of the change that caused them
//! ([`event`], [`event_type`]); their deliveries, jobs of the queue's
//! `webhook` channel, and the log of each attempt ([`delivery`],
//! [`attempt`]); and where they may go ([`address`]). The worker that sends
//! them is [`crate::webhook_sender`].
pub mod address;
pub mod attempt;
pub mod delivery;
pub mod endpoint;
pub mod event;
pub mod event_type;
pub mod subscription;

pub use event::Announcement;
pub use event_type::EventType;
