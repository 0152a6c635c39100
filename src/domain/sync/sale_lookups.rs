//! The look-ups of original sales. An event for a receipt the CRM has not seen (a rebill,
//! refund or cancellation of a sale older than the import's window or the plugin's
//! connection) builds its order at once, marked "sale not seen yet", and queues a row here
//! with the other rows of its transaction. This job reads the original from ClickBank
//! (`GET /orders2/{receipt}`, one request per known SKU, as ClickBank wants for multi-item
//! orders) and applies its SALE through the same code as any sale, which adds the sale's
//! money and items to the order and deletes the row. No HTTP call sits in the import's or the
//! INS worker's path: only here.
//!
//! A 403 means "try later", never "not found" (ClickBank answers 403 for rate limits and bad
//! keys too): the row stays, with its attempts and ClickBank's answer, and is tried again
//! with a growing delay. Rows are claimed by moving their next attempt past a lease, so
//! several portal processes never read the same receipt at once.
//!
//! Events parked by earlier versions of the portal (`pending_events`) are applied here too,
//! each building its order the same way.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::clickbank::{ClickBankApi, TransactionType};
use crate::db::models::InboxStatus;
use crate::db::schema::{inbound_notifications, pending_events, sale_lookups};
use crate::db::DbConn;
use crate::domain::clickbank_budget::{self, Purpose};
use crate::domain::context::JobContext;
use crate::domain::orders::{self, OrderEvent, Outcome};
use crate::domain::plugins;
use crate::error::AppError;

/// Look-ups claimed per round.
pub const PER_ROUND: i64 = 50;
/// A claimed look-up is another process's again after this long.
const LEASE_MINUTES: i64 = 5;

/// A look-up that is due.
#[derive(Debug, Clone, Queryable)]
pub struct Lookup {
    pub id: i64,
    pub plugin_id: i64,
    pub order_id: i64,
    pub receipt: String,
    pub skus: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
}

/// What waits for ClickBank: orders whose sale is not seen yet.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Waiting {
    pub orders: i64,
    /// When the oldest of them was built.
    pub oldest: Option<NaiveDateTime>,
    /// Those that were tried and failed at least once.
    pub retrying: i64,
    /// ClickBank's latest answer to a failed look-up.
    pub last_error: Option<String>,
    /// Those waiting for the account's daily budget of look-ups.
    pub over_budget: i64,
}

impl Waiting {
    /// How long the oldest has waited, in words ("3 h", "2 d").
    pub fn oldest_age(&self) -> String {
        let Some(at) = self.oldest else {
            return String::new();
        };
        let mins = (crate::domain::now() - at).num_minutes().max(0);
        match mins {
            m if m < 60 => format!("{m} min"),
            m if m < 48 * 60 => format!("{} h", m / 60),
            m => format!("{} d", m / (24 * 60)),
        }
    }
}

/// What waits, for one plugin or all.
pub fn waiting(conn: &mut DbConn, plugin_id: Option<i64>) -> Result<Waiting, AppError> {
    let mut q = sale_lookups::table.into_boxed();
    if let Some(p) = plugin_id {
        q = q.filter(sale_lookups::plugin_id.eq(p));
    }
    let (orders, oldest): (i64, Option<NaiveDateTime>) = q
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(sale_lookups::created_at),
        ))
        .first(conn)?;
    if orders == 0 {
        return Ok(Waiting::default());
    }
    let mut failed = sale_lookups::table
        .filter(sale_lookups::attempts.gt(0))
        .into_boxed();
    if let Some(p) = plugin_id {
        failed = failed.filter(sale_lookups::plugin_id.eq(p));
    }
    let failed: Vec<Option<String>> = failed
        .order(sale_lookups::next_attempt_at.desc())
        .select(sale_lookups::last_error)
        .load(conn)?;
    let mut waiting_budget = sale_lookups::table
        .filter(sale_lookups::attempts.eq(0))
        .filter(sale_lookups::last_error.eq(OVER_BUDGET))
        .into_boxed();
    if let Some(p) = plugin_id {
        waiting_budget = waiting_budget.filter(sale_lookups::plugin_id.eq(p));
    }
    Ok(Waiting {
        orders,
        oldest,
        retrying: failed.len() as i64,
        last_error: failed.into_iter().flatten().next(),
        over_budget: waiting_budget.count().get_result(conn)?,
    })
}

/// The delay before attempt `attempts + 1`: 1 min, 5 min, 30 min, 2 h, then 12 h.
fn backoff(attempts: i32) -> Duration {
    match attempts {
        0 => Duration::minutes(1),
        1 => Duration::minutes(5),
        2 => Duration::minutes(30),
        3 => Duration::hours(2),
        _ => Duration::hours(12),
    }
}

/// Claims up to `n` due look-ups: each is moved past a lease by a conditional update, so two
/// processes never hold the same one.
pub fn claim(conn: &mut DbConn, n: i64) -> Result<Vec<Lookup>, AppError> {
    let now = crate::domain::now();
    let due: Vec<Lookup> = sale_lookups::table
        .filter(sale_lookups::next_attempt_at.le(now))
        .order((sale_lookups::next_attempt_at.asc(), sale_lookups::id.asc()))
        .limit(n)
        .select((
            sale_lookups::id,
            sale_lookups::plugin_id,
            sale_lookups::order_id,
            sale_lookups::receipt,
            sale_lookups::skus,
            sale_lookups::attempts,
            sale_lookups::next_attempt_at,
        ))
        .load(conn)?;
    let mut mine = Vec::with_capacity(due.len());
    for l in due {
        let took = diesel::update(
            sale_lookups::table
                .find(l.id)
                .filter(sale_lookups::next_attempt_at.eq(l.next_attempt_at)),
        )
        .set(sale_lookups::next_attempt_at.eq(now + Duration::minutes(LEASE_MINUTES)))
        .execute(conn)?;
        if took == 1 {
            mine.push(l);
        }
    }
    Ok(mine)
}

/// A look-up ClickBank did not answer with the sale: tried again later, with its answer.
fn retry_later(conn: &mut DbConn, l: &Lookup, why: &str) -> Result<(), AppError> {
    diesel::update(sale_lookups::table.find(l.id))
        .set((
            sale_lookups::attempts.eq(l.attempts + 1),
            sale_lookups::next_attempt_at.eq(crate::domain::now() + backoff(l.attempts)),
            sale_lookups::last_error.eq(Some(why)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A look-up the account's daily budget has no room for: it waits an hour, not counted as a
/// failed attempt.
fn over_budget(conn: &mut DbConn, l: &Lookup) -> Result<(), AppError> {
    diesel::update(sale_lookups::table.find(l.id))
        .set((
            sale_lookups::next_attempt_at.eq(crate::domain::now() + Duration::hours(1)),
            sale_lookups::last_error.eq(Some(OVER_BUDGET)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Why a look-up waits for the next day's budget.
pub const OVER_BUDGET: &str =
    "today's budget of look-ups is used up (plugin page, ClickBank requests today); it goes on when the day's budget allows";

/// The SALE of a look-up's answer, as one event: ClickBank answers one SKU at a time on a
/// multi-item order, so the SALE records of one receipt are joined into one.
pub fn sale_of(records: &[crate::clickbank::OrderRecord]) -> Result<Option<OrderEvent>, AppError> {
    let mut sale: Option<OrderEvent> = None;
    for r in records
        .iter()
        .filter(|r| r.transaction_type.live() == TransactionType::Sale)
    {
        let ev = OrderEvent::from_record(r)?;
        match &mut sale {
            None => sale = Some(ev),
            Some(s) => {
                for item in ev.items {
                    let known = s
                        .items
                        .iter()
                        .any(|i| i.item_no == item.item_no && i.line_item_type == item.line_item_type);
                    if !known {
                        s.items.push(item);
                    }
                }
            }
        }
    }
    Ok(sale)
}

/// Reads a look-up's records from ClickBank: one request per SKU the order is known to have.
/// Gives the records and the requests made, or ClickBank's refusal.
async fn read(
    api: &dyn ClickBankApi,
    l: &Lookup,
) -> (Result<Vec<crate::clickbank::OrderRecord>, String>, i64) {
    let skus: Vec<&str> = l.skus.split('+').filter(|s| !s.is_empty()).collect();
    let mut records = Vec::new();
    let mut requests = 0;
    if skus.is_empty() {
        requests += 1;
        return (
            api.order(&l.receipt, None).await.map_err(|e| e.to_string()),
            requests,
        );
    }
    for sku in skus {
        requests += 1;
        match api.order(&l.receipt, Some(sku)).await {
            Ok(r) => records.extend(r),
            Err(e) => return (Err(e.to_string()), requests),
        }
    }
    (Ok(records), requests)
}

/// What a round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Sales added.
    pub added: usize,
    /// The round was full: more may be due right away.
    pub more: bool,
}

/// One round: parked events of earlier versions, then up to [`PER_ROUND`] due look-ups.
pub async fn run_due(ctx: &JobContext) -> Result<Round, AppError> {
    let parked = ctx.db.run(|c| apply_parked(c, PER_ROUND)).await?;
    let due = ctx.db.run(|c| claim(c, PER_ROUND)).await?;
    let more = due.len() as i64 == PER_ROUND || parked as i64 == PER_ROUND;
    let mut added = 0;
    // What each account may still spend on look-ups today.
    let mut left: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    for l in due {
        let pid = l.plugin_id;
        if let std::collections::hash_map::Entry::Vacant(e) = left.entry(pid) {
            let n = ctx
                .db
                .read(move |c| {
                    let p = plugins::find(c, pid)?;
                    clickbank_budget::lookups_left(c, pid, p.lookup_budget)
                })
                .await?;
            e.insert(n);
        }
        let cost = l.skus.split('+').filter(|s| !s.is_empty()).count().max(1) as i64;
        let room = left.get_mut(&pid).map(|n| {
            let ok = *n >= cost;
            if ok {
                *n -= cost;
            }
            ok
        });
        if room != Some(true) {
            ctx.db.run(move |c| over_budget(c, &l)).await?;
            continue;
        }
        let api = match ctx.clickbank(l.plugin_id).await {
            Ok(api) => api,
            Err(e) => {
                let why = format!("the plugin's ClickBank keys cannot be used: {e}");
                ctx.db.run(move |c| retry_later(c, &l, &why)).await?;
                continue;
            }
        };
        // The client takes its turns from the account's one limiter, with the imports and
        // the actions of the same account: the round keeps to ClickBank's rate by it.
        let (answer, requests) = read(api.as_ref(), &l).await;
        ctx.db
            .run(move |c| clickbank_budget::add(c, pid, Purpose::Lookup, requests))
            .await?;
        let done = ctx
            .db
            .run(move |c| {
                let sale = match answer {
                    Err(why) => {
                        retry_later(c, &l, &format!("{why}; tried again later"))?;
                        return Ok(false);
                    }
                    Ok(records) => sale_of(&records)?,
                };
                let Some(ev) = sale else {
                    retry_later(
                        c,
                        &l,
                        "ClickBank's answer for this receipt holds no SALE; tried again later",
                    )?;
                    return Ok(false);
                };
                let plugin = plugins::find(c, l.plugin_id)?;
                match orders::apply(c, &plugin, &ev, "lookup") {
                    Ok(_) => {
                        // Applied (the row went with the sale), or seen before: either way the
                        // order's sale is known now.
                        diesel::delete(sale_lookups::table.find(l.id)).execute(c)?;
                        Ok(true)
                    }
                    Err(e) => {
                        retry_later(c, &l, &format!("the sale could not be applied: {e}"))?;
                        Ok(false)
                    }
                }
            })
            .await?;
        added += usize::from(done);
    }
    Ok(Round { added, more })
}

/// Applies up to `limit` events that an earlier version parked in `pending_events` to wait
/// for their sale: each builds its order as a new event would, in one transaction with the
/// delivery that brought it marked processed. Gives how many were applied.
pub fn apply_parked(conn: &mut DbConn, limit: i64) -> Result<usize, AppError> {
    let parked: Vec<(i64, i64, String, String)> = pending_events::table
        .order(pending_events::id.asc())
        .limit(limit)
        .select((
            pending_events::id,
            pending_events::plugin_id,
            pending_events::receipt,
            pending_events::payload,
        ))
        .load(conn)?;
    let n = parked.len();
    for (id, plugin_id, receipt, payload) in parked {
        conn.transaction(|c| {
            diesel::delete(pending_events::table.find(id)).execute(c)?;
            let ev: OrderEvent = serde_json::from_str(&payload)
                .map_err(|e| AppError::Internal(format!("a parked event cannot be read: {e}")))?;
            let plugin = plugins::find(c, plugin_id)?;
            let note = match orders::apply(c, &plugin, &ev, "ins")? {
                Outcome::SaleNotSeen { .. } => Some(crate::domain::sync::inbox::SALE_NOT_SEEN),
                _ => None,
            };
            diesel::update(
                inbound_notifications::table
                    .filter(inbound_notifications::plugin_id.eq(plugin_id))
                    .filter(inbound_notifications::receipt.eq(&receipt))
                    .filter(inbound_notifications::status.eq(InboxStatus::Waiting)),
            )
            .set((
                inbound_notifications::status.eq(InboxStatus::Processed),
                inbound_notifications::error.eq(note),
            ))
            .execute(c)?;
            Ok::<_, AppError>(())
        })?;
    }
    Ok(n)
}
