//! Signs that the portal sits behind a proxy it was not told about. With
//! `MERCHANT_CRM_TRUST_PROXY=0` every client then shares the proxy's address, so one person's
//! failed sign-ins lock everyone out. The common sign: every browser request carries
//! `X-Forwarded-For`. Counted on page requests; warned once in the log and shown on Admin →
//! Sign-in locks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Requests needed before the signs are believed.
const ENOUGH: u64 = 20;

#[derive(Default)]
pub struct ProxySigns {
    seen: AtomicU64,
    forwarded: AtomicU64,
    warned: AtomicBool,
}

impl ProxySigns {
    /// Notes one request (only called when the proxy is not trusted).
    pub fn note(&self, has_forwarded_for: bool) {
        let seen = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if has_forwarded_for {
            self.forwarded.fetch_add(1, Ordering::Relaxed);
        }
        if self.suspected() && seen >= ENOUGH && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                requests = seen,
                "every request carries X-Forwarded-For but MERCHANT_CRM_TRUST_PROXY=0: behind a proxy, \
                 all clients share its address and one person's failed sign-ins lock everyone out; \
                 set MERCHANT_CRM_TRUST_PROXY=1 if the portal sits behind your own proxy"
            );
        }
    }

    /// True when enough requests came in and every one of them carried X-Forwarded-For.
    pub fn suspected(&self) -> bool {
        let seen = self.seen.load(Ordering::Relaxed);
        seen >= ENOUGH && self.forwarded.load(Ordering::Relaxed) == seen
    }
}

#[cfg(test)]
mod tests {
    use super::ProxySigns;

    #[test]
    fn suspected_only_when_every_one_of_enough_requests_was_forwarded() {
        let all = ProxySigns::default();
        for _ in 0..19 {
            all.note(true);
        }
        assert!(!all.suspected(), "19 requests are not enough");
        all.note(true);
        assert!(all.suspected());
        let mixed = ProxySigns::default();
        for i in 0..40 {
            mixed.note(i != 7);
        }
        assert!(!mixed.suspected(), "one direct request means no proxy in front");
    }
}
