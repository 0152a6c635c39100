//! The one domain function that turns a ClickBank event into CRM records. Instant
//! Notifications and the orders-list import both build an [`OrderEvent`] and call
//! [`apply`], so the same sale seen twice — in either order of arrival — is one order.
//!
//! Idempotency: every applied event's key (plugin, receipt, type, time, items) is stored in
//! `applied_events`; a key seen again changes nothing. Events that need an order which has not
//! arrived yet (an RFND before its SALE) wait in `pending_events` and are applied right after
//! the SALE, in the same transaction.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clickbank::ins::Notification;
use crate::clickbank::{Amount, OrderRecord};
use crate::db::models::Plugin;
use crate::db::schema::{
    applied_events, campaigns, customers, fulfillments, inbound_notifications, order_items, orders, partials,
    pending_events, purchases, transactions,
};
use crate::db::statements::{insert_id, kept_update, Stamp};
use crate::db::{on_backend, DbConn};
use crate::error::AppError;

use super::products::{clickbank_house_id, product_for};
use super::{insert_ignoring_duplicate, is_unique_violation, service_requests};

/// The customer as ClickBank sent them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventCustomer {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub billing: EventAddress,
    pub shipping: EventAddress,
    pub ship_first_name: String,
    pub ship_last_name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventAddress {
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

/// One line item of an event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventItem {
    pub item_no: String,
    pub title: String,
    pub line_item_type: String,
    pub quantity: i32,
    pub amount_minor: i64,
    pub shippable: bool,
    pub recurring: bool,
    pub rebill_amount_minor: Option<i64>,
    pub next_payment: Option<DateTime<Utc>>,
    pub frequency: Option<String>,
    pub payments_processed: Option<i32>,
}

/// A ClickBank transaction or notification, whatever channel brought it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderEvent {
    /// ClickBank's `transactionType` spelling (`SALE`, `CANCEL-REBILL`, ...).
    pub kind: String,
    pub time: DateTime<Utc>,
    pub receipt: String,
    pub parent_receipt: Option<String>,
    pub vendor: Option<String>,
    pub affiliate: Option<String>,
    pub payment_method: Option<String>,
    pub currency: String,
    pub total_minor: i64,
    pub tax_minor: i64,
    pub shipping_minor: i64,
    pub customer: EventCustomer,
    pub items: Vec<EventItem>,
}

fn s(v: &Option<String>) -> String {
    v.as_deref().unwrap_or("").trim().to_string()
}

fn minor(a: &Option<Amount>, currency: &str) -> Result<i64, AppError> {
    match a {
        Some(a) => a
            .to_minor(currency)
            .map(i64::abs)
            .map_err(|e| AppError::Validation(format!("bad amount {:?}: {e}", a.as_str()))),
        None => Ok(0),
    }
}

fn currency_of(c: &Option<String>) -> String {
    let c = s(c).to_ascii_uppercase();
    if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
        c
    } else {
        "USD".to_string()
    }
}

impl OrderEvent {
    /// From a decrypted Instant Notification.
    pub fn from_notification(n: &Notification) -> Result<Self, AppError> {
        let currency = currency_of(&n.currency);
        let contact = n.contact();
        let ship = n.customer.as_ref().and_then(|c| c.shipping.as_ref());
        let addr = |c: Option<&crate::clickbank::ins::Contact>| {
            c.and_then(|c| c.address.as_ref())
                .map(|a| EventAddress {
                    address1: s(&a.address1),
                    address2: s(&a.address2),
                    city: s(&a.city),
                    state: s(&a.state),
                    postal_code: s(&a.postal_code),
                    country: s(&a.country),
                })
                .unwrap_or_default()
        };
        let customer = EventCustomer {
            email: n.email().unwrap_or("").trim().to_lowercase(),
            first_name: contact.map(|c| s(&c.first_name)).unwrap_or_default(),
            last_name: contact.map(|c| s(&c.last_name)).unwrap_or_default(),
            phone: contact.map(|c| s(&c.phone_number)).unwrap_or_default(),
            billing: addr(n.customer.as_ref().and_then(|c| c.billing.as_ref()).or(ship)),
            shipping: addr(ship.or(contact)),
            ship_first_name: ship.map(|c| s(&c.first_name)).unwrap_or_default(),
            ship_last_name: ship.map(|c| s(&c.last_name)).unwrap_or_default(),
        };
        let mut items = Vec::new();
        for li in &n.line_items {
            let plan = li.payment_plan.as_ref();
            let price = li.product_price.clone().or_else(|| li.account_amount.clone());
            items.push(EventItem {
                item_no: li.item_no.trim().to_string(),
                title: s(&li.product_title),
                line_item_type: li
                    .line_item_type
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "ORIGINAL".into()),
                quantity: li.quantity.unwrap_or(1).min(i32::MAX as u32) as i32,
                amount_minor: minor(&price, &currency)?,
                shippable: li.shippable.unwrap_or(false),
                recurring: li.recurring.unwrap_or(false),
                rebill_amount_minor: plan
                    .and_then(|p| p.rebill_amount.as_ref())
                    .map(|a| minor(&Some(a.clone()), &currency))
                    .transpose()?,
                next_payment: plan.and_then(|p| p.next_payment_date),
                frequency: plan
                    .and_then(|p| p.rebill_frequency.as_ref())
                    .map(|f| f.to_string()),
                payments_processed: plan
                    .and_then(|p| p.payments_processed)
                    .map(|n| n.min(i32::MAX as u32) as i32),
            });
        }
        Ok(OrderEvent {
            kind: n.transaction_type.to_string(),
            time: n.transaction_time,
            receipt: n.receipt.trim().to_string(),
            parent_receipt: n
                .upsell
                .as_ref()
                .and_then(|u| u.upsell_original_receipt.clone())
                .filter(|r| !r.trim().is_empty()),
            vendor: n.vendor.clone(),
            affiliate: n.affiliate.clone().filter(|a| !a.trim().is_empty()),
            payment_method: n.payment_method.clone(),
            total_minor: minor(&n.total_order_amount, &currency)?,
            tax_minor: minor(&n.total_tax_amount, &currency)?,
            shipping_minor: minor(&n.total_shipping_amount, &currency)?,
            currency,
            customer,
            items,
        })
    }

    /// From a record of ClickBank's orders list (the API import).
    pub fn from_record(r: &OrderRecord) -> Result<Self, AppError> {
        let currency = currency_of(&r.currency);
        let phone = r
            .customer_contact_info
            .iter()
            .find(|c| {
                c.field
                    .as_deref()
                    .is_some_and(|f| f.to_ascii_lowercase().contains("phone"))
            })
            .map(|c| s(&c.value))
            .unwrap_or_default();
        let address = EventAddress {
            state: s(&r.state),
            postal_code: s(&r.postal_code),
            country: s(&r.country),
            ..Default::default()
        };
        let customer = EventCustomer {
            email: s(&r.email).to_lowercase(),
            first_name: s(&r.first_name),
            last_name: s(&r.last_name),
            phone,
            billing: address.clone(),
            shipping: address,
            ship_first_name: s(&r.first_name),
            ship_last_name: s(&r.last_name),
        };
        let mut items = Vec::new();
        for li in &r.line_items {
            items.push(EventItem {
                item_no: li.item_no.trim().to_string(),
                title: s(&li.product_title),
                line_item_type: li
                    .line_item_type
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "ORIGINAL".into()),
                quantity: li.quantity.unwrap_or(1).min(i32::MAX as u32) as i32,
                amount_minor: minor(
                    &li.customer_amount.clone().or_else(|| li.account_amount.clone()),
                    &currency,
                )?,
                shippable: li.shippable.unwrap_or(false),
                recurring: li.recurring.unwrap_or(false),
                rebill_amount_minor: li
                    .rebill_amount
                    .as_ref()
                    .map(|a| minor(&Some(a.clone()), &currency))
                    .transpose()?,
                next_payment: li.next_payment_date,
                frequency: None,
                payments_processed: li.processed_payments.map(|n| n.min(i32::MAX as u32) as i32),
            });
        }
        Ok(OrderEvent {
            kind: r.transaction_type.to_string(),
            time: r.transaction_time,
            receipt: r.receipt.trim().to_string(),
            parent_receipt: r.upsell_original_receipt.clone().filter(|x| !x.trim().is_empty()),
            vendor: r.vendor.clone(),
            affiliate: r.affiliate.clone().filter(|a| !a.trim().is_empty()),
            payment_method: r.payment_method.clone(),
            total_minor: minor(&r.total_order_amount, &currency)?,
            tax_minor: minor(&r.total_tax_amount, &currency)?,
            shipping_minor: minor(&r.total_shipping_amount, &currency)?,
            currency,
            customer,
            items,
        })
    }

    /// The one event key: (plugin, receipt, type, time, items).
    pub fn key(&self, plugin_id: i64) -> String {
        let mut items: Vec<&str> = self.items.iter().map(|i| i.item_no.as_str()).collect();
        items.sort_unstable();
        format!(
            "{plugin_id}|{}|{}|{}|{}",
            self.receipt,
            self.kind,
            self.time.format("%Y-%m-%dT%H:%M:%SZ"),
            items.join("+")
        )
    }

    fn is_test(&self) -> bool {
        self.kind == "TEST" || self.kind.starts_with("TEST_") || self.kind.contains("-TEST-")
    }

    /// The live type a test type stands for (`TEST_SALE` → `SALE`).
    fn live_kind(&self) -> &str {
        match self.kind.as_str() {
            "TEST_SALE" => "SALE",
            "TEST_BILL" => "BILL",
            "TEST_RFND" => "RFND",
            "CANCEL-TEST-REBILL" => "CANCEL-REBILL",
            "UNCANCEL-TEST-REBILL" => "UNCANCEL-REBILL",
            other => other,
        }
    }
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied {
        order_id: Option<i64>,
    },
    /// Seen before: nothing changed.
    Duplicate,
    /// Waits for its parent order.
    Pending,
    /// Kept but not applied, with the reason.
    Ignored(String),
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// Applies `ev` for `plugin` in one transaction. `source` is `ins` or `import`.
pub fn apply(conn: &mut DbConn, plugin: &Plugin, ev: &OrderEvent, source: &str) -> Result<Outcome, AppError> {
    apply_with(conn, plugin, ev, source, &mut Lookups::default())
}

/// What the events of one transaction (an import's pages) share:
/// - ids looked up once: the campaign, the category's products and the dummy house rarely
///   change;
/// - which event keys are applied already, asked for all the pages' records at once
///   ([`Lookups::known_applied`]) instead of once per record;
/// - the rows nothing reads back before the commit (the event keys and the money
///   transactions), written together by [`Lookups::flush`] with a few multi-row INSERTs:
///   one statement per row was a fifth of an import.
///
/// Cleared when an event fails, since its savepoint took back what it had created.
#[derive(Debug, Default)]
pub struct Lookups {
    house: Option<i64>,
    campaigns: std::collections::HashMap<(String, bool), i64>,
    products: std::collections::HashMap<String, (i64, i64)>,
    /// Keys asked about by `known_applied`, and those of them found applied.
    asked: HashSet<String>,
    found: HashSet<String>,
    /// Keys applied in this transaction, written or not.
    applied_now: HashSet<String>,
    /// (key, plugin, order)
    unwritten_keys: Vec<(String, i64, Option<i64>)>,
    unwritten_transactions: Vec<NewTransaction>,
    /// The transaction's time: `created_at` and `updated_at` of what its events write.
    now: Option<Stamp>,
}

/// A money transaction waiting for [`Lookups::flush`].
#[derive(Debug)]
struct NewTransaction {
    order_id: i64,
    kind: String,
    item_no: Option<String>,
    amount_minor: i64,
    currency: String,
    time: Stamp,
    source: String,
}

/// Rows per multi-row INSERT: 8 columns × 500 stays far below both backends' bind limits.
const ROWS_PER_INSERT: usize = 500;

/// Inserts the items of the Vec `$items` (taking them) into `$table`, `ROWS_PER_INSERT` rows per
/// statement, each item made a row of owned values by `$row`.
macro_rules! insert_in_chunks {
    ($conn:expr, $table:expr, $items:expr, |$x:pat_param| $row:expr) => {
        let mut items = std::mem::take(&mut $items).into_iter().peekable();
        while items.peek().is_some() {
            let rows: Box<[_]> = items.by_ref().take(ROWS_PER_INSERT).map(|$x| $row).collect();
            // A full chunk goes as an array: an INSERT of one length, which diesel keeps
            // prepared (one of a Vec's varying length is written and prepared on every run).
            match Box::<[_; ROWS_PER_INSERT]>::try_from(rows) {
                Ok(full) => on_backend!($conn, |c| diesel::insert_into($table).values(full).execute(c))?,
                Err(rest) => {
                    let rest = rest.into_vec();
                    on_backend!($conn, |c| diesel::insert_into($table).values(&rest).execute(c))?
                }
            };
        }
    };
}

impl Lookups {
    /// Looks up at once which of `keys` are applied already (an import's pages).
    ///
    /// SQLite only: there the whole transaction is the process's one writer, so the answer
    /// holds until the commit. On PostgreSQL another process may apply one of these events
    /// between this question and the advisory lock on its receipt, so each event is asked
    /// about once its lock is held, as before.
    pub fn known_applied(&mut self, conn: &mut DbConn, keys: &[String]) -> Result<(), AppError> {
        if matches!(conn, DbConn::Postgres(_)) {
            return Ok(());
        }
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let found: Vec<String> = on_backend!(conn, |c| applied_events::table
                .filter(applied_events::event_key.eq_any(chunk))
                .select(applied_events::event_key)
                .load(c))?;
            self.found.extend(found);
            self.asked.extend(chunk.iter().cloned());
        }
        Ok(())
    }

    fn is_applied(&self, conn: &mut DbConn, key: &str) -> Result<bool, AppError> {
        if self.applied_now.contains(key) || self.found.contains(key) {
            return Ok(true);
        }
        if self.asked.contains(key) {
            return Ok(false);
        }
        let n: i64 = on_backend!(conn, |c| applied_events::table
            .filter(applied_events::event_key.eq(key))
            .count()
            .get_result(c))?;
        Ok(n > 0)
    }

    fn mark_applied(&mut self, key: String, plugin_id: i64, order_id: Option<i64>) {
        self.applied_now.insert(key.clone());
        self.unwritten_keys.push((key, plugin_id, order_id));
    }

    fn add_transaction(&mut self, order_id: i64, ev: &OrderEvent, time: &Stamp, amount: i64, source: &str) {
        self.unwritten_transactions.push(NewTransaction {
            order_id,
            kind: ev.kind.clone(),
            item_no: ev.items.first().map(|i| i.item_no.clone()),
            amount_minor: amount,
            currency: ev.currency.clone(),
            time: time.clone(),
            source: source.to_string(),
        });
    }

    /// The time of the caller's transaction, taken when its first event asks: what its rows
    /// are created or updated at (the time text is then written once for all of them).
    fn now(&mut self) -> Stamp {
        self.now.get_or_insert_with(|| Stamp::new(super::now())).clone()
    }

    /// Writes the rows kept back; call before the transaction commits.
    pub fn flush(&mut self, conn: &mut DbConn) -> Result<(), AppError> {
        let now = self.now();
        insert_in_chunks!(conn, applied_events::table, self.unwritten_keys, |(
            key,
            plugin,
            order,
        )| (
            applied_events::event_key.eq(key),
            applied_events::plugin_id.eq(plugin),
            applied_events::order_id.eq(order),
            applied_events::applied_at.eq(now.clone()),
        ));
        insert_in_chunks!(conn, transactions::table, self.unwritten_transactions, |t| (
            transactions::order_id.eq(t.order_id),
            transactions::kind.eq(t.kind),
            transactions::item_no.eq(t.item_no),
            transactions::amount_minor.eq(t.amount_minor),
            transactions::currency.eq(t.currency),
            transactions::transaction_time.eq(t.time),
            transactions::source.eq(t.source),
            transactions::created_at.eq(now.clone()),
        ));
        Ok(())
    }
    fn house(&mut self, conn: &mut DbConn) -> Result<i64, AppError> {
        if let Some(h) = self.house {
            return Ok(h);
        }
        let h = clickbank_house_id(conn)?;
        self.house = Some(h);
        Ok(h)
    }

    fn campaign(
        &mut self,
        conn: &mut DbConn,
        plugin: &Plugin,
        currency: &str,
        test: bool,
    ) -> Result<i64, AppError> {
        let key = (currency.to_string(), test);
        if let Some(id) = self.campaigns.get(&key) {
            return Ok(*id);
        }
        let id = campaign_id(conn, plugin, currency, test)?;
        self.campaigns.insert(key, id);
        Ok(id)
    }

    fn product(
        &mut self,
        conn: &mut DbConn,
        plugin: &Plugin,
        item: &EventItem,
        currency: &str,
    ) -> Result<(i64, i64), AppError> {
        if let Some(p) = self.products.get(&item.item_no) {
            return Ok(*p);
        }
        let p = product_for(conn, plugin, item, currency)?;
        self.products.insert(item.item_no.clone(), p);
        Ok(p)
    }
}

/// [`apply`] sharing `lookups` with the other events of the caller's transaction.
pub fn apply_with(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    source: &str,
    lookups: &mut Lookups,
) -> Result<Outcome, AppError> {
    let r = conn.transaction(|conn| {
        let outcome = apply_unguarded(conn, plugin, ev, source, lookups)?;
        lookups.flush(conn)?;
        Ok(outcome)
    });
    if r.is_err() {
        *lookups = Lookups::default();
    }
    r
}

/// [`apply_with`] without a savepoint of its own: for a caller that applies many events in
/// one transaction and, when one fails, rolls the whole transaction back and applies them
/// again one savepoint each (the import, see `imports`). A savepoint per event costs an
/// import more than a tenth of its time; failures are rare. The caller calls
/// [`Lookups::flush`] before it commits.
pub fn apply_unguarded(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    source: &str,
    lk: &mut Lookups,
) -> Result<Outcome, AppError> {
    if let DbConn::Postgres(pg) = conn {
        // Events of one receipt take turns across processes, so a refund parked while its sale
        // is being inserted elsewhere cannot be missed by both.
        let base = ev.receipt.split_once('-').map_or(ev.receipt.as_str(), |(b, _)| b);
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(format!("{}|{}", plugin.id, base))
            .execute(pg)?;
    }
    let key = ev.key(plugin.id);
    if lk.is_applied(conn, &key)? {
        return Ok(Outcome::Duplicate);
    }
    if ev.kind == "TEST" {
        return Ok(Outcome::Ignored(
            "ClickBank test notification (the Test URL button): logged only".into(),
        ));
    }
    let test = ev.is_test();
    if test && !plugin.include_test {
        return Ok(Outcome::Ignored(
            "test transaction: this plugin does not include test transactions".into(),
        ));
    }
    let outcome = match ev.live_kind() {
        "SALE" => sale(conn, plugin, ev, test, source, lk)?,
        "BILL" => with_order(conn, plugin, ev, |conn, order| {
            rebill(conn, order, ev, source, lk)
        })?,
        "RFND" | "CGBK" | "INSF" => with_order(conn, plugin, ev, |conn, order| {
            refund(conn, order, ev, source, lk)
        })?,
        "CANCEL-REBILL" => with_order(conn, plugin, ev, |conn, order| {
            set_purchases(conn, order, ev, "CANCELLED")?;
            let ids = purchase_ids(conn, order, ev)?;
            service_requests::settled_by_event(conn, order.id, &["cancel"], Some(&ids))?;
            Ok(())
        })?,
        "UNCANCEL-REBILL" => with_order(conn, plugin, ev, |conn, order| {
            set_purchases(conn, order, ev, "ACTIVE")
        })?,
        "SUBSCRIPTION-CHG" => with_order(conn, plugin, ev, |conn, order| {
            subscription_change(conn, order, ev)
        })?,
        "ABANDONED_ORDER" => partial(conn, plugin, ev)?,
        other => Outcome::Ignored(format!("{other} notifications are logged only")),
    };
    if matches!(outcome, Outcome::Applied { .. }) {
        let order_id = match &outcome {
            Outcome::Applied { order_id } => *order_id,
            _ => None,
        };
        lk.mark_applied(key, plugin.id, order_id);
    }
    Ok(outcome)
}

#[derive(Queryable, Debug, Clone)]
struct OrderRow {
    id: i64,
    total_minor: i64,
    refunded_minor: i64,
}

fn find_order(conn: &mut DbConn, plugin_id: i64, receipt: &str) -> Result<Option<OrderRow>, AppError> {
    let q = |conn: &mut DbConn, r: &str| -> QueryResult<Option<OrderRow>> {
        on_backend!(conn, |c| orders::table
            .filter(orders::plugin_id.eq(plugin_id))
            .filter(orders::receipt.eq(r))
            .select((orders::id, orders::total_minor, orders::refunded_minor))
            .get_result(c)
            .optional())
    };
    if let Some(o) = q(conn, receipt)? {
        return Ok(Some(o));
    }
    // Rebill receipts may carry a suffix after the original receipt (`ABCD1234-B01`).
    match receipt.split_once('-') {
        Some((base, _)) if !base.is_empty() => Ok(q(conn, base)?),
        _ => Ok(None),
    }
}

/// Runs `f` on the event's order, or parks the event until that order arrives.
fn with_order<F>(conn: &mut DbConn, plugin: &Plugin, ev: &OrderEvent, f: F) -> Result<Outcome, AppError>
where
    F: FnOnce(&mut DbConn, &OrderRow) -> Result<(), AppError>,
{
    match find_order(conn, plugin.id, &ev.receipt)? {
        Some(order) => {
            f(conn, &order)?;
            Ok(Outcome::Applied {
                order_id: Some(order.id),
            })
        }
        None => {
            let key = ev.key(plugin.id);
            let payload =
                serde_json::to_string(ev).map_err(|e| AppError::Internal(format!("event encoding: {e}")))?;
            let parked = conn.transaction(|c| {
                diesel::insert_into(pending_events::table)
                    .values((
                        pending_events::event_key.eq(&key),
                        pending_events::plugin_id.eq(plugin.id),
                        pending_events::receipt.eq(&ev.receipt),
                        pending_events::payload.eq(&payload),
                        pending_events::created_at.eq(super::now()),
                    ))
                    .execute(c)
            });
            match parked {
                Ok(_) => Ok(Outcome::Pending),
                Err(e) if is_unique_violation(&e) => Ok(Outcome::Duplicate),
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn campaign_id(conn: &mut DbConn, plugin: &Plugin, currency: &str, test: bool) -> Result<i64, AppError> {
    let find = |conn: &mut DbConn| -> QueryResult<Option<i64>> {
        campaigns::table
            .filter(campaigns::plugin_id.eq(plugin.id))
            .filter(campaigns::currency.eq(currency))
            .filter(campaigns::is_test.eq(test))
            .select(campaigns::id)
            .first(conn)
            .optional()
    };
    if let Some(id) = find(conn)? {
        return Ok(id);
    }
    let name = format!("{}_{}{}", plugin.name, currency, if test { "_TEST" } else { "" });
    insert_ignoring_duplicate(conn, |c| {
        diesel::insert_into(campaigns::table)
            .values((
                campaigns::plugin_id.eq(plugin.id),
                campaigns::currency.eq(currency),
                campaigns::is_test.eq(test),
                campaigns::name.eq(&name),
                campaigns::name_locked.eq(true),
                campaigns::created_at.eq(super::now()),
            ))
            .execute(c)
    })?;
    find(conn)?
        .ok_or_else(|| AppError::Internal(format!("campaign {name} could not be created (name taken?)")))
}

fn customer_id(conn: &mut DbConn, plugin: &Plugin, c: &EventCustomer, now: &Stamp) -> Result<i64, AppError> {
    if c.email.is_empty() {
        return Err(AppError::Validation("the event has no customer email".into()));
    }
    let find = |conn: &mut DbConn| -> QueryResult<Option<(i64, String, String)>> {
        on_backend!(conn, |k| customers::table
            .filter(customers::plugin_id.eq(plugin.id))
            .filter(customers::email.eq(&c.email))
            .select((customers::id, customers::first_name, customers::last_name))
            .get_result(k)
            .optional())
    };
    let existing = find(conn)?;
    let values = (
        customers::first_name.eq(&c.first_name),
        customers::last_name.eq(&c.last_name),
        customers::phone.eq(&c.phone),
        customers::bill_address1.eq(&c.billing.address1),
        customers::bill_address2.eq(&c.billing.address2),
        customers::bill_city.eq(&c.billing.city),
        customers::bill_state.eq(&c.billing.state),
        customers::bill_postal_code.eq(&c.billing.postal_code),
        customers::bill_country.eq(&c.billing.country),
        customers::ship_first_name.eq(&c.ship_first_name),
        customers::ship_last_name.eq(&c.ship_last_name),
        customers::ship_address1.eq(&c.shipping.address1),
        customers::ship_address2.eq(&c.shipping.address2),
        customers::ship_city.eq(&c.shipping.city),
        customers::ship_state.eq(&c.shipping.state),
        customers::ship_postal_code.eq(&c.shipping.postal_code),
        customers::ship_country.eq(&c.shipping.country),
    );
    if let Some((id, first, last)) = existing {
        // Newer data wins, but an event that lacks a field (the orders list has no street)
        // never blanks what an earlier one gave. Unchanged names are not written again (a
        // returning buyer's next order, most of an import).
        if !c.billing.address1.is_empty() || !c.first_name.is_empty() {
            if !c.billing.address1.is_empty() {
                let by_id = customers::id.eq(id);
                on_backend!(conn, |k| kept_update!(
                    customers::table,
                    by_id,
                    (values, customers::updated_at.eq(now))
                )
                .execute(k))?;
            } else if (first.as_str(), last.as_str()) != (c.first_name.as_str(), c.last_name.as_str()) {
                let name = (
                    customers::first_name.eq(&c.first_name),
                    customers::last_name.eq(&c.last_name),
                    customers::updated_at.eq(now),
                );
                let by_id = customers::id.eq(id);
                on_backend!(conn, |k| kept_update!(customers::table, by_id, name).execute(k))?;
            }
        }
        return Ok(id);
    }
    // Another process may insert the same buyer meanwhile: theirs is kept and found below.
    let inserted = insert_id!(
        conn,
        diesel::insert_into(customers::table)
            .values((
                customers::plugin_id.eq(plugin.id),
                customers::email.eq(&c.email),
                values,
                customers::created_at.eq(now),
                customers::updated_at.eq(now),
            ))
            .on_conflict_do_nothing(),
        customers::id
    )?;
    match inserted {
        Some(id) => Ok(id),
        None => find(conn)?
            .map(|(id, _, _)| id)
            .ok_or_else(|| AppError::Internal(format!("customer {} could not be created", c.email))),
    }
}

fn sale(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    test: bool,
    source: &str,
    lk: &mut Lookups,
) -> Result<Outcome, AppError> {
    if let Some(existing) = find_order(conn, plugin.id, &ev.receipt)?.filter(|_| !ev.receipt.contains('-')) {
        // The same sale from the other channel (or with another time stamp): one order.
        return Ok(Outcome::Applied {
            order_id: Some(existing.id),
        });
    }
    let campaign = lk.campaign(conn, plugin, &ev.currency, test)?;
    let now = lk.now();
    let customer = customer_id(conn, plugin, &ev.customer, &now)?;
    let t = Stamp::new(naive(ev.time));
    let order_id = insert_id!(
        conn,
        diesel::insert_into(orders::table).values((
            orders::plugin_id.eq(plugin.id),
            orders::campaign_id.eq(campaign),
            orders::customer_id.eq(customer),
            orders::receipt.eq(&ev.receipt),
            orders::parent_receipt.eq(&ev.parent_receipt),
            orders::order_type.eq(&ev.kind),
            orders::status.eq("COMPLETE"),
            orders::affiliate.eq(&ev.affiliate),
            orders::payment_method.eq(&ev.payment_method),
            orders::currency.eq(&ev.currency),
            orders::total_minor.eq(ev.total_minor),
            orders::tax_minor.eq(ev.tax_minor),
            orders::shipping_minor.eq(ev.shipping_minor),
            orders::refunded_minor.eq(0i64),
            orders::transaction_time.eq(&t),
            orders::created_at.eq(&now),
            orders::updated_at.eq(&now),
        )),
        orders::id
    )?
    .ok_or_else(|| AppError::Internal(format!("order {} was not inserted", ev.receipt)))?;
    let dummy_house = lk.house(conn)?;
    for item in &ev.items {
        let (product_id, house) = lk.product(conn, plugin, item, &ev.currency)?;
        let item_id = insert_id!(
            conn,
            diesel::insert_into(order_items::table).values((
                order_items::order_id.eq(order_id),
                order_items::product_id.eq(product_id),
                order_items::item_no.eq(&item.item_no),
                order_items::title.eq(&item.title),
                order_items::line_item_type.eq(&item.line_item_type),
                order_items::quantity.eq(item.quantity),
                order_items::amount_minor.eq(item.amount_minor),
                order_items::shippable.eq(item.shippable),
                order_items::recurring.eq(item.recurring),
            )),
            order_items::id
        )?
        .ok_or_else(|| AppError::Internal(format!("an item of order {} was not inserted", ev.receipt)))?;
        if item.recurring {
            let status = if item.amount_minor == 0 { "TRIAL" } else { "ACTIVE" };
            on_backend!(conn, |c| diesel::insert_into(purchases::table)
                .values((
                    purchases::order_id.eq(order_id),
                    purchases::order_item_id.eq(item_id),
                    purchases::customer_id.eq(customer),
                    purchases::product_id.eq(product_id),
                    purchases::status.eq(status),
                    purchases::billing_cycle.eq(item.payments_processed.unwrap_or(1).max(1)),
                    purchases::rebill_amount_minor.eq(item.rebill_amount_minor),
                    purchases::frequency.eq(&item.frequency),
                    purchases::next_bill_date.eq(item.next_payment.map(|t| Stamp::new(naive(t)))),
                    purchases::created_at.eq(&now),
                    purchases::updated_at.eq(&now),
                ))
                .execute(c))?;
        }
        if item.shippable {
            let status = if plugin.clickbank_ships && house == dummy_house {
                "SHIPPED"
            } else {
                "HOLD"
            };
            on_backend!(conn, |c| diesel::insert_into(fulfillments::table)
                .values((
                    fulfillments::order_id.eq(order_id),
                    fulfillments::order_item_id.eq(item_id),
                    fulfillments::cycle.eq(1),
                    fulfillments::house_id.eq(house),
                    fulfillments::status.eq(status),
                    fulfillments::ship_to.eq(Some(super::fulfillment::ship_to_json(&ev.customer))),
                    fulfillments::created_at.eq(&now),
                    fulfillments::updated_at.eq(&now),
                ))
                .execute(c))?;
        }
    }
    lk.add_transaction(order_id, ev, &t, ev.total_minor, source);
    // An abandoned cart of the same buyer is now converted. (Looked up first: a SELECT stays
    // prepared between events, an UPDATE is compiled each time, and most buyers have no cart.)
    let carts: Vec<i64> = on_backend!(conn, |c| partials::table
        .filter(partials::plugin_id.eq(plugin.id))
        .filter(partials::email.eq(&ev.customer.email))
        .filter(partials::converted_order_id.is_null())
        .filter(partials::event_time.le(&t))
        .select(partials::id)
        .load(c))?;
    if !carts.is_empty() {
        diesel::update(partials::table.filter(partials::id.eq_any(carts)))
            .set(partials::converted_order_id.eq(Some(order_id)))
            .execute(conn)?;
    }
    if apply_waiting(conn, plugin, &ev.receipt, source, lk)? > 0 {
        // Deliveries that waited for this sale were applied with it, whichever channel
        // brought the sale.
        diesel::update(
            inbound_notifications::table
                .filter(inbound_notifications::plugin_id.eq(plugin.id))
                .filter(inbound_notifications::receipt.eq(&ev.receipt))
                .filter(inbound_notifications::status.eq("waiting")),
        )
        .set((
            inbound_notifications::status.eq("processed"),
            inbound_notifications::error.eq(None::<String>),
        ))
        .execute(conn)?;
    }
    Ok(Outcome::Applied {
        order_id: Some(order_id),
    })
}

/// Applies events that were waiting for this receipt, oldest first.
fn apply_waiting(
    conn: &mut DbConn,
    plugin: &Plugin,
    receipt: &str,
    source: &str,
    lk: &mut Lookups,
) -> Result<usize, AppError> {
    let waiting: Vec<(i64, String)> = on_backend!(conn, |c| pending_events::table
        .filter(pending_events::plugin_id.eq(plugin.id))
        .filter(pending_events::receipt.eq(receipt))
        .order(pending_events::id.asc())
        .select((pending_events::id, pending_events::payload))
        .load(c))?;
    let n = waiting.len();
    for (id, payload) in waiting {
        diesel::delete(pending_events::table.find(id)).execute(conn)?;
        let ev: OrderEvent = serde_json::from_str(&payload)
            .map_err(|e| AppError::Internal(format!("a waiting event cannot be read: {e}")))?;
        apply_unguarded(conn, plugin, &ev, source, lk)?;
    }
    Ok(n)
}

/// Purchases of the order, narrowed to the event's items when it names any.
fn purchase_ids(conn: &mut DbConn, order: &OrderRow, ev: &OrderEvent) -> Result<Vec<i64>, AppError> {
    // All of the order's purchases (a few at most) by one statement that stays prepared,
    // narrowed here rather than by an `IN` list SQLite would compile each time.
    let all: Vec<(i64, String)> = on_backend!(conn, |c| purchases::table
        .inner_join(order_items::table)
        .filter(purchases::order_id.eq(order.id))
        .select((purchases::id, order_items::item_no))
        .order(purchases::id.asc())
        .load(c))?;
    let named = |item_no: &str| ev.items.iter().any(|i| i.item_no == item_no);
    let narrow = ev.items.iter().any(|i| !i.item_no.is_empty());
    Ok(all
        .into_iter()
        .filter(|(_, item_no)| !narrow || named(item_no))
        .map(|(id, _)| id)
        .collect())
}

fn rebill(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
    source: &str,
    lk: &mut Lookups,
) -> Result<(), AppError> {
    let (now, time) = (lk.now(), Stamp::new(naive(ev.time)));
    lk.add_transaction(order.id, ev, &time, ev.total_minor, source);
    let next = ev
        .items
        .iter()
        .find_map(|i| i.next_payment)
        .map(|t| Stamp::new(naive(t)));
    for id in purchase_ids(conn, order, ev)? {
        let cycle = (
            purchases::billing_cycle.eq(purchases::billing_cycle + 1),
            purchases::status.eq("ACTIVE"),
            purchases::updated_at.eq(&now),
        );
        let by_id = purchases::id.eq(id);
        on_backend!(conn, |c| match &next {
            Some(next) => kept_update!(
                purchases::table,
                by_id,
                (cycle, purchases::next_bill_date.eq(Some(next)))
            )
            .execute(c),
            None => kept_update!(purchases::table, by_id, cycle).execute(c),
        })?;
        // A rebilled physical subscription ships again: a new item for the new cycle.
        super::fulfillment::rebill_item(conn, id, &ev.customer, &time, &now)?;
    }
    Ok(())
}

fn refund(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
    source: &str,
    lk: &mut Lookups,
) -> Result<(), AppError> {
    let amount = if ev.total_minor == 0 {
        order.total_minor - order.refunded_minor
    } else {
        ev.total_minor
    };
    lk.add_transaction(order.id, ev, &Stamp::new(naive(ev.time)), amount, source);
    let refunded = order.refunded_minor + amount;
    let full = refunded >= order.total_minor;
    let money = (
        orders::refunded_minor.eq(refunded),
        orders::updated_at.eq(lk.now()),
    );
    let by_id = orders::id.eq(order.id);
    on_backend!(conn, |c| if full {
        kept_update!(orders::table, by_id, (money, orders::status.eq("REFUNDED"))).execute(c)
    } else {
        kept_update!(orders::table, by_id, money).execute(c)
    })?;
    if full {
        // Nothing refunded ships: items not at a house yet (on hold, or waiting for an export
        // retry) are cancelled.
        diesel::update(
            fulfillments::table
                .filter(fulfillments::order_id.eq(order.id))
                .filter(fulfillments::status.eq_any(super::fulfillment::CANCEL_ON_REFUND)),
        )
        .set((
            fulfillments::status.eq("CANCELLED"),
            fulfillments::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    }
    // ClickBank stops future billing of a refunded or charged-back recurring item.
    set_purchases(conn, order, ev, "CANCELLED")?;
    // The refund (and any cancellation) staff requested for this order is now complete.
    service_requests::settled_by_event(conn, order.id, &["refund", "cancel"], None)?;
    Ok(())
}

fn set_purchases(conn: &mut DbConn, order: &OrderRow, ev: &OrderEvent, status: &str) -> Result<(), AppError> {
    let cancelled_at = (status == "CANCELLED").then(|| naive(ev.time));
    for id in purchase_ids(conn, order, ev)? {
        let changes = (
            purchases::status.eq(status),
            purchases::cancelled_at.eq(cancelled_at),
            purchases::pending_request.eq(None::<String>),
            purchases::updated_at.eq(super::now()),
        );
        let by_id = purchases::id.eq(id);
        on_backend!(conn, |c| kept_update!(purchases::table, by_id, changes)
            .execute(c))?;
    }
    Ok(())
}

fn subscription_change(conn: &mut DbConn, order: &OrderRow, ev: &OrderEvent) -> Result<(), AppError> {
    for item in &ev.items {
        let one = OrderEvent {
            items: vec![item.clone()],
            ..ev.clone()
        };
        for id in purchase_ids(conn, order, &one)? {
            diesel::update(purchases::table.find(id))
                .set((
                    purchases::next_bill_date.eq(item.next_payment.map(naive)),
                    purchases::rebill_amount_minor.eq(item.rebill_amount_minor),
                    purchases::updated_at.eq(super::now()),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

fn partial(conn: &mut DbConn, plugin: &Plugin, ev: &OrderEvent) -> Result<Outcome, AppError> {
    if ev.customer.email.is_empty() {
        return Ok(Outcome::Ignored("abandoned order without an email".into()));
    }
    diesel::insert_into(partials::table)
        .values((
            partials::plugin_id.eq(plugin.id),
            partials::email.eq(&ev.customer.email),
            partials::first_name.eq(&ev.customer.first_name),
            partials::last_name.eq(&ev.customer.last_name),
            partials::phone.eq(&ev.customer.phone),
            partials::country.eq(&ev.customer.billing.country),
            partials::item_no.eq(ev.items.first().map(|i| i.item_no.clone())),
            partials::event_time.eq(naive(ev.time)),
            partials::created_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(Outcome::Applied { order_id: None })
}
