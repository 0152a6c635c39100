//! Client-side rate limits. ClickBank counts an account's requests together, so every client
//! built for one account in a process takes its turns from one [`Limiter`]: [`Limiters`]
//! keeps one per account, keyed by the caller's id for it (the CRM's plugin id).

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Requests per second, with a burst, shared by the clients that hold it.
pub struct Limiter {
    inner: DefaultDirectRateLimiter,
    rate: u32,
    burst: u32,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .finish()
    }
}

impl Limiter {
    /// `rate` requests per second, `burst` at once (at least 1); `None` for a rate of 0 (no limit).
    pub fn new(rate: u32, burst: u32) -> Option<Limiter> {
        let per_second = NonZeroU32::new(rate)?;
        let burst_nz = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Some(Limiter {
            inner: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst_nz)),
            rate,
            burst: burst_nz.get(),
        })
    }

    /// Requests per second.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Takes a turn when one is free now; false when the caller would have to wait.
    pub fn try_acquire(&self) -> bool {
        self.inner.check().is_ok()
    }

    /// Waits for a turn; true when it had to wait.
    pub async fn acquire(&self) -> bool {
        if self.try_acquire() {
            return false;
        }
        self.inner.until_ready().await;
        true
    }
}

/// One [`Limiter`] per account, shared by every client built for it (clone it freely: the
/// clones share the map).
#[derive(Clone, Default)]
pub struct Limiters {
    map: Arc<Mutex<HashMap<i64, Arc<Limiter>>>>,
}

impl fmt::Debug for Limiters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.map.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("Limiters").field("accounts", &n).finish()
    }
}

impl Limiters {
    /// The limiter of `account` at `rate` requests per second (`None` for 0: no limit). The
    /// first call makes it, later ones share it; a call with another rate or burst replaces
    /// it for the clients built from then on.
    pub fn for_account(&self, account: i64, rate: u32, burst: u32) -> Option<Arc<Limiter>> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let want_burst = burst.max(1);
        if let Some(l) = map
            .get(&account)
            .filter(|l| l.rate == rate && l.burst == want_burst)
        {
            return Some(l.clone());
        }
        let made = Arc::new(Limiter::new(rate, want_burst)?);
        map.insert(account, made.clone());
        Some(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_limiter_per_account_shared_by_every_get() {
        let limiters = Limiters::default();
        let a = limiters.for_account(7, 10, 1).unwrap();
        let b = limiters.clone().for_account(7, 10, 1).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = limiters.for_account(8, 10, 1).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        assert!(limiters.for_account(9, 0, 1).is_none(), "rate 0: no limit");
        // Tokens are shared: the turn one takes is gone for the other (10/s: the next turn is
        // 100 ms away, far longer than these two calls take).
        assert!(a.try_acquire());
        assert!(!b.try_acquire());
        assert!(other.try_acquire());
        // Another rate replaces it for later clients.
        let slower = limiters.for_account(7, 5, 1).unwrap();
        assert!(!Arc::ptr_eq(&a, &slower));
        assert_eq!(slower.rate(), 5);
    }
}
