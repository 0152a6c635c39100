//! Server-side sessions: the rows behind the session cookie (which holds only a random key,
//! stored here as its SHA-256). A session ends for every copy of its cookie when its row goes:
//! on sign-out, when its user is disabled, when its user ends it from the Account page, or
//! when it is idle or old past the configured timeouts.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::sessions;
use crate::db::DbConn;
use crate::error::AppError;

/// How long a session may be idle, and how long it may live at all.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Timeouts {
    /// True when a session created at `created` and last seen at `seen` is over at `now`.
    pub fn expired(&self, created: NaiveDateTime, seen: NaiveDateTime, now: NaiveDateTime) -> bool {
        now - seen >= self.idle || now - created >= self.absolute
    }
}

/// One session as its user sees it on the Account page.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i64,
    pub handle: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

/// What the session store keeps of a session.
pub struct Stored {
    pub id: i64,
    pub state: HashMap<String, String>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

/// The stored form of a cookie's key.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The session state's key of the signed-in user's id.
pub const USER_KEY: &str = "uid";
/// The session state's key of the session's handle.
pub const HANDLE_KEY: &str = "sid";

/// The state's signed-in user and session handle (values are JSON, as actix-session keeps them).
fn owner(state: &HashMap<String, String>) -> (Option<i64>, String) {
    let user = state.get(USER_KEY).and_then(|v| v.parse().ok());
    let handle = state
        .get(HANDLE_KEY)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
        .unwrap_or_default();
    (user, handle)
}

fn encode(state: &HashMap<String, String>) -> Result<String, AppError> {
    serde_json::to_string(state).map_err(|e| AppError::Internal(format!("session state: {e}")))
}

pub fn load(conn: &mut DbConn, key: &str) -> Result<Option<Stored>, AppError> {
    let row: Option<(i64, String, NaiveDateTime, NaiveDateTime)> = sessions::table
        .filter(sessions::key_hash.eq(key_hash(key)))
        .select((
            sessions::id,
            sessions::state,
            sessions::created_at,
            sessions::last_seen_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(id, state, created_at, last_seen_at)| {
        // A row that cannot be read is no session.
        serde_json::from_str(&state).ok().map(|state| Stored {
            id,
            state,
            created_at,
            last_seen_at,
        })
    }))
}

pub fn insert(
    conn: &mut DbConn,
    key: &str,
    state: &HashMap<String, String>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let (user, handle) = owner(state);
    diesel::insert_into(sessions::table)
        .values((
            sessions::key_hash.eq(key_hash(key)),
            sessions::handle.eq(handle),
            sessions::user_id.eq(user),
            sessions::state.eq(encode(state)?),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes a changed state; false when the session is gone (it is not brought back).
pub fn update(
    conn: &mut DbConn,
    key: &str,
    state: &HashMap<String, String>,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let (user, handle) = owner(state);
    let n = diesel::update(sessions::table.filter(sessions::key_hash.eq(key_hash(key))))
        .set((
            sessions::handle.eq(handle),
            sessions::user_id.eq(user),
            sessions::state.eq(encode(state)?),
            sessions::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

pub fn delete(conn: &mut DbConn, key: &str) -> Result<(), AppError> {
    diesel::delete(sessions::table.filter(sessions::key_hash.eq(key_hash(key)))).execute(conn)?;
    Ok(())
}

/// Ends every session of `user_id` (disabling a user).
pub fn end_all_of(conn: &mut DbConn, user_id: i64) -> Result<usize, AppError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}

/// Ends one session of `user_id` other than the one named `keep_handle`; false when there is none.
pub fn end_other(conn: &mut DbConn, user_id: i64, id: i64, keep_handle: &str) -> Result<bool, AppError> {
    let n = diesel::delete(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::handle.ne(keep_handle)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// The live sessions of `user_id`, most recently seen first.
pub fn list_of(
    conn: &mut DbConn,
    user_id: i64,
    timeouts: &Timeouts,
    now: NaiveDateTime,
) -> Result<Vec<SessionRow>, AppError> {
    let rows: Vec<SessionRow> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .select(SessionRow::as_select())
        .order(sessions::last_seen_at.desc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| !timeouts.expired(r.created_at, r.last_seen_at, now))
        .collect())
}

/// Writes buffered last-seen times (never moving one back).
pub fn touch(conn: &mut DbConn, seen: &[(i64, NaiveDateTime)]) -> Result<(), AppError> {
    conn.transaction(|conn| {
        for (id, at) in seen {
            diesel::update(
                sessions::table
                    .filter(sessions::id.eq(id))
                    .filter(sessions::last_seen_at.lt(at)),
            )
            .set(sessions::last_seen_at.eq(at))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// Deletes sessions past their timeouts (with `slack` for last-seen times not written yet).
pub fn prune(
    conn: &mut DbConn,
    timeouts: &Timeouts,
    slack: Duration,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    Ok(diesel::delete(
        sessions::table.filter(
            sessions::last_seen_at
                .lt(now - timeouts.idle - slack)
                .or(sessions::created_at.lt(now - timeouts.absolute)),
        ),
    )
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute_timeouts() {
        let t = Timeouts {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        };
        let start = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        assert!(!t.expired(start, start, start + Duration::minutes(29)));
        assert!(t.expired(start, start, start + Duration::minutes(30)));
        let seen = start + Duration::hours(11) + Duration::minutes(50);
        assert!(!t.expired(start, seen, seen + Duration::minutes(5)));
        assert!(
            t.expired(start, seen, start + Duration::hours(12)),
            "however active"
        );
        assert_ne!(key_hash("a"), key_hash("b"));
        assert_eq!(key_hash("a").len(), 64);
    }
}
