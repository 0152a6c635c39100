//! Database access: one connection type over SQLite and PostgreSQL (picked from the URL
//! scheme at start), an r2d2 pool, and the embedded migrations of each backend.

pub mod models;
pub mod schema;
mod sqlite_plans;
pub mod statements;
pub mod text;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::{MultiConnection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::AppError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Runs `$body` with `$c` bound to the backend's own connection (`SqliteConnection` or
/// `PgConnection`), for the statements an import runs hundreds of thousands of times.
/// Through [`DbConn`] itself, diesel's `MultiConnection` writes a query's SQL text again on every
/// execution, even when the prepared statement is cached (about a sixth of an order import);
/// on the backend's connection a cached statement is found by its type alone.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// One connection to whichever backend the portal runs on.
#[derive(MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager<DbConn>>;
pub type PooledConn = diesel::r2d2::PooledConnection<ConnectionManager<DbConn>>;

/// The backend named by a database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, AppError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite://") || url.starts_with("file:") || !url.contains("://") {
            Ok(Backend::Sqlite)
        } else {
            Err(AppError::Config(format!(
                "DATABASE_URL must start with postgres:// or be a SQLite file path, got scheme of {}",
                url.split("://").next().unwrap_or_default()
            )))
        }
    }

    /// The name shown by `/healthz` and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The pool plus which backend it talks to.
///
/// On SQLite, work submitted through [`Database::run`] is serialised by one in-process lock:
/// SQLite allows one writer, and a deferred transaction that turns into a writer while another
/// writer holds the database fails at once with "database is locked" instead of waiting for
/// `busy_timeout`. Taking turns in the process avoids that (SQLite serves one process, see
/// design.md); [`Database::read`] skips the lock for read-only work, which WAL lets run beside
/// a writer. PostgreSQL has no such lock.
#[derive(Clone)]
pub struct Database {
    pub pool: DbPool,
    pub backend: Backend,
    sqlite_turn: std::sync::Arc<std::sync::Mutex<()>>,
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                 PRAGMA cache_size = -32768; PRAGMA mmap_size = 67108864; PRAGMA temp_store = MEMORY; \
                 PRAGMA wal_autocheckpoint = 32000;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

impl Database {
    /// Opens a pool on `url` (a `postgres://` URL or a SQLite file path / `sqlite://` URL).
    /// Connections are checked when the pool is built, so a bad URL fails here with a clear error.
    pub fn connect(url: &str, max_size: u32) -> Result<Self, AppError> {
        Self::build(url, max_size, true)
    }

    /// Like [`Database::connect`] but opens no connection until one is asked for
    /// (used for health checks against a database that may be down).
    pub fn connect_lazy(url: &str, max_size: u32) -> Result<Self, AppError> {
        Self::build(url, max_size, false)
    }

    fn build(url: &str, max_size: u32, eager: bool) -> Result<Self, AppError> {
        let backend = Backend::from_url(url)?;
        let conn_url = match backend {
            Backend::Sqlite => url.trim_start_matches("sqlite://").to_string(),
            Backend::Postgres => url.to_string(),
        };
        if backend == Backend::Sqlite {
            sqlite_plans::install();
            if let Some(parent) = std::path::Path::new(&conn_url).parent() {
                if !parent.as_os_str().is_empty() && !conn_url.starts_with("file:") {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| AppError::Config(format!("cannot create {}: {e}", parent.display())))?;
                }
            }
            if !conn_url.starts_with("file:") && conn_url != ":memory:" && !conn_url.is_empty() {
                // The database holds customer PII and password hashes: 0600, and SQLite
                // creates its WAL and SHM with the database file's mode.
                let file = std::path::Path::new(&conn_url);
                crate::private_files::create_if_missing(file)?;
                for f in crate::private_files::sqlite_files(file) {
                    crate::private_files::tighten(&f)?;
                }
            }
        }
        let manager = ConnectionManager::<DbConn>::new(conn_url);
        let builder = Pool::builder()
            .max_size(max_size)
            .min_idle(Some(if eager { 1 } else { 0 }))
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(SqlitePragmas));
        let pool = if eager {
            builder
                .build(manager)
                .map_err(|e| AppError::Config(format!("cannot open the {} database: {e}", backend.name())))?
        } else {
            builder.build_unchecked(manager)
        };
        Ok(Database {
            pool,
            backend,
            sqlite_turn: Default::default(),
        })
    }

    /// Applies every pending embedded migration of this backend; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, AppError> {
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| AppError::Internal(format!("database migration failed: {e}")))?;
        Ok(applied.into_iter().map(|v| v.to_string()).collect())
    }

    /// A pooled connection (blocking: call from `web::block` or a blocking thread).
    pub fn conn(&self) -> Result<PooledConn, AppError> {
        self.pool
            .get()
            .map_err(|e| AppError::Unavailable(format!("database unavailable: {e}")))
    }

    /// Runs `f` (which may write) with a connection on the blocking thread pool, off the
    /// async workers; on SQLite it takes its turn with the other writers.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let turn = (self.backend == Backend::Sqlite).then(|| self.sqlite_turn.clone());
        self.blocking(move |conn| {
            let _guard = turn.as_ref().map(|t| t.lock().unwrap_or_else(|p| p.into_inner()));
            f(conn)
        })
        .await
    }

    /// Runs read-only `f` off the async workers without waiting for SQLite writers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.blocking(f).await
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool
                .get()
                .map_err(|e| AppError::Unavailable(format!("database unavailable: {e}")))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?
    }

    /// `SELECT 1` with a short timeout, for `/healthz`.
    pub fn ping(&self) -> Result<(), AppError> {
        let mut conn = self
            .pool
            .get_timeout(Duration::from_secs(2))
            .map_err(|e| AppError::Unavailable(format!("database unavailable: {e}")))?;
        conn.batch_execute("SELECT 1")
            .map_err(|e| AppError::Unavailable(format!("database unavailable: {e}")))
    }
}
