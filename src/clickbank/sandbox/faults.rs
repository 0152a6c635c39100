//! Fault injection of the sandbox API: 503s, ClickBank's rate-limit 403 and added
//! latency, decided once per request.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Fault switches.
pub(crate) struct Faults {
    pub error_rate: f64,
    pub fail_next: u32,
    pub rate_limit_rps: Option<u32>,
    pub rate_limit_next: u32,
    /// Requests answered with the rate-limit 403 so far.
    pub rate_limited: u64,
    window_start: Instant,
    window_count: u32,
    pub latency: Duration,
    pub delay_next: u32,
    pub delay_next_by: Duration,
    rng: StdRng,
}

/// What to do with one request.
pub(super) struct Decision {
    pub(super) rate_limited: bool,
    pub(super) fail: bool,
    pub(super) delay: Duration,
}

impl Faults {
    pub fn new(seed: u64, error_rate: f64, rate_limit_rps: Option<u32>, latency: Duration) -> Self {
        Faults {
            error_rate,
            fail_next: 0,
            rate_limit_rps,
            rate_limit_next: 0,
            rate_limited: 0,
            window_start: Instant::now(),
            window_count: 0,
            latency,
            delay_next: 0,
            delay_next_by: Duration::ZERO,
            rng: StdRng::seed_from_u64(seed ^ 0x5EED),
        }
    }

    pub(super) fn decide(&mut self) -> Decision {
        let mut rate_limited = false;
        if self.rate_limit_next > 0 {
            self.rate_limit_next -= 1;
            rate_limited = true;
        } else if let Some(rps) = self.rate_limit_rps.filter(|r| *r > 0) {
            let now = Instant::now();
            if now.duration_since(self.window_start) >= Duration::from_secs(1) {
                self.window_start = now;
                self.window_count = 0;
            }
            self.window_count += 1;
            rate_limited = self.window_count > rps;
        }
        self.rate_limited += u64::from(rate_limited);
        let fail = if self.fail_next > 0 {
            self.fail_next -= 1;
            true
        } else {
            self.error_rate > 0.0 && self.rng.gen_bool(self.error_rate.clamp(0.0, 1.0))
        };
        let delay = if self.delay_next > 0 {
            self.delay_next -= 1;
            self.delay_next_by
        } else {
            self.latency
        };
        Decision {
            rate_limited,
            fail,
            delay,
        }
    }
}
