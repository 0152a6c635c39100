//! Login throttling: 5 failures per account or per IP within 15 minutes block further
//! attempts until the oldest of them is 15 minutes old. Kept in the database so that
//! every portal process behind a load balancer sees the same count.
//!
//! An attempt is reserved before its password is verified ([`reserve`]: the check and a
//! failure row in one transaction that holds the write lock), and released when the password
//! was right ([`release`]). So concurrent guesses count against the limit while argon2 runs
//! and at most [`MAX_FAILURES`] are ever evaluated, in one process or many.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::DbConn;
use crate::error::AppError;

pub const MAX_FAILURES: i64 = 5;
pub const WINDOW_MINUTES: i64 = 15;

fn window_start(now: NaiveDateTime) -> NaiveDateTime {
    now - Duration::minutes(WINDOW_MINUTES)
}

/// When `recent` (the latest failures in the window, newest first) block: until the
/// [`MAX_FAILURES`]th most recent leaves the window.
fn blocked_until(recent: &[NaiveDateTime], now: NaiveDateTime) -> Option<NaiveDateTime> {
    (recent.len() as i64 >= MAX_FAILURES).then(|| {
        let oldest = recent.last().copied().unwrap_or(now);
        oldest + Duration::minutes(WINDOW_MINUTES)
    })
}

/// What a sign-in lock is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockOn {
    Account,
    Address,
}

impl LockOn {
    pub fn label(self) -> &'static str {
        match self {
            LockOn::Account => "Account",
            LockOn::Address => "Network address",
        }
    }

    /// The form value that names it (`account`, `address`).
    pub fn as_str(self) -> &'static str {
        match self {
            LockOn::Account => "account",
            LockOn::Address => "address",
        }
    }
}

/// An account or address that cannot sign in right now.
#[derive(Debug, Clone)]
pub struct Lock {
    pub on: LockOn,
    pub key: String,
    pub failures: i64,
    pub until: NaiveDateTime,
}

/// Every account and address blocked at `now`, the longest-locked first.
pub fn locks(conn: &mut DbConn, now: NaiveDateTime) -> Result<Vec<Lock>, AppError> {
    use diesel::dsl::count_star;
    let since = window_start(now);
    let mut out = Vec::new();
    for on in [LockOn::Account, LockOn::Address] {
        let recent = login_failures::table.filter(login_failures::at.gt(since));
        let counted: Vec<(String, i64)> = match on {
            LockOn::Account => recent
                .group_by(login_failures::email)
                .select((login_failures::email, count_star()))
                .having(count_star().ge(MAX_FAILURES))
                .load(conn)?,
            LockOn::Address => recent
                .group_by(login_failures::ip)
                .select((login_failures::ip, count_star()))
                .having(count_star().ge(MAX_FAILURES))
                .load(conn)?,
        };
        for (key, failures) in counted {
            let q = login_failures::table
                .filter(login_failures::at.gt(since))
                .into_boxed();
            let q = match on {
                LockOn::Account => q.filter(login_failures::email.eq(&key)),
                LockOn::Address => q.filter(login_failures::ip.eq(&key)),
            };
            let times: Vec<NaiveDateTime> = q
                .select(login_failures::at)
                .order(login_failures::at.desc())
                .limit(MAX_FAILURES)
                .load(conn)?;
            if let Some(until) = blocked_until(&times, now) {
                out.push(Lock {
                    on,
                    key,
                    failures,
                    until,
                });
            }
        }
    }
    out.sort_by(|a, b| b.until.cmp(&a.until));
    Ok(out)
}

/// Lifts a lock: forgets the failures of the account or address. Returns how many.
pub fn clear(conn: &mut DbConn, on: LockOn, key: &str) -> Result<usize, AppError> {
    let q = login_failures::table;
    Ok(match on {
        LockOn::Account => diesel::delete(q.filter(login_failures::email.eq(key))).execute(conn)?,
        LockOn::Address => diesel::delete(q.filter(login_failures::ip.eq(key))).execute(conn)?,
    })
}

/// Err(TooManyRequests) when the account or the IP is blocked at `now`.
pub fn check(conn: &mut DbConn, email: &str, ip: &str, now: NaiveDateTime) -> Result<(), AppError> {
    let since = window_start(now);
    for by_email in [true, false] {
        let mut q = login_failures::table
            .filter(login_failures::at.gt(since))
            .into_boxed();
        q = if by_email {
            q.filter(login_failures::email.eq(email))
        } else {
            q.filter(login_failures::ip.eq(ip))
        };
        let times: Vec<NaiveDateTime> = q
            .select(login_failures::at)
            .order(login_failures::at.desc())
            .limit(MAX_FAILURES)
            .load(conn)?;
        if let Some(until) = blocked_until(&times, now) {
            let secs = (until - now).num_seconds().max(1) as u64;
            let minutes = secs.div_ceil(60);
            let what = if by_email {
                "this account"
            } else {
                "your network address"
            };
            return Err(AppError::TooManyRequests {
                message: format!(
                    "Too many failed sign-ins for {what}. Try again in {minutes} minute{} (after {} UTC).",
                    if minutes == 1 { "" } else { "s" },
                    until.format("%H:%M:%S")
                ),
                retry_after_secs: secs,
            });
        }
    }
    Ok(())
}

/// Takes the throttle's lock: on PostgreSQL an advisory lock held to the end of the
/// transaction; on SQLite the database's write lock, taken by the first statement being a
/// write (a deferred transaction that reads first could not wait for another writer).
fn lock(conn: &mut DbConn, old: NaiveDateTime) -> Result<(), AppError> {
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('merchant_crm.login_throttle'))")
            .execute(pg)?;
    }
    diesel::delete(login_failures::table.filter(login_failures::at.lt(old))).execute(conn)?;
    Ok(())
}

/// Checks the account and the IP and, when neither is blocked, records this attempt as a
/// failure before its password is verified; gives the row to [`release`] on success.
/// Err(TooManyRequests) when blocked. Drops entries older than a day.
pub fn reserve(conn: &mut DbConn, email: &str, ip: &str, now: NaiveDateTime) -> Result<i64, AppError> {
    conn.transaction(|conn| {
        lock(conn, now - Duration::days(1))?;
        check(conn, email, ip, now)?;
        Ok(diesel::insert_into(login_failures::table)
            .values((
                login_failures::email.eq(email),
                login_failures::ip.eq(ip),
                login_failures::at.eq(now),
            ))
            .returning(login_failures::id)
            .get_result(conn)?)
    })
}

/// Takes back a reservation whose password was right (or never checked).
pub fn release(conn: &mut DbConn, reservation: i64) -> Result<(), AppError> {
    diesel::delete(login_failures::table.find(reservation)).execute(conn)?;
    Ok(())
}

/// A successful sign-in clears the account's failures (the IP's stay).
pub fn clear_account(conn: &mut DbConn, email: &str) -> Result<(), AppError> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)?;
    Ok(())
}
