//! What the tests and the benchmarks share that is not the product: a local
//! stand-in for SendGrid ([`sendgrid_mock`]), and a signer of SendGrid's
//! event batches ([`event_signer`]).
pub mod event_signer;
pub mod sendgrid_mock;
