//! Customer Service end to end against the sandbox: search by every field, keyset pages,
//! totals, the profile, and every action — refund (preview, ticket, RFND closing it),
//! cancel (ticket, CANCEL-REBILL), pause, resume, next bill date — including ClickBank
//! refusing them, double clicks, roles and CSRF.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use diesel::prelude::*;
use merchant_crm::clickbank::{LineItemStatus, Sandbox, SandboxConfig, SandboxHandle};
use merchant_crm::db::schema::{audit_log, customers, orders, purchases, service_requests};
use merchant_crm::domain::customer_service::search::{
    self as cs, Cursor, Direction, SearchFilter, PAGE_SIZE,
};

use crate::helpers::{csrf_in, TestApp};
use crate::support::clickbank::portal_with_orders;
use crate::support::html;

/// The refund form for a full refund, reason "Other".
const FULL_REFUND: [(&str, &str); 5] = [
    ("refund_type", "FULL"),
    ("amount", ""),
    ("reason", "ticket.type.refund.8"),
    ("sku", ""),
    ("comment", ""),
];

/// A sandbox whose orders are all young enough to refund.
async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        orders: 240,
        days: 30,
        ..Default::default()
    })
    .unwrap()
}

/// (order id, customer id, receipt) of an order matching `filter` on (status, refunded, recurring item).
async fn pick_order(app: &TestApp, recurring: bool) -> (i64, i64, String) {
    app.db
        .read(move |c| {
            use merchant_crm::db::schema::order_items;
            let with_sub = purchases::table.select(purchases::order_id);
            let mut q = orders::table
                .filter(orders::status.eq("COMPLETE"))
                .filter(orders::refunded_minor.eq(0))
                .filter(orders::order_type.eq("SALE"))
                .filter(orders::total_minor.gt(0))
                .select((orders::id, orders::customer_id, orders::receipt))
                .order(orders::transaction_time.desc())
                .into_boxed();
            if recurring {
                q = q.filter(orders::id.eq_any(with_sub));
            } else {
                q = q
                    .filter(diesel::dsl::not(orders::id.eq_any(with_sub)))
                    .filter(diesel::dsl::not(
                        orders::id.eq_any(
                            order_items::table
                                .filter(order_items::recurring.eq(true))
                                .select(order_items::order_id),
                        ),
                    ));
            }
            Ok(q.first(c)?)
        })
        .await
        .unwrap()
}

/// An active purchase whose subscription is active at the sandbox: (customer, purchase, receipt).
async fn pick_purchase(app: &TestApp, sb: &SandboxHandle) -> (i64, i64, String) {
    let active: HashSet<String> = sb
        .subscription_receipts(LineItemStatus::Active)
        .into_iter()
        .collect();
    let rows: Vec<(i64, i64, String)> = app
        .db
        .read(|c| {
            Ok(purchases::table
                .inner_join(orders::table.on(orders::id.eq(purchases::order_id)))
                .filter(purchases::status.eq("ACTIVE"))
                .filter(purchases::next_bill_date.is_not_null())
                .select((purchases::customer_id, purchases::id, orders::receipt))
                .load(c)?)
        })
        .await
        .unwrap();
    // One subscription per receipt keeps the SKU unambiguous; a payment due within 40 days
    // leaves room for every pause rule.
    let soon = chrono::Utc::now() + chrono::Duration::days(40);
    rows.into_iter()
        .filter(|(_, _, r)| active.contains(r))
        .find(|(_, _, r)| {
            let subs = sb.subscriptions(r);
            subs.len() == 1 && subs[0].next_payment.is_some_and(|n| n < soon)
        })
        .expect("an active subscription billing within 40 days")
}

async fn request_rows(app: &TestApp, order_id: i64) -> Vec<(String, String, Option<String>)> {
    app.db
        .read(move |c| {
            Ok(service_requests::table
                .filter(service_requests::order_id.eq(order_id))
                .order(service_requests::id)
                .select((
                    service_requests::action,
                    service_requests::status,
                    service_requests::ticket_id,
                ))
                .load(c)?)
        })
        .await
        .unwrap()
}

fn flash(body: &str) -> String {
    let start = body.find("class=\"flash").expect("a flash message");
    let rest = &body[start..];
    let end = rest.find("</div>").unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Posts a form from `page` and returns the page the redirect lands on.
async fn post_and_follow(app: &TestApp, page: &str, path: &str, fields: &[(&str, &str)]) -> String {
    let r = app.post_form(page, path, fields).await;
    assert_eq!(r.status(), 303, "{path}");
    let to = r.headers()["location"].to_str().unwrap().to_string();
    app.get_text(to.split('#').next().unwrap()).await
}

/// Lets the sandbox's INS arrive and be applied, until `check` holds.
async fn wait_until<F>(app: &TestApp, what: &str, check: F)
where
    F: Fn(&mut merchant_crm::db::DbConn) -> QueryResult<bool> + Send + Clone + 'static,
{
    for _ in 0..100 {
        app.settle().await;
        let f = check.clone();
        if app.db.read(move |c| Ok(f(c)?)).await.unwrap() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[actix_web::test]
async fn refund_preview_ticket_double_click_and_the_rfnd_that_completes_it() {
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    let (order_id, customer, receipt) = pick_order(&app, false).await;
    let profile = format!("/customers/{customer}");
    let form = format!("/customers/{customer}/orders/{order_id}/refund");

    // The form checks before calling: no reason, a percentage out of range.
    let page = app
        .get_text(&format!("{form}?preview=1&refund_type=FULL&amount=&reason="))
        .await;
    assert!(page.contains("Choose a refund reason"), "{page}");
    let page = app
        .get_text(&format!(
            "{form}?preview=1&refund_type=PARTIAL_PERCENT&amount=90&reason=ticket.type.refund.8"
        ))
        .await;
    assert!(page.contains("from 1 to 80"));

    // Preview: ClickBank's refundAmounts for a full refund is the order total.
    let total: i64 = app
        .db
        .read(move |c| {
            Ok(orders::table
                .find(order_id)
                .select(orders::total_minor)
                .first(c)?)
        })
        .await
        .unwrap();
    let page = app
        .get_text(&format!(
            "{form}?preview=1&refund_type=FULL&amount=&reason=ticket.type.refund.8"
        ))
        .await;
    assert!(html::has_id(&page, "refund-preview"), "{page}");
    let shown = merchant_crm::clickbank::format_minor(total, "USD");
    assert!(page.contains(&shown) || page.contains("preview-total"), "{page}");
    assert!(page.contains("which can take hours"));

    // Confirm, then a double click: one ticket at ClickBank.
    let fields = [
        ("refund_type", "FULL"),
        ("amount", ""),
        ("reason", "ticket.type.refund.8"),
        ("sku", ""),
        ("comment", "customer asked by phone"),
    ];
    let after = post_and_follow(&app, &form, &form, &fields).await;
    assert!(
        flash(&after).contains("Refund requested from ClickBank (ticket"),
        "{}",
        flash(&after)
    );
    assert!(after.contains("Refund requested (ticket"));
    let again = post_and_follow(&app, &form, &form, &fields).await;
    assert!(
        flash(&again).contains("nothing new was sent"),
        "{}",
        flash(&again)
    );
    let tickets: Vec<_> = sb
        .tickets()
        .into_iter()
        .filter(|t| t.receipt.as_deref() == Some(receipt.as_str()))
        .collect();
    assert_eq!(tickets.len(), 1);
    let rows = request_rows(&app, order_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "open");
    assert_eq!(rows[0].2.as_deref(), Some(tickets[0].ticket_id.as_str()));
    // The preview and the ticket count in the account's requests of the day, as actions.
    let actions = app
        .db
        .read(|c| {
            let pid = merchant_crm::domain::plugins::list(c)?[0].id;
            Ok(merchant_crm::domain::clickbank_budget::today_usage(c, pid)?
                .of(merchant_crm::domain::clickbank_budget::Purpose::Action))
        })
        .await
        .unwrap();
    assert!(actions >= 2, "{actions} action requests counted");

    // ClickBank completes the ticket and sends the RFND: the refund is recorded, the request closed.
    assert!(sb.process_tickets_now() >= 1);
    wait_until(&app, "the RFND", move |c| {
        Ok(orders::table
            .find(order_id)
            .select(orders::status)
            .first::<String>(c)?
            == "REFUNDED")
    })
    .await;
    let rows = request_rows(&app, order_id).await;
    assert_eq!(rows[0].1, "done");
    let page = app.get_text(&profile).await;
    assert!(!page.contains("Refund requested (ticket"));
    assert!(page.contains("Refund completed by ClickBank"));
    // Audited with who and what.
    let audits: Vec<(String, String)> = app
        .db
        .read(move |c| {
            Ok(audit_log::table
                .filter(audit_log::target.eq(format!("customer:{customer}")))
                .select((audit_log::action, audit_log::detail))
                .load(c)?)
        })
        .await
        .unwrap();
    assert!(audits
        .iter()
        .any(|(a, d)| a == "customer.refund" && d.contains("ticket opened") && d.contains("before")));
}

#[actix_web::test]
async fn clickbank_refusals_are_shown_verbatim_and_release_the_request() {
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    let (order_id, customer, receipt) = pick_order(&app, false).await;
    let form = format!("/customers/{customer}/orders/{order_id}/refund");

    // Partial refunds not enabled for this vendor.
    sb.set_partial_refunds(false);
    let partial = [
        ("refund_type", "PARTIAL_PERCENT"),
        ("amount", "25"),
        ("reason", "ticket.type.refund.8"),
        ("sku", ""),
        ("comment", ""),
    ];
    let page = post_and_follow(&app, &form, &form, &partial).await;
    assert!(
        flash(&page).contains("ClickBank refused: Partial refunds are not enabled for this vendor"),
        "{}",
        flash(&page)
    );
    assert_eq!(request_rows(&app, order_id).await[0].1, "failed");
    // Where the person is looking: beside the order (the page lands on it), and marked.
    assert!(
        page.contains(&format!(
            "id=\"outcome-order-{order_id}\">ClickBank refused: Partial refunds"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("id=\"refund-refused-{order_id}\"")),
        "{page}"
    );

    // A refund ticket opened elsewhere (ClickBank's own portal): "Refund ticket already open".
    let api = merchant_crm::clickbank::ClickBankClient::new(sb.client_config()).unwrap();
    use merchant_crm::clickbank::{ClickBankApi, RefundKind, TicketRequest};
    api.create_ticket(
        &receipt,
        &TicketRequest::refund(RefundKind::Full, "ticket.type.refund.8"),
    )
    .await
    .unwrap();
    let full = FULL_REFUND;
    let page = post_and_follow(&app, &form, &form, &full).await;
    assert!(
        flash(&page).contains("ClickBank refused: Refund ticket already open"),
        "{}",
        flash(&page)
    );
    let rows = request_rows(&app, order_id).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.1 == "failed"));
}

#[actix_web::test]
async fn cancel_pause_resume_and_next_bill_date_follow_clickbank_rules() {
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    let (customer, pid, receipt) = pick_purchase(&app, &sb).await;
    let profile = format!("/customers/{customer}");
    let base = format!("/customers/{customer}/purchases/{pid}");
    let today = merchant_crm::clickbank::rules::today(chrono::Utc::now());
    let next_day = {
        let t = sb.subscriptions(&receipt)[0].next_payment.unwrap();
        merchant_crm::clickbank::rules::today(t)
    };
    let requests_before = sb.request_count();

    // Pause: before the next payment and beyond 60 days are refused by the form, ClickBank untouched.
    let too_early = (next_day - chrono::Duration::days(1)).to_string();
    let page = post_and_follow(&app, &profile, &format!("{base}/pause"), &[("date", &too_early)]).await;
    assert!(
        flash(&page).contains("cannot be before the next scheduled payment"),
        "{}",
        flash(&page)
    );
    let too_late = (today + chrono::Duration::days(61)).to_string();
    let page = post_and_follow(&app, &profile, &format!("{base}/pause"), &[("date", &too_late)]).await;
    assert!(flash(&page).contains("at most 60 days"), "{}", flash(&page));
    let past = today.to_string();
    let page = post_and_follow(
        &app,
        &profile,
        &format!("{base}/next-bill-date"),
        &[("date", &past)],
    )
    .await;
    assert!(flash(&page).contains("must be a future date"), "{}", flash(&page));
    assert_eq!(
        sb.request_count(),
        requests_before,
        "rules are checked before calling ClickBank"
    );

    // Change next bill date: success at once, the sandbox agrees.
    let new_day = (today + chrono::Duration::days(9)).max(next_day + chrono::Duration::days(1));
    let page = post_and_follow(
        &app,
        &profile,
        &format!("{base}/next-bill-date"),
        &[("date", &new_day.to_string())],
    )
    .await;
    assert!(
        flash(&page).contains(&format!("Next bill date changed to {new_day}")),
        "{}",
        flash(&page)
    );
    let truth = &sb.subscriptions(&receipt)[0];
    assert_eq!(
        merchant_crm::clickbank::rules::today(truth.next_payment.unwrap()),
        new_day
    );

    // Pause until a valid day, then resume early through changeDate.
    let restart = new_day + chrono::Duration::days(5);
    let page = post_and_follow(
        &app,
        &profile,
        &format!("{base}/pause"),
        &[("date", &restart.to_string())],
    )
    .await;
    assert!(flash(&page).contains("Subscription paused"), "{}", flash(&page));
    assert!(page.contains("PAUSED"));
    assert!(sb.subscriptions(&receipt)[0].paused_until.is_some());
    let early = (today + chrono::Duration::days(2)).to_string();
    let page = post_and_follow(&app, &profile, &format!("{base}/resume"), &[("date", &early)]).await;
    assert!(flash(&page).contains("Subscription resumed"), "{}", flash(&page));
    assert!(sb.subscriptions(&receipt)[0].paused_until.is_none());

    // Cancel: a ticket, "Cancellation requested", a double click sends nothing, then CANCEL-REBILL.
    let cancel = [("reason", "ticket.type.cancel.1")];
    let page = post_and_follow(&app, &profile, &format!("{base}/cancel"), &cancel).await;
    assert!(
        flash(&page).contains("Cancellation requested from ClickBank (ticket"),
        "{}",
        flash(&page)
    );
    assert!(page.contains("Cancellation requested (ticket"));
    let page = post_and_follow(&app, &profile, &format!("{base}/cancel"), &cancel).await;
    assert!(flash(&page).contains("nothing new was sent"), "{}", flash(&page));
    let cancel_tickets = sb
        .tickets()
        .into_iter()
        .filter(|t| t.receipt.as_deref() == Some(receipt.as_str()))
        .count();
    assert_eq!(cancel_tickets, 1);
    sb.process_tickets_now();
    wait_until(&app, "the CANCEL-REBILL", move |c| {
        Ok(purchases::table
            .find(pid)
            .select(purchases::status)
            .first::<String>(c)?
            == "CANCELLED")
    })
    .await;
    let page = app.get_text(&profile).await;
    assert!(page.contains("Cancellation completed by ClickBank"));

    // Cancelled: no second cancel; resume reinstates it.
    let page = post_and_follow(&app, &profile, &format!("{base}/cancel"), &cancel).await;
    assert!(
        flash(&page).contains("only an active one can be cancelled"),
        "{}",
        flash(&page)
    );
    let page = post_and_follow(&app, &profile, &format!("{base}/resume"), &[("date", "")]).await;
    assert!(flash(&page).contains("Subscription resumed"), "{}", flash(&page));
    assert_eq!(sb.subscriptions(&receipt)[0].status, LineItemStatus::Active);
}

#[actix_web::test]
async fn subscription_already_canceled_at_clickbank_is_shown_verbatim() {
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    let (customer, pid, receipt) = pick_purchase(&app, &sb).await;
    // Cancelled at ClickBank while the portal did not hear of it yet (no INS delivery).
    sb.set_notify_url(None);
    let api = merchant_crm::clickbank::ClickBankClient::new(sb.client_config()).unwrap();
    use merchant_crm::clickbank::{ClickBankApi, TicketRequest};
    api.create_ticket(&receipt, &TicketRequest::cancel("ticket.type.cancel.1"))
        .await
        .unwrap();
    sb.process_tickets_now();
    let profile = format!("/customers/{customer}");
    let page = post_and_follow(
        &app,
        &profile,
        &format!("/customers/{customer}/purchases/{pid}/next-bill-date"),
        &[(
            "date",
            &(chrono::Utc::now().date_naive() + chrono::Duration::days(5)).to_string(),
        )],
    )
    .await;
    assert!(
        flash(&page).contains("ClickBank refused: Subscription already canceled"),
        "{}",
        flash(&page)
    );
    // ClickBank's word is recorded: the subscription is cancelled here too, the page says why
    // and offers no Cancel.
    let status: String = app
        .db
        .read(move |c| Ok(purchases::table.find(pid).select(purchases::status).first(c)?))
        .await
        .unwrap();
    assert_eq!(status, "CANCELLED");
    assert!(
        page.contains("it is marked cancelled here, as ClickBank has it"),
        "{page}"
    );
    assert!(
        page.contains(&format!("id=\"outcome-purchase-{pid}\">ClickBank refused")),
        "the answer sits beside the subscription: {page}"
    );
    assert!(
        !page.contains(&format!("/purchases/{pid}/cancel\"")),
        "no Cancel button any more"
    );
}

#[actix_web::test]
async fn keyset_pages_cover_every_order_once_in_both_directions() {
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    let all: Vec<i64> = app
        .db
        .read(|c| {
            Ok(orders::table
                .select(orders::id)
                .order((orders::transaction_time.desc(), orders::id.desc()))
                .load(c)?)
        })
        .await
        .unwrap();
    assert!(
        all.len() as i64 > 3 * PAGE_SIZE,
        "enough orders for several pages"
    );
    for oldest_first in [false, true] {
        let f = SearchFilter {
            oldest_first,
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let mut pages = Vec::new();
        loop {
            let f2 = f.clone();
            let page = app
                .db
                .read(move |c| cs::orders_page(c, &f2, cursor, Direction::After))
                .await
                .unwrap();
            seen.extend(page.rows.iter().map(|h| h.order_id));
            pages.push((
                page.prev,
                page.rows.iter().map(|h| h.order_id).collect::<Vec<_>>(),
            ));
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let mut expected = all.clone();
        if oldest_first {
            expected.reverse();
        }
        assert_eq!(seen, expected, "oldest_first={oldest_first}");
        // Previous from page 3 gives page 2 exactly.
        let (prev3, _) = pages[2].clone();
        let f2 = f.clone();
        let back = app
            .db
            .read(move |c| cs::orders_page(c, &f2, prev3, Direction::Before))
            .await
            .unwrap();
        assert_eq!(
            back.rows.iter().map(|h| h.order_id).collect::<Vec<_>>(),
            pages[1].1
        );
    }

    // Through the page: Next links walk forward without repeating a receipt.
    let first = app.get_text("/customer-service").await;
    let next = first.split("id=\"next-page\"").next().unwrap();
    let href = next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = app.get_text(&href).await;
    let receipts = |body: &str| -> HashSet<String> {
        body.split("data-receipt=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_string())
            .collect()
    };
    assert!(receipts(&first).is_disjoint(&receipts(&second)));
    assert!(html::has_id(&second, "prev-page"));
}

#[actix_web::test]
async fn search_by_every_field_and_totals() {
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    let (order_id, customer_id, receipt) = pick_order(&app, false).await;
    let (email, first, last, phone, affiliate, campaign, day): (
        String,
        String,
        String,
        String,
        Option<String>,
        i64,
        chrono::NaiveDateTime,
    ) = app
        .db
        .read(move |c| {
            Ok(orders::table
                .inner_join(customers::table)
                .filter(orders::id.eq(order_id))
                .select((
                    customers::email,
                    customers::first_name,
                    customers::last_name,
                    customers::phone,
                    orders::affiliate,
                    orders::campaign_id,
                    orders::transaction_time,
                ))
                .first(c)?)
        })
        .await
        .unwrap();
    let _ = customer_id;
    let find = |q: String| {
        let app = &app;
        let receipt = receipt.clone();
        async move {
            let body = app.get_text(&format!("/customer-service?{q}")).await;
            assert!(!body.contains("search-error"), "{q}: {body}");
            html::has_data(&body, "receipt", &receipt)
        }
    };
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    assert!(find(format!("email={}", enc(&email))).await);
    assert!(
        find(format!("email={}", enc(&email.to_uppercase()[..4]))).await,
        "prefix, any case"
    );
    assert!(find(format!("name={}", enc(&last.to_lowercase()))).await);
    assert!(find(format!("name={}", enc(&first))).await);
    assert!(find(format!("name={}+{}", enc(&first), enc(&last))).await);
    if !phone.is_empty() {
        assert!(find(format!("phone={}", enc(&phone))).await);
    }
    assert!(find(format!("receipt={}", enc(&receipt.to_lowercase()))).await);
    assert!(find(format!("receipt={order_id}")).await);
    if let Some(a) = &affiliate {
        assert!(find(format!("affiliate={}", enc(&a.to_uppercase()))).await);
        let start: String = a
            .chars()
            .take(a.chars().count().saturating_sub(1).max(1))
            .collect();
        assert!(
            find(format!("affiliate={}", enc(&start.to_uppercase()))).await,
            "affiliate by prefix, any case"
        );
        assert!(!find(format!("affiliate={}", enc(&format!("{a}zzz")))).await);
    }
    assert!(find(format!("campaign={campaign}&email={}", enc(&email))).await);
    assert!(find(format!("status=COMPLETE&email={}", enc(&email))).await);
    assert!(!find(format!("status=REFUNDED&email={}", enc(&email))).await);
    let d = day.date();
    assert!(
        find(format!(
            "from={}&to={}&email={}",
            d - chrono::Duration::days(1),
            d + chrono::Duration::days(1),
            enc(&email)
        ))
        .await
    );
    assert!(
        !find(format!(
            "from={}&email={}",
            d + chrono::Duration::days(2),
            enc(&email)
        ))
        .await
    );
    assert!(!find(format!("email={}", enc("nobody@example.invalid"))).await);
    // Purchase status: a cancelled subscription's order shows under CANCELLED only.
    let sub_receipt: Option<String> = app
        .db
        .read(|c| {
            Ok(purchases::table
                .inner_join(orders::table.on(orders::id.eq(purchases::order_id)))
                .filter(purchases::status.eq("CANCELLED"))
                .select(orders::receipt)
                .first(c)
                .optional()?)
        })
        .await
        .unwrap();
    if let Some(r) = sub_receipt {
        let body = app
            .get_text(&format!("/customer-service?purchase=CANCELLED&receipt={r}"))
            .await;
        assert!(html::has_data(&body, "receipt", &r));
        let body = app
            .get_text(&format!("/customer-service?purchase=ACTIVE&receipt={r}"))
            .await;
        assert!(!html::has_data(&body, "receipt", &r));
    }
    // A bad filter says what is wrong.
    let body = app.get_text("/customer-service?from=yesterday").await;
    assert!(body.contains("is not a date"));
    // Partials: their own list.
    let body = app.get_text("/customer-service?show=partials").await;
    assert!(body.contains("Abandoned carts"));

    // Totals per currency equal the SQL.
    let json: serde_json::Value = app
        .get(&format!(
            "/customer-service/totals?campaign={campaign}&format=json"
        ))
        .await
        .json()
        .await
        .unwrap();
    let (n, sum): (i64, i64) = app
        .db
        .read(move |c| {
            let rows: Vec<i64> = orders::table
                .filter(orders::campaign_id.eq(campaign))
                .select(orders::total_minor)
                .load(c)?;
            Ok((rows.len() as i64, rows.iter().sum()))
        })
        .await
        .unwrap();
    let t = &json["totals"][0];
    assert_eq!(t["orders"].as_i64(), Some(n));
    let cur = t["currency"].as_str().unwrap();
    assert_eq!(
        t["revenue"].as_str().unwrap(),
        merchant_crm::clickbank::format_minor(sum, cur)
    );
    let html = app
        .get_text(&format!("/customer-service/totals?campaign={campaign}"))
        .await;
    assert!(html.contains(&format!("<td class=\"num\">{n}</td>")));
}

#[actix_web::test]
async fn profile_shows_everything_escaped_and_actions_need_a_session_and_csrf() {
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    let (order_id, customer, receipt) = pick_order(&app, false).await;
    app.db
        .run(move |c| {
            diesel::update(customers::table.find(customer))
                .set(customers::first_name.eq("<script>alert(1)</script>"))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let profile = format!("/customers/{customer}");
    let page = app.get_text(&profile).await;
    assert!(page.contains("alert(1)"), "{page}");
    assert!(!page.contains("<script>alert(1)"));
    for section in [
        "id=\"orders\"",
        "id=\"purchases\"",
        "id=\"fulfillments\"",
        "id=\"tickets\"",
        "id=\"notes\"",
        "id=\"timeline\"",
    ] {
        assert!(page.contains(section), "{section}");
    }
    assert!(page.contains(&receipt));
    assert!(page.contains("Sale"), "the timeline names the sale");

    // A note, then it is on the profile and in the timeline.
    let page = post_and_follow(
        &app,
        &profile,
        &format!("{profile}/notes"),
        &[("body", "Called, wants a refund")],
    )
    .await;
    assert!(page.contains("Called, wants a refund"));
    let page = post_and_follow(&app, &profile, &format!("{profile}/notes"), &[("body", "   ")]).await;
    assert!(flash(&page).contains("The note is empty"));

    // Without the CSRF token: refused, nothing sent.
    let form = format!("/customers/{customer}/orders/{order_id}/refund");
    let r = app
        .post_raw(
            &form,
            &[("refund_type", "FULL"), ("reason", "ticket.type.refund.8")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(request_rows(&app, order_id).await.is_empty());
    // An order of another customer through this customer's path: not found.
    let other = app
        .db
        .read(move |c| {
            Ok(orders::table
                .filter(orders::customer_id.ne(customer))
                .select(orders::id)
                .first::<i64>(c)?)
        })
        .await
        .unwrap();
    let r = app
        .get(&format!("/customers/{customer}/orders/{other}/refund"))
        .await;
    assert_eq!(r.status(), 404);

    // Merchant staff may act; a signed-out visitor is sent to log in.
    app.create_user("staff@example.com", "merchant", "staff password 123456")
        .await;
    let staff = app.other_client();
    staff.login("staff@example.com", "staff password 123456").await;
    let page = staff.get_text(&form).await;
    assert!(csrf_in(&page).is_some());
    let anon = app.other_client();
    let r = anon.get(&profile).await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/login"));
}

/// Sets a form field through the DOM (date inputs take typed text in the browser's locale).
async fn set_value(c: &fantoccini::Client, css: &str, value: &str) {
    c.execute(
        "document.querySelector(arguments[0]).value = arguments[1];",
        vec![serde_json::json!(css), serde_json::json!(value)],
    )
    .await
    .unwrap();
}

#[actix_web::test]
async fn a_merchant_refunds_an_order_and_changes_a_bill_date_in_a_real_browser() {
    use crate::support::browser::{browser, click, fill, find, text_of};
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    app.create_user("agent@example.com", "merchant", "agent password 123456")
        .await;
    let (order_id, _, receipt) = pick_order(&app, false).await;
    let (sub_customer, pid, sub_receipt) = pick_purchase(&app, &sb).await;

    let b = browser().await;
    let c = &b.client;
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "input[name=email]", "agent@example.com").await;
    fill(c, "input[name=password]", "agent password 123456").await;
    click(c, "#login-submit").await;

    // Find the order by receipt, open the customer, refund it in full.
    click(c, "a[href='/customer-service']").await;
    fill(c, "#cs-search input[name=receipt]", &receipt.to_lowercase()).await;
    click(c, "#cs-search button[type=submit]").await;
    // The unfiltered list may show the same row: wait for the results of the search itself.
    for _ in 0..100 {
        if c.current_url().await.unwrap().as_str().contains("receipt=") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    click(c, &format!("tr[data-receipt='{receipt}'] td:nth-child(2) a")).await;
    click(c, &format!("#order-{order_id} a.button")).await;
    click(c, "#refund-form input[value=FULL]").await;
    let reason = find(c, "#refund-form select[name=reason]").await;
    reason.select_by_value("ticket.type.refund.8").await.unwrap();
    click(c, "#preview-refund").await;
    let total = text_of(c, "#preview-total").await;
    assert!(!total.is_empty());
    click(c, "#confirm-refund button").await;
    c.accept_alert().await.unwrap();
    let flash = text_of(c, ".flash").await;
    assert!(
        flash.contains("Refund requested from ClickBank (ticket"),
        "{flash}"
    );
    assert!(text_of(c, &format!("#order-{order_id} .refund-requested"))
        .await
        .contains("Refund requested (ticket"));

    // A subscription: change its next bill date.
    c.goto(&app.url(&format!("/customers/{sub_customer}")))
        .await
        .unwrap();
    let day = merchant_crm::clickbank::rules::today(chrono::Utc::now()) + chrono::Duration::days(12);
    let form = format!("#purchase-{pid} .next-bill-form");
    set_value(c, &format!("{form} input[name=date]"), &day.to_string()).await;
    click(c, &format!("{form} button")).await;
    let flash = text_of(c, ".flash").await;
    assert!(
        flash.contains(&format!("Next bill date changed to {day}")),
        "{flash}"
    );
    let truth = &sb.subscriptions(&sub_receipt)[0];
    assert_eq!(
        merchant_crm::clickbank::rules::today(truth.next_payment.unwrap()),
        day
    );
    b.client.clone().close().await.unwrap();
}

/// A request left `sending` by a portal that stopped mid-call.
async fn interrupted_request(app: &TestApp, order_id: i64, minutes_ago: i64) {
    app.db
        .run(move |c| {
            let (plugin, customer): (i64, i64) = orders::table
                .find(order_id)
                .select((orders::plugin_id, orders::customer_id))
                .first(c)?;
            let then = merchant_crm::domain::now() - chrono::Duration::minutes(minutes_ago);
            diesel::insert_into(service_requests::table)
                .values((
                    service_requests::plugin_id.eq(plugin),
                    service_requests::customer_id.eq(customer),
                    service_requests::order_id.eq(order_id),
                    service_requests::action.eq("refund"),
                    service_requests::detail.eq("{}"),
                    service_requests::status.eq("sending"),
                    service_requests::open_key.eq(format!("order:{order_id}:refund")),
                    service_requests::requested_by_label.eq("crashed@example.com"),
                    service_requests::created_at.eq(then),
                    service_requests::updated_at.eq(then),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

#[actix_web::test]
async fn a_request_interrupted_by_a_crash_is_settled_from_clickbank_and_never_doubled() {
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    let full = FULL_REFUND;

    // Fresh `sending` request: another click is in flight; nothing is sent.
    let (order_id, customer, _) = pick_order(&app, false).await;
    interrupted_request(&app, order_id, 0).await;
    let form = format!("/customers/{customer}/orders/{order_id}/refund");
    let page = post_and_follow(&app, &form, &form, &full).await;
    assert!(
        flash(&page).contains("being sent to ClickBank — nothing new was sent"),
        "{}",
        flash(&page)
    );
    assert_eq!(sb.tickets().len(), 0);

    // Stale, and ClickBank has no ticket: it is failed, and the new request goes through.
    app.db
        .run(move |c| {
            diesel::update(service_requests::table.filter(service_requests::order_id.eq(order_id)))
                .set(
                    service_requests::updated_at
                        .eq(merchant_crm::domain::now() - chrono::Duration::minutes(10)),
                )
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let page = post_and_follow(&app, &form, &form, &full).await;
    assert!(
        flash(&page).contains("Refund requested from ClickBank (ticket"),
        "{}",
        flash(&page)
    );
    let rows = request_rows(&app, order_id).await;
    assert_eq!(
        rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["failed", "open"]
    );

    // Stale, and ClickBank did open the ticket before the crash: adopted, not sent again.
    let (order2, customer2, receipt2) = {
        let taken = order_id;
        app.db
            .read(move |c| {
                Ok(orders::table
                    .filter(orders::status.eq("COMPLETE"))
                    .filter(orders::refunded_minor.eq(0))
                    .filter(orders::order_type.eq("SALE"))
                    .filter(orders::id.ne(taken))
                    .filter(diesel::dsl::not(
                        orders::id.eq_any(purchases::table.select(purchases::order_id)),
                    ))
                    .order(orders::transaction_time.desc())
                    .select((orders::id, orders::customer_id, orders::receipt))
                    .first::<(i64, i64, String)>(c)?)
            })
            .await
            .unwrap()
    };
    let api = merchant_crm::clickbank::ClickBankClient::new(sb.client_config()).unwrap();
    use merchant_crm::clickbank::{ClickBankApi, RefundKind, TicketRequest};
    let ticket = api
        .create_ticket(
            &receipt2,
            &TicketRequest::refund(RefundKind::Full, "ticket.type.refund.8"),
        )
        .await
        .unwrap();
    interrupted_request(&app, order2, 10).await;
    let form2 = format!("/customers/{customer2}/orders/{order2}/refund");
    let page = post_and_follow(&app, &form2, &form2, &full).await;
    assert!(
        flash(&page).contains(&format!(
            "Refund requested (ticket {}) — nothing new was sent",
            ticket.ticket_id
        )),
        "{}",
        flash(&page)
    );
    let rows = request_rows(&app, order2).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "open");
    let at_clickbank = sb
        .tickets()
        .into_iter()
        .filter(|t| t.receipt.as_deref() == Some(receipt2.as_str()))
        .count();
    assert_eq!(at_clickbank, 1);
}

#[actix_web::test]
async fn dev_seed_fills_orders_a_fifty_order_customer_and_consistent_totals() {
    let app = TestApp::spawn().await;
    let secrets = merchant_crm::secrets::SecretBox::new(&app.config.master_key).unwrap();
    let db = app.db.clone();
    let report = tokio::task::spawn_blocking(move || merchant_crm::dev::seed(&db, &secrets, 600).unwrap())
        .await
        .unwrap();
    assert_eq!(report.orders, 600);
    let fifty = report.fifty_customer_id;
    let profile = app
        .db
        .read(move |c| merchant_crm::domain::customer_service::customers::profile(c, fifty))
        .await
        .unwrap();
    assert_eq!(profile.orders.len(), 50);
    assert_eq!(profile.customer.email, merchant_crm::dev::FIFTY_EMAIL);
    let totals = app
        .db
        .read(|c| cs::totals(c, &SearchFilter::default()))
        .await
        .unwrap();
    assert_eq!(totals.iter().map(|t| t.orders).sum::<i64>(), 600);
    // New rows after a seed get fresh ids on both backends (sequences moved past the seed).
    app.setup_admin().await;
    let page = app.get_text(&format!("/customers/{fifty}")).await;
    assert!(page.contains("Orders (50)"));
    let page = post_and_follow(
        &app,
        &format!("/customers/{fifty}"),
        &format!("/customers/{fifty}/notes"),
        &[("body", "seeded")],
    )
    .await;
    assert!(page.contains("Note added"));
}

#[actix_web::test]
async fn a_ticket_closed_at_clickbank_frees_the_request_when_staff_check() {
    let sb = sandbox().await;
    let app = portal_with_orders(&sb).await;
    let (order_id, customer, _) = pick_order(&app, false).await;
    let profile = format!("/customers/{customer}");
    let form = format!("/customers/{customer}/orders/{order_id}/refund");
    let page = post_and_follow(&app, &form, &form, &FULL_REFUND).await;
    assert!(page.contains("Refund requested (ticket"));
    let (request_id, ticket): (i64, String) = app
        .db
        .read(move |c| {
            Ok(service_requests::table
                .filter(service_requests::order_id.eq(order_id))
                .select((
                    service_requests::id,
                    service_requests::ticket_id.assume_not_null(),
                ))
                .first(c)?)
        })
        .await
        .unwrap();
    let check = format!("{profile}/requests/{request_id}/check");

    // Still open at ClickBank: nothing changes.
    let page = post_and_follow(&app, &profile, &check, &[]).await;
    assert!(
        flash(&page).contains("still open at ClickBank"),
        "{}",
        flash(&page)
    );

    // Closed at ClickBank (by the vendor, say) without a refund: the request ends, a new one can go.
    use merchant_crm::clickbank::ClickBankApi;
    let api = merchant_crm::clickbank::ClickBankClient::new(sb.client_config()).unwrap();
    api.close_ticket(&ticket, Some("resolved by email"))
        .await
        .unwrap();
    let page = post_and_follow(&app, &profile, &check, &[]).await;
    assert!(flash(&page).contains("closed at ClickBank"), "{}", flash(&page));
    assert_eq!(request_rows(&app, order_id).await[0].1, "closed");
    assert!(page.contains("Actions → ClickBank Refund"));
    let page = post_and_follow(&app, &form, &form, &FULL_REFUND).await;
    assert!(
        flash(&page).contains("Refund requested from ClickBank (ticket"),
        "{}",
        flash(&page)
    );

    // The totals of the first, unfiltered page load from a URL that answers.
    let list = app.get_text("/customer-service").await;
    let url = list
        .split("data-totals-url=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let r = app.get(&url).await;
    assert_eq!(r.status(), 200, "{url}");
    let json: serde_json::Value = r.json().await.unwrap();
    assert!(json["totals"].as_array().is_some_and(|t| !t.is_empty()));
}
