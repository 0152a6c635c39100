//! actix-session's `SessionStore` over our database (`domain::accounts::sessions`): the cookie holds a
//! random key, the state lives in the `sessions` table.
//!
//! A page view that changes nothing writes nothing: the middleware writes only when the state
//! changed (sign-in, a new CSRF token, a flash message). Reading a session notes "seen now" in
//! memory; a background task writes those times every [`FLUSH_EVERY`], so no request waits for
//! the SQLite writer's turn to say it was here. The idle timeout is checked against the later of
//! the stored and the noted time, so in this process it is exact, and another process sharing
//! the PostgreSQL sees activity within [`FLUSH_EVERY`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use base64::Engine;
use chrono::NaiveDateTime;
use rand::RngCore;

use crate::db::Database;
use crate::domain::accounts::sessions::{self, Timeouts};
use crate::domain::now;
use crate::error::AppError;

/// How often noted last-seen times are written, and expired sessions deleted.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(120);

/// The database session store (cheap to clone: every worker gets one).
#[derive(Clone)]
pub struct DbSessionStore {
    db: Database,
    timeouts: Timeouts,
    /// Last-seen times noted since the last flush, by session row.
    seen: Arc<Mutex<HashMap<i64, NaiveDateTime>>>,
}

fn other(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("session store: {e}")
}

fn new_key() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl DbSessionStore {
    pub fn new(db: Database, timeouts: Timeouts) -> Self {
        DbSessionStore {
            db,
            timeouts,
            seen: Default::default(),
        }
    }

    fn noted(&self, id: i64) -> Option<NaiveDateTime> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .copied()
    }

    fn note(&self, id: i64, at: NaiveDateTime) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).insert(id, at);
    }

    /// Writes the noted last-seen times and deletes expired sessions.
    pub async fn flush(&self) -> Result<(), AppError> {
        let seen: Vec<(i64, NaiveDateTime)> =
            std::mem::take(&mut *self.seen.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        let timeouts = self.timeouts;
        let slack = chrono::Duration::from_std(FLUSH_EVERY * 2).unwrap_or(chrono::Duration::minutes(4));
        self.db
            .run(move |c| {
                sessions::touch(c, &seen)?;
                sessions::prune(c, &timeouts, slack, now())
            })
            .await
            .map(|_| ())
    }

    /// Flushes every [`FLUSH_EVERY`] for as long as the runtime runs.
    pub fn spawn_flusher(&self) {
        let me = self.clone();
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = me.flush().await {
                    tracing::warn!(error = %e, "could not write session last-seen times");
                }
            }
        });
    }
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        let k = key.as_ref().to_string();
        let stored = self
            .db
            .read(move |c| sessions::load(c, &k))
            .await
            .map_err(|e| LoadError::Other(other(e)))?;
        let Some(s) = stored else { return Ok(None) };
        let at = now();
        let seen = self.noted(s.id).map_or(s.last_seen_at, |n| n.max(s.last_seen_at));
        if self.timeouts.expired(s.created_at, seen, at) {
            return Ok(None);
        }
        self.note(s.id, at);
        Ok(Some(s.state))
    }

    async fn save(
        &self,
        state: HashMap<String, String>,
        _ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        let key = new_key();
        let k = key.clone();
        self.db
            .run(move |c| sessions::insert(c, &k, &state, now()))
            .await
            .map_err(|e| SaveError::Other(other(e)))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(anyhow::anyhow!(e.to_string())))
    }

    async fn update(
        &self,
        key: SessionKey,
        state: HashMap<String, String>,
        _ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let k = key.as_ref().to_string();
        // A session ended meanwhile stays ended: its cookie now names nothing.
        self.db
            .run(move |c| sessions::update(c, &k, &state, now()))
            .await
            .map_err(|e| UpdateError::Other(other(e)))?;
        Ok(key)
    }

    async fn update_ttl(&self, _key: &SessionKey, _ttl: &CookieDuration) -> Result<(), anyhow::Error> {
        // Activity is noted by `load`; the timeouts are the server's, not the cookie's.
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let k = key.as_ref().to_string();
        self.db.run(move |c| sessions::delete(c, &k)).await.map_err(other)
    }
}
