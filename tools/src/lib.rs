//! What the tests and the benchmarks share that is not the product: a local
//! stand-in for SendGrid ([`sendgrid_mock`]).
pub mod sendgrid_mock;
