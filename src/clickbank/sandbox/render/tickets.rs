//! Tickets and refund previews in REST style.

use super::json::Json;
use crate::clickbank::money::format_minor;
use crate::clickbank::sandbox::model::SbTicket;
use crate::clickbank::sandbox::state::State;
use crate::clickbank::time::format_pacific;

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
