//! What stands in front of the API users' passwords on the public machine routes
//! (`POST /clickbank/`, `/api/`):
//!
//! - [`AllowUnion`]: the union of the active API users' IP allowlists, kept in memory. A caller
//!   outside it is refused before any database look-up or argon2. It is reloaded when an API
//!   user changes in this process and every [`REFRESH_EVERY`] (so a change made by another
//!   portal process on the same PostgreSQL, or by the CLI, is seen within that time).
//! - [`ApiThrottle`]: failed passwords counted per API user and per IP, in memory and bounded.
//!   An attempt is reserved before argon2 runs, so concurrent guesses cannot overtake the
//!   count. A throttled login is never shut out: it still gets one verification every
//!   [`SLOT_EVERY`] (ClickBank retries hours apart and turns INS off for vendors that keep
//!   failing), and a password in the remembered-success cache never reaches the throttle.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::ip_allow::{self, canonical, AllowEntry, IpRanges};
use crate::db::schema::api_users;
use crate::db::{Database, DbConn};
use crate::error::AppError;

/// How often every process reloads the allowlist union from the database.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// The answer to a caller outside the allowlists: the same whoever it claims to be.
pub const NOT_ALLOWED: &str = "Calls from this address are not in the API user's IP allowlist.";

/// The union of the active API users' allowlists.
#[derive(Default)]
pub struct AllowUnion {
    entries: RwLock<Arc<Vec<AllowEntry>>>,
}

impl AllowUnion {
    /// True when some active API user's allowlist takes `ip`.
    pub fn allows(&self, ip: IpAddr, ranges: &IpRanges) -> bool {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner()).clone();
        ip_allow::entries_allow(&entries, canonical(ip), ranges)
    }

    /// Replaces the union with what the database holds now.
    pub fn load(&self, conn: &mut DbConn) -> Result<usize, AppError> {
        let lists: Vec<String> = api_users::table
            .filter(api_users::disabled.eq(false))
            .select(api_users::allow_ips)
            .load(conn)?;
        let mut entries: Vec<AllowEntry> = Vec::new();
        for list in &lists {
            for e in ip_allow::parse_allowlist(list).unwrap_or_default() {
                if !entries.contains(&e) {
                    entries.push(e);
                }
            }
        }
        let n = entries.len();
        *self.entries.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(entries);
        Ok(n)
    }

    /// [`AllowUnion::load`] off the async workers.
    pub async fn reload(self: &Arc<Self>, db: &Database) -> Result<usize, AppError> {
        let me = self.clone();
        db.read(move |c| me.load(c)).await
    }

    /// Reloads every [`REFRESH_EVERY`] for as long as the runtime runs.
    pub fn spawn_refresher(self: &Arc<Self>, db: Database) {
        self.spawn_refresher_every(db, REFRESH_EVERY);
    }

    /// Reloads every `period` (the tests' shorter period) for as long as the runtime runs.
    pub fn spawn_refresher_every(self: &Arc<Self>, db: Database, period: Duration) {
        let me = self.clone();
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = me.reload(&db).await {
                    tracing::warn!(error = %e, "could not reload the API users' allowlists");
                }
            }
        });
    }
}

/// Failures within this window count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed passwords of one API user within [`WINDOW`] before it is throttled.
pub const LOGIN_LIMIT: usize = 5;
/// Failed passwords from one address within [`WINDOW`] before it is throttled.
pub const IP_LIMIT: usize = 20;
/// A throttled login (or an address guessing unknown logins) still gets one verification this often.
pub const SLOT_EVERY: Duration = Duration::from_secs(10);
/// How long a caller waits, at most, for verifications in flight on its login to settle when
/// they alone fill the limit (a burst of ClickBank's notifications with the right password
/// just after a restart, before the first success is remembered).
pub const IN_FLIGHT_WAIT: Duration = Duration::from_secs(5);
/// Addresses tracked at most; past it the least recently seen is forgotten.
pub const MAX_ADDRESSES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Login(i64),
    Ip(IpAddr),
}

#[derive(Default)]
struct Entry {
    /// The most recent failures (at most the limit are kept).
    failures: Vec<Instant>,
    in_flight: usize,
    last_verify: Option<Instant>,
    last_seen: Option<Instant>,
}

impl Entry {
    fn recent(&self, now: Instant) -> usize {
        self.failures
            .iter()
            .filter(|t| now.duration_since(**t) < WINDOW)
            .count()
    }

    fn blocked(&self, now: Instant, limit: usize) -> bool {
        self.recent(now) + self.in_flight >= limit
    }

    fn slot_free(&self, now: Instant) -> Result<(), Duration> {
        match self.last_verify {
            Some(t) if now.duration_since(t) < SLOT_EVERY => Err(SLOT_EVERY - now.duration_since(t)),
            _ => Ok(()),
        }
    }
}

/// Per-login and per-IP counts of failed API-user passwords.
#[derive(Default)]
pub struct ApiThrottle {
    entries: Mutex<HashMap<Key, Entry>>,
}

/// One reserved verification; tell it how the password turned out.
pub struct Attempt<'a> {
    throttle: &'a ApiThrottle,
    keys: Vec<Key>,
    settled: bool,
}

impl ApiThrottle {
    fn limit(key: Key) -> usize {
        match key {
            Key::Login(_) => LOGIN_LIMIT,
            Key::Ip(_) => IP_LIMIT,
        }
    }

    /// Reserves one verification for `login` (an existing API user's id) from `ip`, or says
    /// when to come back (429).
    pub fn admit(&self, login: Option<i64>, ip: IpAddr) -> Result<Attempt<'_>, AppError> {
        let now = Instant::now();
        let mut keys = vec![Key::Ip(canonical(ip))];
        keys.extend(login.map(Key::Login));
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        make_room(&mut map, now);
        let blocked = keys
            .iter()
            .any(|k| map.get(k).is_some_and(|e| e.blocked(now, Self::limit(*k))));
        if blocked {
            // The slot belongs to the login when there is one, else to the address.
            let slot_key = *keys.last().unwrap_or(&keys[0]);
            if let Err(wait) = map.get(&slot_key).map_or(Ok(()), |e| e.slot_free(now)) {
                let secs = wait.as_secs().max(1);
                return Err(AppError::TooManyRequests {
                    message: format!("Too many failed passwords for this API user; try again in {secs} s."),
                    retry_after_secs: secs,
                });
            }
        }
        for k in &keys {
            let e = map.entry(*k).or_default();
            e.in_flight += 1;
            e.last_verify = Some(now);
            e.last_seen = Some(now);
        }
        Ok(Attempt {
            throttle: self,
            keys,
            settled: false,
        })
    }

    /// True when `login` from `ip` is refused only for the verifications still in flight (no
    /// key has its limit of recent failures): worth waiting for them to settle.
    pub fn only_in_flight(&self, login: Option<i64>, ip: IpAddr) -> bool {
        let now = Instant::now();
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys = vec![Key::Ip(canonical(ip))];
        keys.extend(login.map(Key::Login));
        keys.iter()
            .all(|k| map.get(k).is_none_or(|e| e.recent(now) < Self::limit(*k)))
    }

    /// How many addresses and logins are tracked (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn settle(&self, keys: &[Key], failed: bool) {
        let now = Instant::now();
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            let Some(e) = map.get_mut(k) else { continue };
            e.in_flight = e.in_flight.saturating_sub(1);
            if failed {
                e.failures.retain(|t| now.duration_since(*t) < WINDOW);
                if e.failures.len() >= Self::limit(*k) {
                    e.failures.remove(0);
                }
                e.failures.push(now);
            } else if matches!(k, Key::Login(_)) {
                e.failures.clear();
            }
        }
    }
}

/// Drops what no longer counts; past [`MAX_ADDRESSES`] forgets the least recently seen.
fn make_room(map: &mut HashMap<Key, Entry>, now: Instant) {
    if map.len() < MAX_ADDRESSES {
        return;
    }
    map.retain(|_, e| e.in_flight > 0 || e.recent(now) > 0 || e.slot_free(now).is_err());
    while map.len() >= MAX_ADDRESSES {
        let Some(oldest) = map
            .iter()
            .filter(|(_, e)| e.in_flight == 0)
            .min_by_key(|(_, e)| e.last_seen)
            .map(|(k, _)| *k)
        else {
            return;
        };
        map.remove(&oldest);
    }
}

impl Attempt<'_> {
    pub fn failed(mut self) {
        self.settled = true;
        self.throttle.settle(&self.keys, true);
    }

    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttle.settle(&self.keys, false);
    }
}

impl Drop for Attempt<'_> {
    /// An attempt cut short (the caller hung up, argon2 was busy) counts as nothing.
    fn drop(&mut self) {
        if !self.settled {
            let now = Instant::now();
            let mut map = self.throttle.entries.lock().unwrap_or_else(|p| p.into_inner());
            for k in &self.keys {
                if let Some(e) = map.get_mut(k) {
                    e.in_flight = e.in_flight.saturating_sub(1);
                    e.last_seen = Some(now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn concurrent_guesses_are_reserved_and_a_throttled_login_keeps_a_slot() {
        let t = ApiThrottle::default();
        let held: Vec<_> = (0..LOGIN_LIMIT)
            .map(|_| t.admit(Some(1), ip("192.0.2.1")))
            .collect();
        assert!(held.iter().all(Result::is_ok));
        assert!(
            matches!(
                t.admit(Some(1), ip("192.0.2.1")),
                Err(AppError::TooManyRequests { .. })
            ),
            "the limit counts attempts still running"
        );
        for a in held {
            a.unwrap().failed();
        }
        match t.admit(Some(1), ip("192.0.2.2")) {
            Err(AppError::TooManyRequests { retry_after_secs, .. }) => {
                assert!(retry_after_secs <= SLOT_EVERY.as_secs())
            }
            _ => panic!("a throttled login waits for its slot, from any address"),
        }
        // Once the slot is free the login verifies again, and success clears its failures.
        let mut map = t.entries.lock().unwrap();
        map.get_mut(&Key::Login(1)).unwrap().last_verify = Some(Instant::now() - SLOT_EVERY);
        drop(map);
        t.admit(Some(1), ip("192.0.2.2")).unwrap().succeeded();
        assert!(t.admit(Some(1), ip("192.0.2.3")).is_ok());
    }

    #[test]
    fn memory_stays_bounded_whatever_arrives() {
        let t = ApiThrottle::default();
        for n in 0..(MAX_ADDRESSES as u32 * 3) {
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            t.admit(None, a).unwrap().failed();
        }
        assert!(t.tracked() <= MAX_ADDRESSES, "{}", t.tracked());
    }

    #[test]
    fn the_union_takes_every_active_allowlist() {
        let u = AllowUnion::default();
        assert!(
            !u.allows(ip("127.0.0.1"), &IpRanges::default()),
            "empty until loaded"
        );
        *u.entries.write().unwrap() = Arc::new(ip_allow::parse_allowlist("10.0.0.0/8 192.0.2.7").unwrap());
        assert!(u.allows(ip("10.9.9.9"), &IpRanges::default()));
        assert!(u.allows(ip("::ffff:192.0.2.7"), &IpRanges::default()));
        assert!(!u.allows(ip("192.0.2.8"), &IpRanges::default()));
    }
}
