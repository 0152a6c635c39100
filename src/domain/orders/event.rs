//! The event types: a ClickBank transaction or notification as the CRM applies it, whatever
//! channel brought it ([`OrderEvent::from_notification`] for INS, [`OrderEvent::from_record`]
//! for the orders list), its one key, and what applying it did ([`Outcome`]). A leaf: it uses
//! no other part of the domain but the fulfillment address type.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::clickbank::ins::Notification;
use crate::clickbank::{Amount, LineItemStatus, OrderRecord, TransactionType};
use crate::db::models::PurchaseStatus;
use crate::domain::fulfillment::ShipTo;
use crate::error::AppError;

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
    /// The subscription's state the orders list showed for this line when the record was read
    /// (the list has no cancel types: its line items carry ACTIVE, CANCELED, ...). INS: None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_status: Option<PurchaseStatus>,
}

/// A ClickBank transaction or notification, whatever channel brought it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderEvent {
    /// ClickBank's `transactionType` (stored as its spelling: `SALE`, `CANCEL-REBILL`, ...).
    pub kind: TransactionType,
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
    /// When the portal read the record from ClickBank's orders list: the time its
    /// `list_status` holds at (None for INS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
}

impl EventCustomer {
    /// The shipping name and address, as a fulfillment item keeps them.
    pub fn ship_to(&self) -> ShipTo {
        ShipTo {
            name: ShipTo::name_of(
                (&self.ship_first_name, &self.ship_last_name),
                (&self.first_name, &self.last_name),
            ),
            address1: self.shipping.address1.clone(),
            address2: self.shipping.address2.clone(),
            city: self.shipping.city.clone(),
            state: self.shipping.state.clone(),
            postal_code: self.shipping.postal_code.clone(),
            country: self.shipping.country.clone(),
        }
    }
}

/// ClickBank's optional text, trimmed (empty when absent).
fn trimmed(v: &Option<String>) -> String {
    v.as_deref().unwrap_or("").trim().to_string()
}

/// An optional amount in minor units of `currency`, without its sign (0 when absent).
fn minor_units(a: &Option<Amount>, currency: &str) -> Result<i64, AppError> {
    match a {
        Some(a) => a
            .to_minor(currency)
            .map(i64::abs)
            .map_err(|e| AppError::Validation(format!("bad amount {:?}: {e}", a.as_str()))),
        None => Ok(0),
    }
}

/// The subscription state a list record's line status stands for. COMPLETED (every payment
/// made) and the payment failures are not a state the CRM keeps: they change nothing.
fn list_status(s: &LineItemStatus) -> Option<PurchaseStatus> {
    match s {
        LineItemStatus::Active => Some(PurchaseStatus::Active),
        LineItemStatus::Canceled => Some(PurchaseStatus::Cancelled),
        _ => None,
    }
}

pub use crate::clickbank::rules::{READ_MARGIN_SECS, READ_RANK};

/// The ISO code ClickBank sent, USD when it sent none or something else.
fn currency_of(c: &Option<String>) -> String {
    let c = trimmed(c).to_ascii_uppercase();
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
                    address1: trimmed(&a.address1),
                    address2: trimmed(&a.address2),
                    city: trimmed(&a.city),
                    state: trimmed(&a.state),
                    postal_code: trimmed(&a.postal_code),
                    country: trimmed(&a.country),
                })
                .unwrap_or_default()
        };
        let customer = EventCustomer {
            email: n.email().unwrap_or("").trim().to_lowercase(),
            first_name: contact.map(|c| trimmed(&c.first_name)).unwrap_or_default(),
            last_name: contact.map(|c| trimmed(&c.last_name)).unwrap_or_default(),
            phone: contact.map(|c| trimmed(&c.phone_number)).unwrap_or_default(),
            billing: addr(n.customer.as_ref().and_then(|c| c.billing.as_ref()).or(ship)),
            shipping: addr(ship.or(contact)),
            ship_first_name: ship.map(|c| trimmed(&c.first_name)).unwrap_or_default(),
            ship_last_name: ship.map(|c| trimmed(&c.last_name)).unwrap_or_default(),
        };
        let mut items = Vec::new();
        for li in &n.line_items {
            let plan = li.payment_plan.as_ref();
            let price = li.product_price.clone().or_else(|| li.account_amount.clone());
            items.push(EventItem {
                item_no: li.item_no.trim().to_string(),
                title: trimmed(&li.product_title),
                line_item_type: li
                    .line_item_type
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "ORIGINAL".into()),
                quantity: li.quantity.unwrap_or(1).min(i32::MAX as u32) as i32,
                amount_minor: minor_units(&price, &currency)?,
                shippable: li.shippable.unwrap_or(false),
                recurring: li.recurring.unwrap_or(false),
                rebill_amount_minor: plan
                    .and_then(|p| p.rebill_amount.as_ref())
                    .map(|a| minor_units(&Some(a.clone()), &currency))
                    .transpose()?,
                next_payment: plan.and_then(|p| p.next_payment_date),
                frequency: plan
                    .and_then(|p| p.rebill_frequency.as_ref())
                    .map(|f| f.to_string()),
                payments_processed: plan
                    .and_then(|p| p.payments_processed)
                    .map(|n| n.min(i32::MAX as u32) as i32),
                list_status: None,
            });
        }
        Ok(OrderEvent {
            kind: n.transaction_type.clone(),
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
            total_minor: minor_units(&n.total_order_amount, &currency)?,
            tax_minor: minor_units(&n.total_tax_amount, &currency)?,
            shipping_minor: minor_units(&n.total_shipping_amount, &currency)?,
            currency,
            customer,
            items,
            read_at: None,
        })
    }

    /// From a record of ClickBank's orders list (the API import), read now: its line items'
    /// subscription states hold at this time (`read_at`).
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
            .map(|c| trimmed(&c.value))
            .unwrap_or_default();
        let address = EventAddress {
            state: trimmed(&r.state),
            postal_code: trimmed(&r.postal_code),
            country: trimmed(&r.country),
            ..Default::default()
        };
        let customer = EventCustomer {
            email: trimmed(&r.email).to_lowercase(),
            first_name: trimmed(&r.first_name),
            last_name: trimmed(&r.last_name),
            phone,
            billing: address.clone(),
            shipping: address,
            ship_first_name: trimmed(&r.first_name),
            ship_last_name: trimmed(&r.last_name),
        };
        let mut items = Vec::new();
        for li in &r.line_items {
            items.push(EventItem {
                item_no: li.item_no.trim().to_string(),
                title: trimmed(&li.product_title),
                line_item_type: li
                    .line_item_type
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "ORIGINAL".into()),
                quantity: li.quantity.unwrap_or(1).min(i32::MAX as u32) as i32,
                amount_minor: minor_units(
                    &li.customer_amount.clone().or_else(|| li.account_amount.clone()),
                    &currency,
                )?,
                shippable: li.shippable.unwrap_or(false),
                recurring: li.recurring.unwrap_or(false),
                rebill_amount_minor: li
                    .rebill_amount
                    .as_ref()
                    .map(|a| minor_units(&Some(a.clone()), &currency))
                    .transpose()?,
                next_payment: li.next_payment_date,
                frequency: None,
                payments_processed: li.processed_payments.map(|n| n.min(i32::MAX as u32) as i32),
                list_status: li.status.as_ref().and_then(list_status),
            });
        }
        Ok(OrderEvent {
            kind: r.transaction_type.clone(),
            time: r.transaction_time,
            receipt: r.receipt.trim().to_string(),
            parent_receipt: r.upsell_original_receipt.clone().filter(|x| !x.trim().is_empty()),
            vendor: r.vendor.clone(),
            affiliate: r.affiliate.clone().filter(|a| !a.trim().is_empty()),
            payment_method: r.payment_method.clone(),
            total_minor: minor_units(&r.total_order_amount, &currency)?,
            tax_minor: minor_units(&r.total_tax_amount, &currency)?,
            shipping_minor: minor_units(&r.total_shipping_amount, &currency)?,
            currency,
            customer,
            items,
            read_at: Some(Utc::now()),
        })
    }

    /// Where the event stands among others of the same ClickBank time (to the second):
    /// SALE < BILL < RFND/CGBK/INSF < CANCEL-REBILL < UNCANCEL-REBILL < SUBSCRIPTION-CHG.
    pub fn rank(&self) -> i32 {
        match self.kind.live() {
            TransactionType::Sale => 1,
            TransactionType::Bill => 2,
            TransactionType::Rfnd | TransactionType::Cgbk | TransactionType::Insf => 3,
            TransactionType::CancelRebill => 4,
            TransactionType::UncancelRebill => 5,
            TransactionType::SubscriptionChg => 6,
            _ => 0,
        }
    }

    /// The event's place in ClickBank's time: what decides whether it may overwrite a state
    /// a newer event set.
    pub fn stamp(&self) -> (chrono::NaiveDateTime, i32) {
        (self.time.naive_utc(), self.rank())
    }

    /// The state ClickBank's orders list showed for line `item_no` when the record was read,
    /// stamped with the reading time less [`READ_MARGIN_SECS`] (see [`READ_RANK`]), or the
    /// record's own time when that is later.
    pub fn read_state(&self, item_no: &str) -> Option<(PurchaseStatus, (chrono::NaiveDateTime, i32))> {
        let at = self.read_at? - chrono::Duration::seconds(READ_MARGIN_SECS);
        let status = self.items.iter().find(|i| i.item_no == item_no)?.list_status?;
        // The record's own event is in what was read: the read is never older than it.
        let stamp = (at.naive_utc().trunc_subsecs(0), READ_RANK).max(self.stamp());
        Some((status, stamp))
    }

    /// The receipt of the order the event is about: a rebill's receipt may carry a suffix
    /// after the original (`ABCD1234-B01`).
    pub fn base_receipt(&self) -> &str {
        match self.receipt.split_once('-') {
            Some((base, _)) if !base.is_empty() => base,
            _ => &self.receipt,
        }
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
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied {
        order_id: Option<i64>,
    },
    /// Seen before: nothing changed.
    Duplicate,
    /// Applied on an order built from this event (or an earlier one) whose SALE the CRM has
    /// not seen yet: a background look-up reads it from ClickBank.
    SaleNotSeen {
        order_id: i64,
    },
    /// Kept but not applied, with the reason.
    Ignored(String),
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// The refund parked in `tests/fixtures/stored_rows_v1.sql`, as the portal wrote it.
    fn parked_refund() -> OrderEvent {
        let address = EventAddress {
            address1: "1 Main St".into(),
            city: "Springfield".into(),
            state: "IL".into(),
            postal_code: "62701".into(),
            country: "US".into(),
            ..Default::default()
        };
        OrderEvent {
            kind: TransactionType::Rfnd,
            time: Utc.with_ymd_and_hms(2025, 6, 2, 10, 0, 0).unwrap(),
            receipt: "FIX0002".into(),
            parent_receipt: None,
            vendor: Some("FIXTURESHOP".into()),
            affiliate: None,
            payment_method: Some("VISA".into()),
            currency: "USD".into(),
            total_minor: 1999,
            tax_minor: 0,
            shipping_minor: 0,
            customer: EventCustomer {
                email: "pat@example.com".into(),
                first_name: "Pat".into(),
                last_name: "Buyer".into(),
                phone: String::new(),
                billing: address.clone(),
                shipping: address,
                ship_first_name: "Pat".into(),
                ship_last_name: "Buyer".into(),
            },
            items: vec![EventItem {
                item_no: "ITEM2".into(),
                title: "Product ITEM2".into(),
                line_item_type: "ORIGINAL".into(),
                quantity: 1,
                amount_minor: 1999,
                shippable: true,
                recurring: false,
                rebill_amount_minor: None,
                next_payment: None,
                frequency: None,
                payments_processed: None,
                list_status: None,
            }],
            read_at: None,
        }
    }

    #[test]
    fn a_parked_event_and_its_key_are_written_as_before() {
        let fixture = include_str!("../../../tests/fixtures/stored_rows_v1.sql");
        let ev = parked_refund();
        let payload = serde_json::to_string(&ev).unwrap();
        assert!(
            fixture.contains(&format!("'{payload}'")),
            "the payload is no longer the stored text: {payload}"
        );
        assert_eq!(serde_json::from_str::<OrderEvent>(&payload).unwrap(), ev);
        assert!(fixture.contains(&format!("'{}'", ev.key(0).replacen('0', "{plugin}", 1))));
    }

    #[test]
    fn every_test_type_stands_for_its_live_type() {
        for (test, live) in [
            ("TEST_SALE", "SALE"),
            ("TEST_BILL", "BILL"),
            ("TEST_RFND", "RFND"),
            ("CANCEL-TEST-REBILL", "CANCEL-REBILL"),
            ("UNCANCEL-TEST-REBILL", "UNCANCEL-REBILL"),
            ("SALE", "SALE"),
            ("SOMETHING-NEW", "SOMETHING-NEW"),
        ] {
            assert_eq!(TransactionType::parse(test).live().as_str(), live, "{test}");
        }
        assert!(TransactionType::CancelTestRebill.is_test());
        assert!(!TransactionType::CancelRebill.is_test());
    }
}
