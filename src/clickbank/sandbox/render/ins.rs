//! INS notifications (real JSON types) of sandbox events.

use chrono::{DateTime, Utc};

use super::json::{b, Json};
use super::orders::address_of;
use crate::clickbank::money::format_minor;
use crate::clickbank::sandbox::model::{SbAddress, SbEvent};
use crate::clickbank::sandbox::state::State;
use crate::clickbank::time::{format_pacific, format_pacific_compact};
use crate::clickbank::types::TransactionType;

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
    // An abandoned order carries its line items only sometimes (see `dataset::cart_lines`).
    if !abandoned || !e.lines.is_empty() {
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
