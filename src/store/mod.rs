//! Connecting to SQLite (the embedded default) or Postgres, migrating, and the
//! query pieces whose SQL differs between the two.
pub mod secrets;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, IntoColumnRef};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/webinar.db?mode=rwc";

/// Opens a pool and brings the schema up to date.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    if let Some(dir) = sqlite_file(url).and_then(|path| std::path::Path::new(path).parent())
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|err| DbErr::Custom(format!("creating {}: {err}", dir.display())))?;
    }
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        // Kept open: a reminder burst after a quiet spell (idle connections
        // close after 10 minutes) otherwise waited ~90 ms for each new one.
        .min_connections(max_connections)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        // WAL lets readers run beside the one writer; NORMAL is durable in WAL mode
        // except for the last commits on power loss, never corrupt.
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    let db = Database::connect(options).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Starts a transaction that reads before it writes. On SQLite it takes the
/// write lock at once (`BEGIN IMMEDIATE`, waiting up to the busy timeout): a
/// deferred one fails at its first write with "database is locked" when
/// another connection (the email worker, say) wrote since it began reading.
/// Postgres ignores the option.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(options).await
}

/// `column IN (ids…)` as a statement whose text is the same however many ids
/// there are: the ids travel as one parameter (an array on Postgres, a JSON
/// array on SQLite). With a placeholder per id, every batch size the worker
/// met was a new prepared statement, and each pooled connection's statement
/// cache grew with them.
pub fn is_one_of(backend: DatabaseBackend, column: impl IntoColumnRef, ids: impl IntoIterator<Item = i64>) -> Expr {
    let ids: Vec<i64> = ids.into_iter().collect();
    match backend {
        // A semi-join with the unnested array, not `= ANY($2)`: with `= ANY`
        // Postgres scanned the whole table for 1,000 ids whenever its estimates
        // favoured that (a young or small table); the join looks each id up.
        DatabaseBackend::Postgres => {
            Expr::cust_with_exprs("$1 IN (SELECT unnest($2))", [Expr::col(column), Expr::val(ids)])
        }
        _ => Expr::cust_with_exprs(
            "? IN (SELECT value FROM json_each(?))",
            [Expr::col(column), Expr::val(json_list(&ids))],
        ),
    }
}

/// Ids as a JSON array (`[1,2,3]`), the form SQLite's `json_each` and a
/// lease's `job_ids` read.
pub fn json_list(ids: &[i64]) -> String {
    serde_json::Value::from(ids).to_string()
}

/// Migrations this binary knows that the database has not applied (another
/// instance may be newer or older than the schema it talks to).
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<usize, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.len())
}

/// The file path of an SQLite URL (`sqlite://data/x.db?mode=rwc` → `data/x.db`).
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (path != ":memory:" && !path.is_empty()).then_some(path)
}

/// Whether `error` says the database cannot be reached or cannot answer
/// now (503, try again), rather than a fault on our side (500): no
/// connection, a broken one, a pool that timed out; Postgres's connection
/// and shutdown states, too many clients, a conflict to retry; SQLite busy
/// or locked.
pub fn is_unreachable(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error;
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) = error else {
        return matches!(error, DbErr::ConnectionAcquire(_) | DbErr::Conn(_));
    };
    match error.as_ref() {
        Error::Io(_) | Error::Tls(_) | Error::Protocol(_) | Error::PoolTimedOut | Error::PoolClosed => true,
        Error::WorkerCrashed => true,
        Error::Database(answer) => {
            let code = answer.code().unwrap_or_default();
            if answer.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() {
                // 5 busy, 6 locked, and their extended codes (the same low byte).
                return code.parse::<u32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6));
            }
            // Postgres: 08 connection exception, 57P0x shutting down or starting,
            // 53300 too many clients, 40001/40P01 a conflict to retry.
            code.starts_with("08") || code.starts_with("57P0") || matches!(&*code, "53300" | "40001" | "40P01")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{is_one_of, json_list, sqlite_file};
    use crate::queue::job;
    use sea_orm::{DatabaseBackend, EntityTrait, QueryFilter, QueryTrait};

    #[test]
    fn finds_the_sqlite_file_in_a_url() {
        assert_eq!(sqlite_file("sqlite://data/webinar.db?mode=rwc"), Some("data/webinar.db"));
        assert_eq!(sqlite_file("sqlite:/tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://root@127.0.0.1/test"), None);
    }

    #[test]
    fn only_a_database_out_of_reach_is_unreachable() {
        use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};
        use std::sync::Arc;
        let sqlx = |error: sea_orm::sqlx::Error| DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)));
        assert!(super::is_unreachable(&DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)));
        assert!(super::is_unreachable(&sqlx(sea_orm::sqlx::Error::PoolTimedOut)));
        assert!(super::is_unreachable(&sqlx(sea_orm::sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()))));
        assert!(!super::is_unreachable(&DbErr::Custom("the registration writer stopped".into())));
        assert!(!super::is_unreachable(&DbErr::RecordNotFound("a row we just wrote".into())));
        assert!(!super::is_unreachable(&DbErr::Json("not a list".into())));
        assert!(!super::is_unreachable(&sqlx(sea_orm::sqlx::Error::RowNotFound)));
    }

    #[test]
    fn id_lists_are_compact_json_arrays() {
        // Postgres reads a lease's list as an array literal by trading `[]` for `{}`.
        assert_eq!(json_list(&[1, 22, -3]), "[1,22,-3]");
        assert_eq!(json_list(&[]), "[]");
    }

    #[test]
    fn an_id_list_is_one_parameter_whatever_its_length() {
        for backend in [DatabaseBackend::Postgres, DatabaseBackend::Sqlite] {
            let statement = |ids: &[i64]| {
                job::Entity::find().filter(is_one_of(backend, job::Column::Id, ids.iter().copied())).build(backend)
            };
            let (two, five) = (statement(&[1, 2]), statement(&[1, 2, 3, 4, 5]));
            assert_eq!(two.sql, five.sql, "{backend:?}");
            assert_eq!(five.values.map(|values| values.0.len()), Some(1), "{backend:?}");
        }
    }
}
