//! The customer profile: details, orders with items and transactions, purchases, fulfillment
//! items, the requests staff sent to ClickBank, staff notes, and one timeline of it all.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::requests::{self, ServiceRequest};
use super::timeline::{self, TimelineEntry};
use crate::clickbank::{format_minor, TransactionType};
use crate::db::models::{OrderShown, OrderStatus, PurchaseShown, PurchaseStatus};
use crate::db::schema::{
    campaigns, customer_notes, customers, fulfillment_houses, fulfillments, order_items, orders, plugins,
    products, purchases, transactions,
};
use crate::db::DbConn;
use crate::domain::{audit, Actor};
use crate::error::AppError;

/// A note is at most this long.
pub const MAX_NOTE_CHARS: usize = 4000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: i64,
    pub plugin_id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub bill_address1: String,
    pub bill_address2: String,
    pub bill_city: String,
    pub bill_state: String,
    pub bill_postal_code: String,
    pub bill_country: String,
    pub ship_first_name: String,
    pub ship_last_name: String,
    pub ship_address1: String,
    pub ship_address2: String,
    pub ship_city: String,
    pub ship_state: String,
    pub ship_postal_code: String,
    pub ship_country: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Customer {
    pub fn name(&self) -> String {
        let n = format!("{} {}", self.first_name, self.last_name);
        let n = n.trim();
        if n.is_empty() {
            self.email.clone()
        } else {
            n.to_string()
        }
    }
}

#[derive(Debug, Clone, Queryable)]
pub struct OrderItemView {
    pub id: i64,
    pub order_id: i64,
    pub item_no: String,
    pub title: String,
    pub line_item_type: String,
    pub quantity: i32,
    pub amount_minor: i64,
    pub shippable: bool,
    pub recurring: bool,
}

#[derive(Debug, Clone, Queryable)]
pub struct TransactionView {
    pub id: i64,
    pub order_id: i64,
    pub kind: TransactionType,
    pub amount_minor: i64,
    pub currency: String,
    pub transaction_time: NaiveDateTime,
    pub source: String,
}

impl TransactionView {
    /// ClickBank's transaction type in words (its test twin in the same words).
    pub fn label(&self) -> &str {
        self.kind.words()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders)]
pub struct OrderRowView {
    pub id: i64,
    pub plugin_id: i64,
    pub customer_id: i64,
    pub receipt: String,
    pub parent_receipt: Option<String>,
    pub order_type: TransactionType,
    pub status: OrderStatus,
    pub affiliate: Option<String>,
    pub payment_method: Option<String>,
    pub currency: String,
    pub total_minor: i64,
    pub tax_minor: i64,
    pub shipping_minor: i64,
    pub refunded_minor: i64,
    pub transaction_time: NaiveDateTime,
    #[diesel(select_expression = campaigns::name)]
    pub campaign: String,
    /// False for an order built from a later event whose sale is not seen yet.
    pub sale_seen: bool,
}

impl OrderRowView {
    pub fn refunded(&self) -> String {
        format_minor(self.refunded_minor, &self.currency)
    }
    /// What may still be refunded.
    pub fn refundable_minor(&self) -> i64 {
        (self.total_minor - self.refunded_minor).max(0)
    }
    pub fn status_label(&self) -> OrderShown {
        self.status.shown(self.refunded_minor)
    }
}

/// An order with everything under it.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub order: OrderRowView,
    pub items: Vec<OrderItemView>,
    pub transactions: Vec<TransactionView>,
    /// The refund request still waiting for ClickBank, if any.
    pub open_refund: Option<ServiceRequest>,
    /// The order's latest refund request, when ClickBank refused it (the order's mark).
    pub refused_refund: Option<ServiceRequest>,
}

impl OrderView {
    /// Staff may ask ClickBank for a refund: money is left and no request is waiting.
    pub fn can_refund(&self) -> bool {
        self.order.refundable_minor() > 0 && self.open_refund.is_none()
    }
}

/// Purchases with what a [`PurchaseRow`] reads beside them: their order, line and product.
macro_rules! purchase_rows {
    () => {
        $crate::db::schema::purchases::table
            .inner_join(
                $crate::db::schema::orders::table
                    .on($crate::db::schema::orders::id.eq($crate::db::schema::purchases::order_id)),
            )
            .inner_join($crate::db::schema::order_items::table)
            .inner_join($crate::db::schema::products::table)
    };
}
pub(crate) use purchase_rows;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = purchases)]
pub struct PurchaseRow {
    pub id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    #[diesel(select_expression = orders::plugin_id)]
    pub plugin_id: i64,
    #[diesel(select_expression = orders::receipt)]
    pub receipt: String,
    #[diesel(select_expression = orders::currency)]
    pub currency: String,
    #[diesel(select_expression = order_items::item_no)]
    pub sku: String,
    #[diesel(select_expression = order_items::title)]
    pub title: String,
    pub status: PurchaseStatus,
    pub billing_cycle: i32,
    pub rebill_amount_minor: Option<i64>,
    pub frequency: Option<String>,
    /// The product's rebill frequency: shown when the subscription's own is not known (built
    /// from a list record, which carries none).
    #[diesel(select_expression = products::rebill_frequency)]
    pub product_frequency: Option<String>,
    pub next_bill_date: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub paused_until: Option<NaiveDateTime>,
}

impl PurchaseRow {
    pub fn is_paused(&self, now: NaiveDateTime) -> bool {
        self.status == PurchaseStatus::Active && self.paused_until.is_some_and(|p| p > now)
    }
    pub fn is_running(&self) -> bool {
        self.status.is_running()
    }
    /// How often it rebills: ClickBank's word for the subscription, else the product's.
    pub fn frequency(&self) -> Option<&str> {
        self.frequency.as_deref().or(self.product_frequency.as_deref())
    }
}

/// A purchase (subscription) and what staff can do with it now.
#[derive(Debug, Clone)]
pub struct PurchaseView {
    pub purchase: PurchaseRow,
    pub paused: bool,
    /// The request holding this purchase (cancel ticket open, change being sent).
    pub open_request: Option<ServiceRequest>,
}

impl PurchaseView {
    pub fn status_label(&self) -> PurchaseShown {
        self.purchase.status.shown(self.paused)
    }
    pub fn idle(&self) -> bool {
        self.open_request.is_none()
    }
    pub fn can_cancel(&self) -> bool {
        self.idle() && self.purchase.is_running()
    }
    pub fn can_pause(&self) -> bool {
        self.idle() && self.purchase.is_running() && !self.paused && self.purchase.next_bill_date.is_some()
    }
    pub fn can_resume(&self) -> bool {
        self.idle() && (self.paused || self.purchase.status == PurchaseStatus::Cancelled)
    }
    pub fn can_change_date(&self) -> bool {
        self.idle() && self.purchase.is_running()
    }
}

#[derive(Debug, Clone, Queryable)]
pub struct FulfillmentView {
    pub id: i64,
    pub receipt: String,
    pub title: String,
    pub status: String,
    pub house: String,
    pub shipment_id: Option<String>,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable)]
pub struct Note {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// Everything the profile page shows.
#[derive(Debug, Clone)]
pub struct Profile {
    pub customer: Customer,
    pub plugin: String,
    pub orders: Vec<OrderView>,
    pub purchases: Vec<PurchaseView>,
    pub fulfillments: Vec<FulfillmentView>,
    pub requests: Vec<ServiceRequest>,
    pub notes: Vec<Note>,
    pub timeline: Vec<TimelineEntry>,
}

impl Profile {
    /// When the customer first bought (ClickBank's time of their oldest order), not when the
    /// CRM first saw them (an import's time).
    pub fn customer_since(&self) -> &NaiveDateTime {
        self.orders
            .iter()
            .map(|o| &o.order.transaction_time)
            .min()
            .unwrap_or(&self.customer.created_at)
    }
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<Customer, AppError> {
    customers::table
        .find(id)
        .select(Customer::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// One order (for the refund page and the actions).
pub fn order(conn: &mut DbConn, order_id: i64) -> Result<OrderRowView, AppError> {
    orders::table
        .inner_join(campaigns::table)
        .filter(orders::id.eq(order_id))
        .select(OrderRowView::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// Line items of one order.
pub fn items_of(conn: &mut DbConn, order_ids: &[i64]) -> Result<Vec<OrderItemView>, AppError> {
    Ok(order_items::table
        .filter(order_items::order_id.eq_any(order_ids.to_vec()))
        .select((
            order_items::id,
            order_items::order_id,
            order_items::item_no,
            order_items::title,
            order_items::line_item_type,
            order_items::quantity,
            order_items::amount_minor,
            order_items::shippable,
            order_items::recurring,
        ))
        .order(order_items::id)
        .load(conn)?)
}

/// One purchase with its receipt and SKU (for the actions).
pub fn purchase(conn: &mut DbConn, purchase_id: i64) -> Result<PurchaseRow, AppError> {
    purchase_rows!()
        .filter(purchases::id.eq(purchase_id))
        .select(PurchaseRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// The whole profile.
pub fn profile(conn: &mut DbConn, id: i64) -> Result<Profile, AppError> {
    let customer = find(conn, id)?;
    let plugin: String = plugins::table
        .find(customer.plugin_id)
        .select(plugins::name)
        .first(conn)?;
    let order_rows: Vec<OrderRowView> = orders::table
        .inner_join(campaigns::table)
        .filter(orders::customer_id.eq(id))
        .select(OrderRowView::as_select())
        .order((orders::transaction_time.desc(), orders::id.desc()))
        .load(conn)?;
    let order_ids: Vec<i64> = order_rows.iter().map(|o| o.id).collect();
    let mut items: HashMap<i64, Vec<OrderItemView>> = HashMap::new();
    for i in items_of(conn, &order_ids)? {
        items.entry(i.order_id).or_default().push(i);
    }
    let txs: Vec<TransactionView> = transactions::table
        .filter(transactions::order_id.eq_any(order_ids.clone()))
        .select((
            transactions::id,
            transactions::order_id,
            transactions::kind,
            transactions::amount_minor,
            transactions::currency,
            transactions::transaction_time,
            transactions::source,
        ))
        .order((transactions::transaction_time, transactions::id))
        .load(conn)?;
    let receipts: HashMap<i64, String> = order_rows.iter().map(|o| (o.id, o.receipt.clone())).collect();
    let requests = requests::for_customer(conn, id)?;
    let live =
        |pred: &dyn Fn(&ServiceRequest) -> bool| requests.iter().find(|r| r.is_live() && pred(r)).cloned();

    let mut timeline: Vec<TimelineEntry> = txs
        .iter()
        .map(|t| TimelineEntry {
            at: t.transaction_time,
            kind: "event",
            who: "ClickBank".into(),
            text: format!(
                "{} {} on {} ({})",
                t.label(),
                crate::clickbank::money::display(t.amount_minor, &t.currency),
                receipts.get(&t.order_id).map(String::as_str).unwrap_or("?"),
                t.source
            ),
        })
        .collect();
    let mut by_order: HashMap<i64, Vec<TransactionView>> = HashMap::new();
    for t in txs {
        by_order.entry(t.order_id).or_default().push(t);
    }
    let orders_view: Vec<OrderView> = order_rows
        .into_iter()
        .map(|o| OrderView {
            items: items.remove(&o.id).unwrap_or_default(),
            transactions: by_order.remove(&o.id).unwrap_or_default(),
            open_refund: live(&|r| r.order_id == o.id && r.action == requests::Action::Refund),
            refused_refund: requests
                .iter()
                .filter(|r| r.order_id == o.id && r.action == requests::Action::Refund)
                .max_by_key(|r| r.id)
                .filter(|r| r.is_failed())
                .cloned(),
            order: o,
        })
        .collect();

    let now = crate::domain::now();
    let purchases_view: Vec<PurchaseView> = purchase_rows!()
        .filter(purchases::customer_id.eq(id))
        .select(PurchaseRow::as_select())
        .order(purchases::id.desc())
        .load::<PurchaseRow>(conn)?
        .into_iter()
        .map(|p| PurchaseView {
            paused: p.is_paused(now),
            open_request: live(&|r| r.purchase_id == Some(p.id)),
            purchase: p,
        })
        .collect();

    let fulfillments_view: Vec<FulfillmentView> = fulfillments::table
        .inner_join(orders::table.on(orders::id.eq(fulfillments::order_id)))
        .inner_join(order_items::table.on(order_items::id.eq(fulfillments::order_item_id)))
        .inner_join(fulfillment_houses::table)
        .filter(orders::customer_id.eq(id))
        .select((
            fulfillments::id,
            orders::receipt,
            order_items::title,
            fulfillments::status,
            fulfillment_houses::name,
            fulfillments::shipment_id,
            fulfillments::tracking_number,
            fulfillments::carrier,
            fulfillments::updated_at,
        ))
        .order(fulfillments::id.desc())
        .load(conn)?;

    let notes: Vec<Note> = customer_notes::table
        .filter(customer_notes::customer_id.eq(id))
        .select((
            customer_notes::id,
            customer_notes::author,
            customer_notes::body,
            customer_notes::created_at,
        ))
        .order(customer_notes::id.desc())
        .load(conn)?;
    timeline.extend(notes.iter().map(|n| TimelineEntry {
        at: n.created_at,
        kind: "note",
        who: n.author.clone(),
        text: n.body.clone(),
    }));

    timeline.extend(timeline::staff_and_carts(
        conn,
        id,
        (customer.plugin_id, &customer.email),
    )?);
    timeline.sort_by_key(|e| std::cmp::Reverse(e.at));

    Ok(Profile {
        customer,
        plugin,
        orders: orders_view,
        purchases: purchases_view,
        fulfillments: fulfillments_view,
        requests,
        notes,
        timeline,
    })
}

/// Adds a staff note, audited.
pub fn add_note(conn: &mut DbConn, actor: &Actor, customer_id: i64, body: &str) -> Result<(), AppError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::Validation("The note is empty.".into()));
    }
    if body.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::Validation(format!(
            "A note is at most {MAX_NOTE_CHARS} characters."
        )));
    }
    conn.transaction(|conn| {
        find(conn, customer_id)?;
        diesel::insert_into(customer_notes::table)
            .values((
                customer_notes::customer_id.eq(customer_id),
                customer_notes::author_user_id.eq(actor.user_id),
                customer_notes::author.eq(&actor.label),
                customer_notes::body.eq(body),
                customer_notes::created_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "customer.note",
            &format!("customer:{customer_id}"),
            json!({ "chars": body.chars().count() }),
        )
    })
}
