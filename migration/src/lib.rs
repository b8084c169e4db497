//! Schema migrations, shared by SQLite and Postgres.
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_tables;
mod m20261125_000002_admins;
mod m20261125_000003_page_and_email_copy;
mod m20261130_000004_registration_counts;
mod m20261130_000005_queue_indexes;
mod m20261201_000006_email_leases;
mod m20261201_000007_email_queue;
mod m20261202_000008_secrets;
mod m20261202_000009_api_tokens;
mod m20261202_000010_email_events;
mod m20261203_000011_webhooks;
mod m20261204_000012_sessions;
mod m20261205_000013_fewer_session_job_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_tables::Migration),
            Box::new(m20261125_000002_admins::Migration),
            Box::new(m20261125_000003_page_and_email_copy::Migration),
            Box::new(m20261130_000004_registration_counts::Migration),
            Box::new(m20261130_000005_queue_indexes::Migration),
            Box::new(m20261201_000006_email_leases::Migration),
            Box::new(m20261201_000007_email_queue::Migration),
            Box::new(m20261202_000008_secrets::Migration),
            Box::new(m20261202_000009_api_tokens::Migration),
            Box::new(m20261202_000010_email_events::Migration),
            Box::new(m20261203_000011_webhooks::Migration),
            Box::new(m20261204_000012_sessions::Migration),
            Box::new(m20261205_000013_fewer_session_job_indexes::Migration),
        ]
    }
}
