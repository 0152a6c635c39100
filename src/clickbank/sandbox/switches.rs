//! Switches of a running sandbox: injected faults (errors, rate limits, latency), INS
//! outages, the live settings, tickets applied on demand and catalog edits.

use std::time::{Duration, Instant};

use super::runner::SandboxHandle;
use super::state::Job;

impl SandboxHandle {
    /// Answer this fraction of requests with 503.
    pub fn set_error_rate(&self, rate: f64) {
        self.shared.faults().error_rate = rate.clamp(0.0, 1.0);
    }

    /// Answer the next `n` requests with 503.
    pub fn fail_next(&self, n: u32) {
        self.shared.faults().fail_next = n;
    }

    /// Refuse requests above `rps` per second with ClickBank's rate-limit 403 (None = off).
    pub fn set_rate_limit(&self, rps: Option<u32>) {
        self.shared.faults().rate_limit_rps = rps;
    }

    /// Requests answered with the rate-limit 403 so far.
    pub fn rate_limited_count(&self) -> u64 {
        self.shared.faults().rate_limited
    }

    /// Refuse the next `n` requests with the rate-limit 403.
    pub fn rate_limit_next(&self, n: u32) {
        self.shared.faults().rate_limit_next = n;
    }

    /// Delay every response.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults().latency = latency;
    }

    /// Delay the next `n` responses (the request is applied before the delay).
    pub fn delay_next(&self, n: u32, delay: Duration) {
        let mut f = self.shared.faults();
        f.delay_next = n;
        f.delay_next_by = delay;
    }

    /// Set or clear the Instant Notification URL.
    pub fn set_notify_url(&self, url: Option<String>) {
        self.shared.lock().settings.notify_url = url;
    }

    /// Stop (true) or resume (false) delivering Instant Notifications, as when ClickBank
    /// stops sending: events still happen and appear in the orders list, but the deliveries
    /// due while it is down (first attempts and retries) are dropped, never sent later.
    /// [`dropped_notifications`](Self::dropped_notifications) names their events. A test's own
    /// [`post_event`](Self::post_event) still posts.
    pub fn set_ins_outage(&self, down: bool) {
        self.shared.lock().settings.ins_outage = down.then(|| (Instant::now(), None));
        self.shared.wake.notify_one();
    }

    /// An INS outage from now for `length` (see [`set_ins_outage`](Self::set_ins_outage)).
    pub fn ins_outage_for(&self, length: Duration) {
        let now = Instant::now();
        self.shared.lock().settings.ins_outage = Some((now, Some(now + length)));
        self.shared.wake.notify_one();
    }

    /// Whether INS is down now.
    pub fn ins_down(&self) -> bool {
        self.shared.lock().ins_down(Instant::now())
    }

    /// Ids of the events whose INS deliveries an outage dropped, in the order dropped.
    pub fn dropped_notifications(&self) -> Vec<u64> {
        self.shared.lock().dropped.clone()
    }

    /// Time before tickets are applied.
    pub fn set_ticket_delay(&self, delay: Duration) {
        self.shared.lock().settings.ticket_delay = delay;
    }

    /// Apply every pending ticket now instead of after the delay (closed tickets are
    /// skipped, as ClickBank would). Returns the number of events created; their INS
    /// deliveries are queued to the notify URL.
    pub fn process_tickets_now(&self) -> usize {
        let mut st = self.shared.lock();
        let mut ids = Vec::new();
        st.pending.retain(|p| match p.job {
            Job::CompleteTicket(id) => {
                ids.push(id);
                false
            }
            _ => true,
        });
        let created = ids.into_iter().filter_map(|id| st.complete_ticket(id)).count();
        drop(st);
        self.shared.wake.notify_one();
        created
    }

    /// Enable or disable partial refunds.
    pub fn set_partial_refunds(&self, enabled: bool) {
        self.shared.lock().settings.partial_refunds = enabled;
    }

    /// Live events per second (0 stops the stream).
    pub fn set_events_per_second(&self, rate: f64) {
        self.shared.lock().settings.events_per_second = rate.max(0.0);
        self.shared.wake.notify_one();
    }

    /// Renames a catalog product, as the vendor would in ClickBank (the products list and
    /// later orders show the new title). False for an unknown SKU.
    pub fn set_product_title(&self, sku: &str, title: &str) -> bool {
        self.shared
            .lock()
            .set_product(sku, |p| p.title = title.to_string())
    }

    /// Changes a catalog product's price in its own currency (minor units). False for an
    /// unknown SKU.
    pub fn set_product_price(&self, sku: &str, price_minor: i64) -> bool {
        self.shared.lock().set_product(sku, |p| p.price = price_minor)
    }
}
