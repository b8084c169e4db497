//! The email queue: every email job's state, and the only code that changes
//! it. Three tables hold a job: `email_jobs` (the job, its state and attempts:
//! [`job`]), `email_queue` (one row per pending job, what a claim reads:
//! [`pending`]) and `leases` (a worker's claim on a set of jobs: [`lease`]).
//! The leases and the retry policy are the queue's for every durable side
//! effect: webhook deliveries are the `webhook` channel's jobs
//! ([`crate::webhook::delivery`]), claimed, leased, rescued and retried the
//! same way. Only this module's files write them, and each write of a
//! job's state changes its queue row in the same transaction, so the queue
//! holds exactly the pending jobs.
//!
//! ```text
//! pending ──claim──▶ leased ──outcome──▶ sent | pending (retry) | dead | cancelled
//!
//! from     what moves it (who)                                   to
//! —        create_pending, queue_for_registrants (registration,  pending
//!          schedule change: in the caller's transaction)
//! pending  claim_due (a worker; the lease names it)              leased
//! pending  move_pending (reschedule)                             pending
//! pending  cancel_pending_for_* (unsubscribe, schedule change)   cancelled
//! pending  suppress_pending (the provider reported the address)  suppressed
//! leased   mark_sent (the worker: the provider took it)          sent
//! leased   mark_failed with a retry time (the worker)            pending
//! leased   mark_failed without one: no attempts left             dead
//! leased   mark_set_aside (the worker: it no longer applies, or   cancelled | suppressed
//!          its address is suppressed)
//! leased   rescue_expired (any worker, once the lease ran out)   pending; dead on the last attempt
//! dead     retry_dead (an admin)                                 pending, with fresh attempts
//! ```
//!
//! "Leased" is not a column: the job stays `pending` (and queued) while a
//! live lease names it, out of other claims' reach. A leased job cancelled
//! meanwhile stays cancelled: outcomes only change pending jobs (a send the
//! provider took is recorded as sent, because it was). Sent, cancelled and
//! suppressed are final.
mod cancel;
mod claim;
mod enqueue;
pub mod job;
pub mod lease;
mod outcome;
pub mod pending;
mod rescue;
pub mod retry;
mod revive;

pub use cancel::{cancel_pending_for_registration, cancel_pending_for_session, move_pending, suppress_pending};
pub use claim::{Claim, claim_due};
pub use enqueue::{Notice, create_pending, postgres_ctes, queue_for_registrants};
pub use job::{
    Kind, SessionCount, Status, counts_by_webinar_and_status, counts_for_webinar, dead_for_webinar, for_registration,
};
pub use lease::Held;
pub use outcome::{SetAside, mark_failed, mark_sent, mark_set_aside};
pub use pending::{QueueLag, lag};
pub use rescue::rescue_expired;
pub use retry::{AfterFailure, RetryPolicy};
pub use revive::retry_dead;
