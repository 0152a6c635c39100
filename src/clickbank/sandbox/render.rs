//! JSON output of the sandbox: ClickBank's quirky REST shapes and INS notifications.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::catalog::usd_rate_percent;
use super::model::{SbAddress, SbEvent, SbProduct, SbTicket};
use super::state::State;
use crate::clickbank::money::format_minor;
use crate::clickbank::time::{format_pacific, format_pacific_abbrev, format_pacific_compact};
use crate::clickbank::types::TransactionType;

/// A small streaming JSON writer.
pub(crate) struct Json {
    buf: String,
    comma: bool,
}

impl Json {
    pub fn with_capacity(n: usize) -> Self {
        Json {
            buf: String::with_capacity(n),
            comma: false,
        }
    }

    fn sep(&mut self) {
        if self.comma {
            self.buf.push(',');
        }
    }

    pub fn begin_obj(&mut self) {
        self.sep();
        self.buf.push('{');
        self.comma = false;
    }

    pub fn end_obj(&mut self) {
        self.buf.push('}');
        self.comma = true;
    }

    pub fn begin_arr(&mut self) {
        self.sep();
        self.buf.push('[');
        self.comma = false;
    }

    pub fn end_arr(&mut self) {
        self.buf.push(']');
        self.comma = true;
    }

    pub fn key(&mut self, k: &str) {
        self.sep();
        escape_into(&mut self.buf, k);
        self.buf.push(':');
        self.comma = false;
    }

    pub fn str(&mut self, v: &str) {
        self.sep();
        escape_into(&mut self.buf, v);
        self.comma = true;
    }

    pub fn raw(&mut self, v: &str) {
        self.sep();
        self.buf.push_str(v);
        self.comma = true;
    }

    pub fn nil(&mut self) {
        self.raw(r#"{"@nil":"true"}"#);
    }

    /// `"k":"v"`.
    pub fn f_str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }

    /// `"k":"v"` or, in REST style, `"k":{"@nil":"true"}`.
    pub fn f_opt(&mut self, k: &str, v: Option<&str>) {
        self.key(k);
        match v {
            Some(v) => self.str(v),
            None => self.nil(),
        }
    }

    /// `"k":v` with raw JSON.
    pub fn f_raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.raw(v);
    }

    /// INS style: `"k":"v"` or `"k":null`.
    pub fn f_opt_null(&mut self, k: &str, v: Option<&str>) {
        self.key(k);
        match v {
            Some(v) => self.str(v),
            None => self.raw("null"),
        }
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn b(v: bool) -> &'static str {
    if v {
        "true"
    } else {
        "false"
    }
}

/// REST amounts: ClickBank writes a zero shipping as `"0.0"`.
fn rest_amount(minor: i64, currency: &str, zero_as_short: bool) -> String {
    if minor == 0 && zero_as_short {
        "0.0".to_string()
    } else {
        format_minor(minor, currency)
    }
}

fn address_of<'a>(st: &'a State, e: &SbEvent) -> &'a SbAddress {
    e.receipt
        .as_ref()
        .and_then(|r| st.receipts.get(r))
        .and_then(|r| r.address_override.as_ref())
        .unwrap_or(&st.customers[e.customer].address)
}

/// One `orderData` record in REST style (all strings, `@nil`, single objects).
pub(crate) fn rest_order(st: &State, e: &SbEvent, only_sku: Option<&str>, j: &mut Json) {
    let c = &st.customers[e.customer];
    let addr = address_of(st, e);
    let receipt = e.receipt.as_deref().unwrap_or("");
    let cur = e.currency;
    j.begin_obj();
    j.f_str("transactionTime", &format_pacific(e.time));
    j.f_str("receipt", receipt);
    j.f_opt("trackingId", e.tracking_id.as_deref());
    j.f_str("paytmentMethod", e.payment_method);
    j.f_str("transactionType", e.tx_type.as_str());
    j.f_str("totalOrderAmount", &format_minor(e.total(), cur));
    j.f_str("totalShippingAmount", &rest_amount(e.shipping(), cur, true));
    j.f_str("totalTaxAmount", &format_minor(e.tax(), cur));
    j.f_str("vendor", &st.vendor);
    j.f_opt("affiliate", st.affiliate_name(e.affiliate));
    j.f_str("country", &addr.country);
    j.f_opt("state", addr.state.as_deref());
    j.f_str("lastName", &c.last);
    j.f_str("firstName", &c.first);
    j.f_str("currency", cur);
    j.f_opt("declinedConsent", None);
    j.f_str("email", &c.email);
    j.f_str("postalCode", &addr.postal_code);
    j.key("customerContactInfo");
    j.begin_obj();
    j.f_str("field", "phone");
    j.f_str("value", &c.phone);
    j.end_obj();
    j.f_str("role", "VENDOR");
    j.f_str("fullName", &format!("{} {}", c.first, c.last));
    let refundable = matches!(
        e.tx_type,
        TransactionType::Sale | TransactionType::Bill | TransactionType::TestSale | TransactionType::TestBill
    );
    j.f_opt(
        "customerRefundableState",
        refundable.then(|| st.refundable_state(receipt)),
    );
    j.key("vendorVariables");
    if e.vendor_vars.is_empty() {
        j.nil();
    } else {
        j.begin_obj();
        j.key("item");
        let many = e.vendor_vars.len() > 1;
        if many {
            j.begin_arr();
        }
        for (name, value) in &e.vendor_vars {
            j.begin_obj();
            j.f_str("name", name);
            j.f_str("value", value);
            j.end_obj();
        }
        if many {
            j.end_arr();
        }
        j.end_obj();
    }
    if let Some(orig) = &e.upsell_original {
        j.f_str("upsellOriginalReceipt", orig);
    }
    let lines: Vec<_> = e
        .lines
        .iter()
        .filter(|l| only_sku.is_none_or(|s| st.products[l.product].sku.eq_ignore_ascii_case(s)))
        .collect();
    j.key("lineItemData");
    if lines.len() != 1 {
        j.begin_arr();
    }
    for l in &lines {
        let p = &st.products[l.product];
        let sub = p
            .plan
            .as_ref()
            .and_then(|_| st.subscription_of(receipt, l.product));
        j.begin_obj();
        j.f_str("itemNo", &p.sku);
        j.f_str("productTitle", &p.title);
        j.f_str("recurring", b(p.plan.is_some()));
        j.f_str("shippable", b(p.physical));
        j.f_str("customerAmount", &format_minor(l.customer_amount, cur));
        j.f_str("accountAmount", &format_minor(l.account_amount, cur));
        j.f_str("quantity", &l.qty.to_string());
        j.f_str("lineItemType", l.line_type.as_str());
        j.f_str("refundsBlocked", "false");
        match sub {
            Some(s) => {
                j.f_str("rebillAmount", &format_minor(s.rebill, cur));
                j.f_str("processedPayments", &s.processed.to_string());
                j.f_str("futurePayments", &s.remaining().to_string());
                j.f_opt("nextPaymentDate", s.next_payment.map(format_pacific).as_deref());
                j.f_str("status", s.status.as_str());
            }
            None => {
                for k in [
                    "rebillAmount",
                    "processedPayments",
                    "futurePayments",
                    "nextPaymentDate",
                    "status",
                ] {
                    j.f_opt(k, None);
                }
            }
        }
        j.f_str("role", "VENDOR");
        j.end_obj();
    }
    if lines.len() != 1 {
        j.end_arr();
    }
    j.end_obj();
}

/// `{"orderData": ...}` for some events (a single record is a bare object).
pub(crate) fn rest_orders(st: &State, events: &[&SbEvent], only_sku: Option<&str>) -> String {
    let mut j = Json::with_capacity(events.len() * 1_400 + 32);
    j.begin_obj();
    j.key("orderData");
    let many = events.len() != 1;
    if many {
        j.begin_arr();
    }
    for e in events {
        rest_order(st, e, only_sku, &mut j);
    }
    if many {
        j.end_arr();
    }
    j.end_obj();
    j.finish()
}

fn price_obj(j: &mut Json, minor: i64, currency: &str) {
    j.begin_obj();
    j.f_str("native_price", &format_minor(minor, currency));
    j.f_str(
        "usd",
        &format_minor(minor * usd_rate_percent(currency) / 100, "USD"),
    );
    j.end_obj();
}

/// One product in REST style.
pub(crate) fn rest_product(st: &State, p: &SbProduct, j: &mut Json) {
    let recurring = p.plan.is_some();
    j.begin_obj();
    j.f_str("@sku", &p.sku);
    j.f_str("id", &p.id.to_string());
    j.f_str("status", if p.active { "ACTIVE" } else { "INACTIVE" });
    j.f_str("site", &st.vendor);
    j.f_str("created", &format_pacific_abbrev(p.created));
    j.f_str("updated", &format_pacific_abbrev(p.updated));
    j.f_str("digital", b(!p.physical && !recurring));
    j.f_str("physical", b(p.physical && !recurring));
    j.f_str("digitalRecurring", b(!p.physical && recurring));
    j.f_str("physicalRecurring", b(p.physical && recurring));
    j.f_str("language", "EN");
    j.f_str("title", &p.title);
    j.f_str("description", &p.description);
    j.f_opt("image", None);
    j.key("categories");
    j.begin_obj();
    j.key("category");
    if p.category.len() != 1 {
        j.begin_arr();
    }
    for c in &p.category {
        j.str(c);
    }
    if p.category.len() != 1 {
        j.end_arr();
    }
    j.end_obj();
    let mut pricings: Vec<(&str, i64)> = vec![(p.currency, p.price)];
    pricings.extend(p.extra_pricings.iter().copied());
    let many = pricings.len() != 1;
    j.key("pricings");
    j.begin_obj();
    j.key("pricing");
    if many {
        j.begin_arr();
    }
    for (cur, price) in pricings {
        j.begin_obj();
        j.f_str("@currency", cur);
        j.key("standard");
        j.begin_obj();
        j.key("price");
        price_obj(j, price, cur);
        j.end_obj();
        if let Some(plan) = &p.plan {
            let rebill = if cur == p.currency { plan.rebill } else { price };
            j.key("recurring");
            j.begin_obj();
            j.key("price");
            price_obj(j, rebill, cur);
            j.f_str("frequency", plan.frequency.as_str());
            j.f_str("duration", &plan.duration.to_string());
            j.f_str("trial_days", &plan.trial_days.to_string());
            j.end_obj();
        }
        if p.physical {
            j.key("physical");
            j.begin_obj();
            j.f_str("shipping_profile", "Standard");
            j.end_obj();
        }
        j.end_obj();
    }
    if many {
        j.end_arr();
    }
    j.end_obj();
    j.end_obj();
}

/// `{"products":{"product": ...}}`.
pub(crate) fn rest_products(st: &State, products: &[&SbProduct]) -> String {
    let mut j = Json::with_capacity(products.len() * 900 + 32);
    j.begin_obj();
    j.key("products");
    if products.is_empty() {
        j.nil();
    } else {
        j.begin_obj();
        j.key("product");
        if products.len() != 1 {
            j.begin_arr();
        }
        for p in products {
            rest_product(st, p, &mut j);
        }
        if products.len() != 1 {
            j.end_arr();
        }
        j.end_obj();
    }
    j.end_obj();
    j.finish()
}

/// `{"product": {...}}`.
pub(crate) fn rest_one_product(st: &State, p: &SbProduct) -> String {
    let mut j = Json::with_capacity(1_000);
    j.begin_obj();
    j.key("product");
    rest_product(st, p, &mut j);
    j.end_obj();
    j.finish()
}

fn rest_ticket(st: &State, t: &SbTicket, j: &mut Json) {
    let info = st.receipts.get(&t.receipt);
    let customer = info.map(|i| &st.customers[i.customer]);
    let currency = info.map(|i| i.currency).unwrap_or("USD");
    j.begin_obj();
    j.f_str("ticketId", &t.id.to_string());
    j.f_str("receipt", &t.receipt);
    j.f_str("status", t.status.as_str());
    j.f_str("type", t.ticket_type.as_str());
    j.f_str("openedDate", &format_pacific(t.opened));
    j.f_opt("closedDate", t.closed.map(format_pacific).as_deref());
    j.f_str("description", &t.reason);
    j.f_opt("refundType", t.refund_type.as_ref().map(|r| r.as_str()));
    j.f_opt(
        "refundAmount",
        (t.refund_minor > 0)
            .then(|| format_minor(t.refund_minor, currency))
            .as_deref(),
    );
    j.f_opt("productItemNo", t.sku.as_deref());
    j.f_opt("customerFirstName", customer.map(|c| c.first.as_str()));
    j.f_opt("customerLastName", customer.map(|c| c.last.as_str()));
    j.f_opt("email", customer.map(|c| c.email.as_str()));
    j.f_str("updateTime", &format_pacific(t.updated));
    j.key("comments");
    if t.comments.is_empty() {
        j.nil();
    } else {
        if t.comments.len() != 1 {
            j.begin_arr();
        }
        for (n, (date, text, action)) in t.comments.iter().enumerate() {
            j.begin_obj();
            j.f_str("commentId", &format!("{}{:02}", t.id, n + 1));
            j.f_str("date", &format_pacific(*date));
            j.f_str("comment", text);
            j.f_str("action", action);
            j.f_str("commentRole", "VENDOR");
            j.end_obj();
        }
        if t.comments.len() != 1 {
            j.end_arr();
        }
    }
    j.end_obj();
}

/// `{"ticketData": ...}` (a single ticket is a bare object).
pub(crate) fn rest_tickets(st: &State, tickets: &[&SbTicket]) -> String {
    let mut j = Json::with_capacity(tickets.len() * 700 + 32);
    j.begin_obj();
    j.key("ticketData");
    let many = tickets.len() != 1;
    if many {
        j.begin_arr();
    }
    for t in tickets {
        rest_ticket(st, t, &mut j);
    }
    if many {
        j.end_arr();
    }
    j.end_obj();
    j.finish()
}

/// `{"refundAmounts": {...}}`.
pub(crate) fn rest_refund_amounts(
    currency: &str,
    refund_type: &str,
    subtotal: i64,
    tax: i64,
    shipping: i64,
    total: i64,
) -> String {
    let mut j = Json::with_capacity(256);
    j.begin_obj();
    j.key("refundAmounts");
    j.begin_obj();
    j.f_str("currency", currency);
    j.f_str("refundType", refund_type);
    j.f_str("subtotal", &format_minor(subtotal, currency));
    j.f_str("taxAmount", &format_minor(tax, currency));
    j.f_str("shippingAmount", &format_minor(shipping, currency));
    j.f_str("totalAmount", &format_minor(total, currency));
    j.end_obj();
    j.end_obj();
    j.finish()
}

fn ins_time(t: DateTime<Utc>, version: u8) -> String {
    if version <= 6 {
        format_pacific(t)
    } else {
        format_pacific_compact(t)
    }
}

fn ins_contact(j: &mut Json, first: &str, last: &str, email: &str, phone: &str, a: &SbAddress) {
    j.begin_obj();
    j.f_str("firstName", first);
    j.f_str("lastName", last);
    j.f_str("fullName", &format!("{first} {last}"));
    j.f_str("phoneNumber", phone);
    j.f_str("email", email);
    j.key("address");
    j.begin_obj();
    j.f_str("address1", &a.address1);
    j.f_opt_null("address2", a.address2.as_deref());
    j.f_str("city", &a.city);
    j.f_opt_null("county", a.county.as_deref());
    j.f_opt_null("state", a.state.as_deref());
    j.f_str("postalCode", &a.postal_code);
    j.f_str("country", &a.country);
    j.end_obj();
    j.end_obj();
}

/// The plaintext INS notification (real JSON types) of an event.
pub(crate) fn ins_notification(st: &State, e: &SbEvent, attempt: u32) -> String {
    let version = st.settings.ins_version;
    let cur = e.currency;
    let money = |m: i64| format_minor(m, cur);
    let c = &st.customers[e.customer];
    let addr = address_of(st, e);
    let mut j = Json::with_capacity(2_000);
    j.begin_obj();
    j.f_str("transactionTime", &ins_time(e.time, version));
    j.f_opt_null("receipt", e.receipt.as_deref());
    j.f_str("transactionType", e.tx_type.as_str());
    j.f_str("vendor", &st.vendor);
    j.f_opt_null("affiliate", st.affiliate_name(e.affiliate));
    j.f_str("role", "VENDOR");
    let abandoned = e.tx_type == TransactionType::AbandonedOrder;
    if !abandoned {
        j.f_raw("totalAccountAmount", &money(e.account_total()));
        j.f_str("paymentMethod", e.payment_method);
        j.f_raw("totalOrderAmount", &money(e.total()));
        j.f_raw("totalTaxAmount", &money(e.tax()));
        j.f_raw("totalShippingAmount", &money(e.shipping()));
    }
    j.f_str("currency", cur);
    j.f_str("orderLanguage", "EN");
    j.key("trackingCodes");
    j.begin_arr();
    if let Some(t) = &e.tracking_id {
        j.str(t);
    }
    j.end_arr();
    if !abandoned {
        j.key("lineItems");
        j.begin_arr();
        let receipt = e.receipt.as_deref().unwrap_or("");
        for l in &e.lines {
            let p = &st.products[l.product];
            j.begin_obj();
            j.f_str("itemNo", &p.sku);
            j.f_str("productTitle", &p.title);
            j.f_raw("shippable", b(p.physical));
            j.f_raw("recurring", b(p.plan.is_some()));
            j.f_raw("accountAmount", &money(l.account_amount));
            j.f_raw("quantity", &l.qty.to_string());
            if p.physical {
                j.f_opt_null("downloadUrl", None);
            } else {
                j.f_str(
                    "downloadUrl",
                    &format!("https://sandbox.invalid/download/{}/{}", p.sku, receipt),
                );
            }
            j.f_str("lineItemType", l.line_type.as_str());
            j.f_raw("productPrice", &money(l.customer_amount));
            j.f_raw("productDiscount", &money(0));
            j.f_raw("taxAmount", &money(l.tax));
            j.f_raw("shippingAmount", &money(l.shipping));
            j.f_raw("shippingLiable", b(p.physical));
            if let Some(s) = p
                .plan
                .as_ref()
                .and_then(|_| st.subscription_of(receipt, l.product))
            {
                j.key("paymentPlan");
                j.begin_obj();
                j.f_str("rebillStatus", s.status.as_str());
                j.f_str("rebillFrequency", s.frequency.as_str());
                j.f_raw("rebillAmount", &money(s.rebill));
                j.f_raw("paymentsProcessed", &s.processed.to_string());
                j.f_raw("paymentsRemaining", &s.remaining().to_string());
                match s.next_payment {
                    Some(t) => j.f_str("nextPaymentDate", &ins_time(t, version)),
                    None => j.f_raw("nextPaymentDate", "null"),
                }
                j.end_obj();
            }
            j.end_obj();
        }
        j.end_arr();
    }
    j.key("customer");
    j.begin_obj();
    let physical = e.lines.iter().any(|l| st.products[l.product].physical);
    if physical {
        j.key("shipping");
        ins_contact(&mut j, &c.first, &c.last, &c.email, &c.phone, addr);
    }
    j.key("billing");
    ins_contact(
        &mut j,
        &c.first,
        &c.last,
        &c.email,
        &c.phone,
        &st.customers[e.customer].address,
    );
    j.end_obj();
    j.key("upsell");
    match &e.upsell_original {
        Some(orig) => {
            j.begin_obj();
            j.f_str("upsellOriginalReceipt", orig);
            j.f_raw("upsellFlowId", "5501");
            j.f_str("upsellSession", &format!("SESS{}", e.id));
            j.f_str("upsellPath", "upsell1");
            j.end_obj();
        }
        None => j.raw("null"),
    }
    j.key("vendorVariables");
    j.begin_obj();
    for (k, v) in &e.vendor_vars {
        j.f_str(k, v);
    }
    j.end_obj();
    if version >= 8 {
        j.key("affiliateTrackingParameters");
        j.begin_obj();
        if let Some(a) = st.affiliate_name(e.affiliate) {
            j.f_str("affiliate", a);
            if let Some(t) = &e.tracking_id {
                j.f_str("tid", t);
            }
        }
        j.end_obj();
    }
    j.f_raw("version", &format!("{version}.0"));
    j.f_raw("attemptCount", &attempt.to_string());
    j.end_obj();
    j.finish()
}
