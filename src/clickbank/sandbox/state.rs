//! The sandbox state: the world behind one lock, the orders list (filters, paging) and
//! shared helpers. Subscription actions, tickets and live events live beside it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;

use super::catalog::AFFILIATES;
use super::dataset::World;
use super::model::{ReceiptInfo, RecordedShipNotice, SbEvent, SbTicket, SubIndex, Subscription};
use crate::clickbank::money::parse_minor;
use crate::clickbank::time::{pacific_date, pacific_midnight, parse_date};
use crate::clickbank::types::TransactionType;

/// An error answer of the sandbox API: status and ClickBank-style plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub text: String,
}

pub(crate) fn forbidden(text: impl Into<String>) -> ApiError {
    ApiError {
        status: 403,
        text: text.into(),
    }
}

pub(crate) fn bad_request(text: impl Into<String>) -> ApiError {
    ApiError {
        status: 400,
        text: text.into(),
    }
}

/// Query parameters of a request.
pub(crate) type Params = HashMap<String, String>;

pub(super) fn param<'a>(p: &'a Params, name: &str) -> Option<&'a str> {
    p.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

pub(super) fn required<'a>(p: &'a Params, name: &str) -> Result<&'a str, ApiError> {
    param(p, name).ok_or_else(|| bad_request(format!("Missing required parameter: {name}")))
}

pub(super) fn date_param(p: &Params, name: &str) -> Result<NaiveDate, ApiError> {
    let v = required(p, name)?;
    parse_date(v).map_err(|_| bad_request(format!("Invalid {name}: {v} (expected yyyy-mm-dd)")))
}

/// Case-insensitive SQL-LIKE match with `%` wildcards.
pub(crate) fn like(pattern: &str, text: &str) -> bool {
    let p = pattern.to_lowercase();
    let t = text.to_lowercase();
    let parts: Vec<&str> = p.split('%').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let first = parts[0];
    let last = parts[parts.len() - 1];
    if !t.starts_with(first) {
        return false;
    }
    let mut pos = first.len();
    for mid in &parts[1..parts.len() - 1] {
        match t[pos..].find(mid) {
            Some(i) => pos += i + mid.len(),
            None => return false,
        }
    }
    t.len() >= pos + last.len() && t.ends_with(last)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Tunables that tests and the CLI change.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub page_size: usize,
    pub short_pages: bool,
    pub products_page_size: usize,
    pub partial_refunds: bool,
    pub ticket_delay: std::time::Duration,
    pub notify_url: Option<String>,
    pub ins_version: u8,
    pub ins_max_attempts: u32,
    pub ins_retry_delay: std::time::Duration,
    pub seed: u64,
    pub events_per_second: f64,
    /// Percent of live one-off sales whose lines share a SKU.
    pub same_sku_bumps: u32,
    /// INS deliveries are dropped from the first instant until the second (`None`: until
    /// switched off), as when ClickBank stops sending.
    pub ins_outage: Option<(Instant, Option<Instant>)>,
}

/// Work for the scheduler.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    CompleteTicket(u64),
    Deliver { url: String, event: u64, attempt: u32 },
}

#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub due: Instant,
    pub job: Job,
}

/// One INS delivery attempt made by the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Where it was posted.
    pub url: String,
    /// Sandbox event id.
    pub event_id: u64,
    /// Transaction type.
    pub transaction_type: String,
    /// Receipt (None for abandoned orders).
    pub receipt: Option<String>,
    /// Attempt number (`attemptCount`).
    pub attempt: u32,
    /// HTTP status received.
    pub status: Option<u16>,
    /// Transport error, if any.
    pub error: Option<String>,
}

impl DeliveryRecord {
    /// True for a 2xx answer.
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Parsed `orders2/list` filters.
#[derive(Debug, Clone)]
pub(crate) struct OrderFilter {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tx_type: Option<String>,
    vendor: Option<String>,
    affiliate: Option<String>,
    email: Option<String>,
    last_name: Option<String>,
    postal_code: Option<String>,
    item: Option<String>,
    tid: Option<String>,
    role: Option<String>,
    amount: Option<String>,
}

/// The whole sandbox world behind one lock.
pub(crate) struct State {
    pub vendor: String,
    pub products: Vec<super::model::SbProduct>,
    pub customers: Vec<super::model::SbCustomer>,
    pub events: Vec<SbEvent>,
    pub receipts: HashMap<String, ReceiptInfo>,
    pub subs: Vec<Subscription>,
    pub sub_index: SubIndex,
    pub used_receipts: HashSet<String>,
    pub rng: StdRng,
    pub tickets: Vec<SbTicket>,
    pub open_refunds: HashSet<String>,
    pub ship_notices: Vec<RecordedShipNotice>,
    pub deliveries: Vec<DeliveryRecord>,
    /// Events whose INS deliveries an outage dropped.
    pub dropped: Vec<u64>,
    pub pending: Vec<Pending>,
    cache: Vec<(String, u64, Arc<Vec<usize>>)>,
    pub version: u64,
    pub anchor: DateTime<Utc>,
    pub started: Instant,
    pub settings: Settings,
}

impl State {
    pub fn new(world: World, vendor: String, anchor: DateTime<Utc>, settings: Settings) -> Self {
        State {
            vendor,
            products: world.products,
            customers: world.customers,
            events: world.events,
            receipts: world.receipts,
            subs: world.subs,
            sub_index: world.sub_index,
            used_receipts: world.used_receipts,
            rng: world.rng,
            tickets: Vec::new(),
            open_refunds: HashSet::new(),
            ship_notices: Vec::new(),
            deliveries: Vec::new(),
            dropped: Vec::new(),
            pending: Vec::new(),
            cache: Vec::new(),
            version: 0,
            anchor,
            started: Instant::now(),
            settings,
        }
    }

    /// The sandbox clock: the anchor plus the real time elapsed since start.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = Duration::from_std(self.started.elapsed()).unwrap_or_default();
        let t = self.anchor + elapsed;
        match self.events.last() {
            Some(last) if last.time > t => last.time,
            _ => t,
        }
    }

    pub fn today(&self) -> NaiveDate {
        pacific_date(self.now())
    }

    pub fn product_index(&self, sku: &str) -> Option<usize> {
        self.products.iter().position(|p| p.sku.eq_ignore_ascii_case(sku))
    }

    /// Applies `change` to the product `sku` and stamps its `updated` time.
    pub fn set_product(&mut self, sku: &str, change: impl FnOnce(&mut super::model::SbProduct)) -> bool {
        let now = self.now();
        match self.product_index(sku) {
            Some(i) => {
                change(&mut self.products[i]);
                self.products[i].updated = now;
                true
            }
            None => false,
        }
    }

    pub fn affiliate_name(&self, a: Option<u16>) -> Option<&'static str> {
        a.and_then(|i| AFFILIATES.get(usize::from(i)).copied())
    }

    /// Append an event (at the current sandbox time) and return its id.
    pub fn push_event(&mut self, mut ev: SbEvent) -> u64 {
        let id = self.events.len() as u64;
        ev.id = id;
        if let Some(last) = self.events.last() {
            if ev.time < last.time {
                ev.time = last.time;
            }
        }
        self.events.push(ev);
        self.version += 1;
        id
    }

    /// Whether INS is down at `at` (an outage switched on or its window).
    pub fn ins_down(&self, at: Instant) -> bool {
        self.settings
            .ins_outage
            .is_some_and(|(from, until)| at >= from && until.is_none_or(|u| at < u))
    }

    /// Drops the delivery of `event` when INS is down now; true when dropped.
    pub fn drop_if_down(&mut self, event: u64) -> bool {
        let down = self.ins_down(Instant::now());
        if down && !self.dropped.contains(&event) {
            self.dropped.push(event);
        }
        down
    }

    /// Queue the INS delivery of an event to the notify URL, when one is set (dropped
    /// during an INS outage).
    pub fn queue_delivery(&mut self, event: u64) {
        if self.settings.notify_url.is_some() && self.drop_if_down(event) {
            return;
        }
        if let Some(url) = self.settings.notify_url.clone() {
            self.pending.push(Pending {
                due: Instant::now(),
                job: Job::Deliver {
                    url,
                    event,
                    attempt: 1,
                },
            });
        }
    }

    pub fn parse_filter(&self, p: &Params) -> Result<OrderFilter, ApiError> {
        let (start, end) = match (param(p, "startDate"), param(p, "endDate")) {
            (None, None) => {
                let today = self.today();
                (today - Duration::days(1), today)
            }
            (Some(_), Some(_)) => (date_param(p, "startDate")?, date_param(p, "endDate")?),
            _ => return Err(bad_request("startDate and endDate must be used together")),
        };
        if end < start {
            return Err(bad_request("endDate must not be before startDate"));
        }
        let text = |k: &str| param(p, k).map(str::to_string);
        Ok(OrderFilter {
            start: pacific_midnight(start),
            end: pacific_midnight(end + Duration::days(1)),
            tx_type: text("type"),
            vendor: text("vendor"),
            affiliate: text("affiliate"),
            email: text("email"),
            last_name: text("lastName"),
            postal_code: text("postalCode"),
            item: text("item"),
            tid: text("tid"),
            role: text("role"),
            amount: text("amount"),
        })
    }

    fn matches(&self, e: &SbEvent, f: &OrderFilter) -> bool {
        if !e.listed() {
            return false;
        }
        if let Some(t) = &f.tx_type {
            if !e.tx_type.as_str().eq_ignore_ascii_case(t) {
                return false;
            }
        }
        if let Some(v) = &f.vendor {
            if !v.eq_ignore_ascii_case(&self.vendor) {
                return false;
            }
        }
        if let Some(r) = &f.role {
            if !r.eq_ignore_ascii_case("VENDOR") {
                return false;
            }
        }
        if let Some(a) = &f.affiliate {
            let name = self.affiliate_name(e.affiliate);
            let ok = if a.eq_ignore_ascii_case("none") {
                name.is_none()
            } else {
                name.is_some_and(|n| n.eq_ignore_ascii_case(a))
            };
            if !ok {
                return false;
            }
        }
        let c = &self.customers[e.customer];
        if f.email.as_ref().is_some_and(|p| !like(p, &c.email))
            || f.last_name.as_ref().is_some_and(|p| !like(p, &c.last))
            || f.postal_code
                .as_ref()
                .is_some_and(|p| !like(p, &c.address.postal_code))
        {
            return false;
        }
        if let Some(item) = &f.item {
            if !e
                .lines
                .iter()
                .any(|l| self.products[l.product].sku.eq_ignore_ascii_case(item))
            {
                return false;
            }
        }
        if let Some(tid) = &f.tid {
            if e.tracking_id.as_deref() != Some(tid.as_str()) {
                return false;
            }
        }
        if let Some(a) = &f.amount {
            if parse_minor(a, e.currency).ok() != Some(e.total()) {
                return false;
            }
        }
        true
    }

    /// Indexes of the events matching a query, cached per query and state version.
    pub fn query(&mut self, p: &Params) -> Result<Arc<Vec<usize>>, ApiError> {
        let f = self.parse_filter(p)?;
        let key = format!("{f:?}");
        if let Some((_, _, hit)) = self
            .cache
            .iter()
            .find(|(k, v, _)| *k == key && *v == self.version)
        {
            return Ok(hit.clone());
        }
        let from = self.events.partition_point(|e| e.time < f.start);
        let to = self.events.partition_point(|e| e.time < f.end);
        let hits: Vec<usize> = (from..to)
            .filter(|&i| self.matches(&self.events[i], &f))
            .collect();
        let hits = Arc::new(hits);
        self.cache.retain(|(k, v, _)| *v == self.version && *k != key);
        if self.cache.len() >= 8 {
            self.cache.remove(0);
        }
        self.cache.push((key, self.version, hits.clone()));
        Ok(hits)
    }

    /// Records on a page: up to `page_size`, deterministically shorter on some pages.
    fn page_len(&self, page: u32) -> usize {
        let size = self.settings.page_size.max(1);
        if !self.settings.short_pages || size < 4 {
            return size;
        }
        let h = splitmix(self.settings.seed ^ (u64::from(page) << 20));
        if h % 4 == 0 {
            size - 1 - (h / 4 % (size as u64 / 2)) as usize
        } else {
            size
        }
    }

    /// `[start, end)` of `page` (1-based) over `total` records and whether more follow.
    pub fn page_bounds(&self, total: usize, page: u32) -> (usize, usize, bool) {
        let mut start = 0usize;
        for p in 1..page.max(1) {
            start += self.page_len(p);
            if start >= total {
                return (total, total, false);
            }
        }
        let end = (start + self.page_len(page.max(1))).min(total);
        (start, end, end < total)
    }

    pub(super) fn receipt(&self, receipt: &str) -> Result<&ReceiptInfo, ApiError> {
        self.receipts
            .get(&receipt.to_ascii_uppercase())
            .ok_or_else(|| forbidden(format!("Order not found: {receipt}")))
    }

    /// `customerRefundableState` of a receipt.
    pub fn refundable_state(&self, receipt: &str) -> &'static str {
        let Some(info) = self.receipts.get(receipt) else {
            return "UNREFUNDABLE";
        };
        if info.chargeback {
            "UNREFUNDABLE"
        } else if info.refundable() == 0 {
            "ALREADY_REFUNDED"
        } else if self.open_refunds.contains(receipt) {
            "HAS_OPEN_REFUND"
        } else if self.now() - info.last_payment.time > Duration::days(60) {
            "TO_OLD"
        } else {
            "REFUNDABLE"
        }
    }

    pub(super) fn receipt_event(&self, receipt: &str, info: &ReceiptInfo, now: DateTime<Utc>) -> SbEvent {
        SbEvent {
            id: 0,
            time: now,
            receipt: Some(receipt.to_string()),
            tx_type: TransactionType::Sale,
            customer: info.customer,
            affiliate: info.affiliate,
            payment_method: info.payment_method,
            currency: info.currency,
            lines: info.sale_lines.clone(),
            tracking_id: info.tracking_id.clone(),
            upsell_original: info.upsell_original.clone(),
            vendor_vars: info.vendor_vars.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_wildcards() {
        assert!(like("jane%", "Jane.Doe@example.com"));
        assert!(like("%@example.com", "x@EXAMPLE.com"));
        assert!(like("%doe%", "jane.doe@x"));
        assert!(like("j%e%m", "jane.doe@example.com"));
        assert!(!like("j%e%x", "jane.doe@example.com"));
        assert!(like("exact", "EXACT"));
        assert!(!like("exact", "exactly"));
        assert!(like("%", ""));
        assert!(!like("ab%ba", "aba"));
    }
}
