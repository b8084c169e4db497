//! A webinar becomes the page and its copy; a **session** is one occurrence
//! of it, with its own start, duration, join link, seats, status and
//! schedule version. Every existing webinar becomes one session (with the
//! webinar's own schedule), and every registration, email job, queued job
//! and count moves onto it: nothing is lost and nothing is sent again.
//!
//! A registration's emails now belong to the session they are about, so the
//! job table's unique (registration, kind, version) index goes: a registrant
//! who switches to another session gets that session's confirmation too.
//! What keeps one email per registrant, kind and change instead is the
//! writers' own check inside their transaction (the session's row is locked).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const WEBINAR_SESSIONS: &str = "idx_sessions_webinar_starts_at";
const UPCOMING: &str = "idx_sessions_status_starts_at";
const REGISTRATION_SESSION: &str = "idx_registrations_session";
const JOB_REGISTRATION: &str = "idx_email_jobs_registration_session_kind";
const JOB_SESSION: &str = "idx_email_jobs_session_kind";
const QUEUE_SESSION: &str = "idx_email_queue_session_kind";
const COUNT_WEBINAR: &str = "idx_session_counts_webinar";
/// The indexes this migration replaces.
const UNIQUE_JOB: &str = "uq_email_jobs_registration_kind_version";
const WEBINAR_STARTS: &str = "idx_webinars_status_starts_at";
/// The webinar columns that are a session's now.
const MOVED_COLUMNS: [&str; 5] = ["starts_at", "duration_minutes", "join_url", "capacity", "schedule_version"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(big_pk_auto(Sessions::Id))
                    .col(big_integer(Sessions::WebinarId))
                    .col(timestamp_with_time_zone(Sessions::StartsAt))
                    .col(integer(Sessions::DurationMinutes))
                    .col(string_len(Sessions::JoinUrl, 500))
                    .col(integer_null(Sessions::Capacity))
                    .col(string_len(Sessions::Status, 16))
                    .col(integer(Sessions::ScheduleVersion).default(0))
                    .col(string_len(Sessions::CalendarUid, 80))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::WebinarId)
                            .to(Webinars::Table, Webinars::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (WEBINAR_SESSIONS, [Sessions::WebinarId, Sessions::StartsAt]),
            (UPCOMING, [Sessions::Status, Sessions::StartsAt]),
        ] {
            let [first, second] = columns;
            manager
                .create_index(Index::create().name(name).table(Sessions::Table).col(first).col(second).to_owned())
                .await?;
        }
        let db = manager.get_connection();
        // The calendar UID stays the one the webinar's `.ics` had, so the
        // events already in registrants' calendars keep updating.
        db.execute_unprepared(
            "INSERT INTO sessions (webinar_id, starts_at, duration_minutes, join_url, capacity, status, \
                schedule_version, calendar_uid, created_at, updated_at) \
             SELECT id, starts_at, duration_minutes, join_url, capacity, \
                CASE status WHEN 'cancelled' THEN 'cancelled' ELSE 'scheduled' END, \
                schedule_version, 'webinar-' || CAST(id AS TEXT), created_at, updated_at FROM webinars",
        )
        .await?;
        let the_webinars_session = "(SELECT sessions.id FROM sessions WHERE sessions.webinar_id = {table}.webinar_id)";
        for table in ["registrations", "email_jobs", "email_queue"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(big_integer(Alias::new("session_id")).default(0))
                        .to_owned(),
                )
                .await?;
            let session = the_webinars_session.replace("{table}", table);
            db.execute_unprepared(&format!("UPDATE {table} SET session_id = {session}")).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(REGISTRATION_SESSION)
                    .table(Registrations::Table)
                    .col(Registrations::SessionId)
                    .to_owned(),
            )
            .await?;
        manager.drop_index(Index::drop().name(UNIQUE_JOB).table(EmailJobs::Table).to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name(JOB_REGISTRATION)
                    .table(EmailJobs::Table)
                    .col(EmailJobs::RegistrationId)
                    .col(EmailJobs::SessionId)
                    .col(EmailJobs::Kind)
                    .col(EmailJobs::ScheduleVersion)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(JOB_SESSION)
                    .table(EmailJobs::Table)
                    .col(EmailJobs::SessionId)
                    .col(EmailJobs::Kind)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(QUEUE_SESSION)
                    .table(EmailQueue::Table)
                    .col(EmailQueue::SessionId)
                    .col(EmailQueue::Kind)
                    .to_owned(),
            )
            .await?;

        // Counts per session; a webinar's is the sum of its sessions'.
        manager
            .create_table(
                Table::create()
                    .table(SessionCounts::Table)
                    .col(big_integer(SessionCounts::SessionId))
                    .col(integer(SessionCounts::Shard))
                    .col(big_integer(SessionCounts::WebinarId))
                    .col(big_integer(SessionCounts::Registrations).default(0))
                    .primary_key(Index::create().col(SessionCounts::SessionId).col(SessionCounts::Shard))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SessionCounts::Table, SessionCounts::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(COUNT_WEBINAR)
                    .table(SessionCounts::Table)
                    .col(SessionCounts::WebinarId)
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "INSERT INTO session_counts (session_id, shard, webinar_id, registrations) \
             SELECT sessions.id, registration_counts.shard, registration_counts.webinar_id, registration_counts.registrations \
             FROM registration_counts JOIN sessions ON sessions.webinar_id = registration_counts.webinar_id",
        )
        .await?;
        manager.drop_table(Table::drop().table(Alias::new("registration_counts")).to_owned()).await?;

        manager.drop_index(Index::drop().name(WEBINAR_STARTS).table(Webinars::Table).to_owned()).await?;
        for column in MOVED_COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE webinars DROP COLUMN {column}")).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // A webinar with several sessions has no one schedule to go back to.
        Err(DbErr::Migration("sessions cannot be folded back into their webinars".into()))
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    WebinarId,
    StartsAt,
    DurationMinutes,
    JoinUrl,
    Capacity,
    Status,
    ScheduleVersion,
    CalendarUid,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SessionCounts {
    Table,
    SessionId,
    Shard,
    WebinarId,
    Registrations,
}

#[derive(DeriveIden)]
enum Webinars {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Registrations {
    Table,
    SessionId,
}

#[derive(DeriveIden)]
enum EmailJobs {
    Table,
    RegistrationId,
    SessionId,
    Kind,
    ScheduleVersion,
}

#[derive(DeriveIden)]
enum EmailQueue {
    Table,
    SessionId,
    Kind,
}
