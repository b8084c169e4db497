//! What the tests and the benchmarks share that is not the product: a local
//! stand-in for SendGrid ([`sendgrid_mock`]), a signer of SendGrid's event
//! batches ([`event_signer`]), and a webhook endpoint ([`webhook_receiver`]).
pub mod event_signer;
pub mod sendgrid_mock;
pub mod webhook_receiver;
