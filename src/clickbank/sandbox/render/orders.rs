//! Orders in REST style (`orderData`).

use super::json::{b, Json};
use crate::clickbank::money::format_minor;
use crate::clickbank::sandbox::model::{SbAddress, SbEvent};
use crate::clickbank::sandbox::state::State;
use crate::clickbank::time::format_pacific;
use crate::clickbank::types::TransactionType;

/// REST amounts: ClickBank writes a zero shipping as `"0.0"`.
fn rest_amount(minor: i64, currency: &str, zero_as_short: bool) -> String {
    if minor == 0 && zero_as_short {
        "0.0".to_string()
    } else {
        format_minor(minor, currency)
    }
}

pub(super) fn address_of<'a>(st: &'a State, e: &SbEvent) -> &'a SbAddress {
    e.receipt
        .as_ref()
        .and_then(|r| st.receipts.get(r))
        .and_then(|r| r.address_override.as_ref())
        .unwrap_or(&st.customers[e.customer].address)
}

/// One `orderData` record in REST style (all strings, `@nil`, single objects).
fn rest_order(st: &State, e: &SbEvent, only_sku: Option<&str>, j: &mut Json) {
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
