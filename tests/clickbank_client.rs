//! Contract tests of every client operation against the in-process ClickBank sandbox.

mod clickbank_support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use clickbank_support::{anchor, anchor_day, client, client_with, start};
use merchant_crm::clickbank::sandbox::Sandbox;
use merchant_crm::clickbank::{
    fetch_all_orders, fetch_all_products, AddressChange, ClickBankApi, ClickBankError, LineItemStatus,
    OrderPages, OrdersQuery, ProductChange, ProductKind, ProductsQuery, RefundKind, RetryPolicy, ShipNotice,
    SubscriptionStatus, TicketRequest, TicketStatus, TicketType, TransactionType,
};

fn whole_range() -> OrdersQuery {
    OrdersQuery::between(anchor_day() - ChronoDuration::days(400), anchor_day())
}

#[tokio::test]
async fn orders_paging_walks_every_page_including_short_ones() {
    let sb = start(700);
    let api = client(&sb);
    let query = whole_range();
    let mut pages = OrderPages::new(&api, query.clone());
    let mut sizes = Vec::new();
    let mut mores = Vec::new();
    let mut seen = Vec::new();
    while let Some(page) = pages.next_page().await.unwrap() {
        sizes.push(page.records.len());
        mores.push(page.more);
        seen.extend(page.records);
    }
    assert!(sizes.len() >= 10, "only {} pages", sizes.len());
    assert!(sizes.iter().all(|&n| n <= 100));
    // Some page before the last is short although more followed.
    let short_with_more = sizes.iter().zip(&mores).any(|(&n, &more)| more && n < 100);
    assert!(short_with_more, "no short page in {sizes:?}");
    assert!(!mores.last().unwrap());

    let truth = sb.transactions_between(anchor_day() - ChronoDuration::days(400), anchor_day());
    assert_eq!(seen.len(), truth.len());
    let count = api.orders_count(&query).await.unwrap();
    assert_eq!(count as usize, truth.len());

    // Same transactions, same money per currency and type.
    let key = |r: &str, t: &str, time: i64| format!("{r}|{t}|{time}");
    let got: HashSet<String> = seen
        .iter()
        .map(|r| {
            key(
                &r.receipt,
                r.transaction_type.as_str(),
                r.transaction_time.timestamp(),
            )
        })
        .collect();
    let want: HashSet<String> = truth
        .iter()
        .map(|t| {
            key(
                t.receipt.as_deref().unwrap(),
                t.transaction_type.as_str(),
                t.time.timestamp(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let mut sums: BTreeMap<(String, String), (u64, i64)> = BTreeMap::new();
    for r in &seen {
        let e = sums
            .entry((r.currency.clone().unwrap(), r.transaction_type.to_string()))
            .or_default();
        e.0 += 1;
        e.1 += r.total_minor().unwrap();
    }
    let summary = sb.summary(anchor_day() - ChronoDuration::days(400), anchor_day());
    assert_eq!(summary.count as usize, seen.len());
    for ((cur, ty), (n, total)) in &sums {
        let t = summary.get(cur, ty);
        assert_eq!((t.count, t.total_minor), (*n, *total), "{cur} {ty}");
    }
    let all = fetch_all_orders(&api, &query).await.unwrap();
    assert_eq!(all.len(), seen.len());
}

/// A recent (refundable) sale, chosen by `pred`, with no refund or chargeback.
fn recent_sale(
    sb: &merchant_crm::clickbank::SandboxHandle,
    pred: impl Fn(&merchant_crm::clickbank::sandbox::TruthTransaction) -> bool,
) -> merchant_crm::clickbank::sandbox::TruthTransaction {
    let all = sb.transactions();
    let touched: HashSet<String> = all
        .iter()
        .filter(|t| matches!(t.transaction_type, TransactionType::Rfnd | TransactionType::Cgbk))
        .filter_map(|t| t.receipt.clone())
        .collect();
    all.iter()
        .filter(|t| t.transaction_type == TransactionType::Sale)
        .filter(|t| anchor() - t.time < ChronoDuration::days(25))
        .filter(|t| !touched.contains(t.receipt.as_ref().unwrap()))
        .find(|t| pred(t))
        .cloned()
        .expect("a matching recent sale")
}

fn recurring_skus(sb: &merchant_crm::clickbank::SandboxHandle) -> HashSet<String> {
    sb.products()
        .into_iter()
        .filter(|p| p.recurring)
        .map(|p| p.sku)
        .collect()
}

fn physical_skus(sb: &merchant_crm::clickbank::SandboxHandle) -> HashSet<String> {
    sb.products()
        .into_iter()
        .filter(|p| p.physical)
        .map(|p| p.sku)
        .collect()
}

#[tokio::test]
async fn every_rest_quirk_is_served_and_read() {
    let sb = start(300);
    // The raw body really carries ClickBank's quirks.
    let http = reqwest::Client::new();
    let raw = http
        .get(format!("{}/orders2/list", sb.base_url()))
        .query(&[("startDate", "2025-01-01"), ("endDate", "2025-06-15")])
        .header("Authorization", sb.api_key())
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 206);
    let text = raw.text().await.unwrap();
    assert!(text.contains(r#""paytmentMethod":""#));
    assert!(text.contains(r#"{"@nil":"true"}"#));
    assert!(text.contains(r#""recurring":"true""#));
    assert!(text.contains(r#""quantity":"1""#));
    assert!(text.contains(r#""totalShippingAmount":"0.0""#));
    assert!(
        text.contains("-07:00\"") && text.contains("-08:00\""),
        "Pacific offsets"
    );
    // Some record has a single line item as a bare object, some vendorVariables a single item.
    assert!(text.contains(r#""lineItemData":{"itemNo""#));
    assert!(
        text.contains(r#""vendorVariables":{"item":["#) || text.contains(r#""vendorVariables":{"item":{"#)
    );
    assert!(text.contains(r#""customerContactInfo":{"field":"phone""#));

    // The typed records match the truth exactly.
    let api = client(&sb);
    let records = fetch_all_orders(&api, &whole_range()).await.unwrap();
    let truth = sb.transactions();
    let by_key: BTreeMap<(String, String, i64), _> = truth
        .iter()
        .map(|t| {
            (
                (
                    t.receipt.clone().unwrap(),
                    t.transaction_type.to_string(),
                    t.time.timestamp(),
                ),
                t,
            )
        })
        .collect();
    let mut saw_nil_affiliate = false;
    let mut saw_bump = false;
    let mut saw_upsell_link = false;
    let mut saw_refund = false;
    for r in &records {
        let t = by_key[&(
            r.receipt.clone(),
            r.transaction_type.to_string(),
            r.transaction_time.timestamp(),
        )];
        assert_eq!(r.total_minor().unwrap(), t.total_minor);
        assert_eq!(r.currency.as_deref(), Some(t.currency.as_str()));
        assert_eq!(r.affiliate, t.affiliate);
        assert_eq!(r.payment_method.as_deref(), Some(t.payment_method.as_str()));
        assert_eq!(r.email.as_deref(), Some(t.email.as_str()));
        assert_eq!(r.first_name.as_deref(), Some(t.first_name.as_str()));
        assert_eq!(r.line_items.len(), t.items.len());
        for (l, ti) in r.line_items.iter().zip(&t.items) {
            assert_eq!(l.item_no, ti.sku);
            let cur = r.currency.as_deref().unwrap();
            assert_eq!(
                l.customer_amount.as_ref().unwrap().to_minor(cur).unwrap(),
                ti.customer_minor
            );
            assert_eq!(
                l.account_amount.as_ref().unwrap().to_minor(cur).unwrap(),
                ti.account_minor
            );
            assert_eq!(l.line_item_type.as_ref(), Some(&ti.line_type));
            saw_bump |= ti.line_type == merchant_crm::clickbank::LineItemType::Bump;
        }
        assert_eq!(r.upsell_original_receipt, t.upsell_original_receipt);
        saw_upsell_link |= r.upsell_original_receipt.is_some();
        saw_nil_affiliate |= r.affiliate.is_none();
        if r.transaction_type == TransactionType::Rfnd {
            saw_refund = true;
            assert!(r.total_order_amount.as_ref().unwrap().is_negative());
            assert!(r.customer_refundable_state.is_none());
        }
        if r.transaction_type == TransactionType::Sale {
            assert!(r.customer_refundable_state.is_some());
        }
    }
    assert!(saw_nil_affiliate && saw_bump && saw_upsell_link && saw_refund);
    // Hostile names come through verbatim (escaping is the portal's job).
    assert!(records
        .iter()
        .any(|r| r.first_name.as_deref().unwrap_or("").contains('<')
            || r.last_name.as_deref().unwrap_or("").contains('<')
            || r.last_name.as_deref().unwrap_or("").contains('"')));
}

#[tokio::test]
async fn orders_filters() {
    let sb = start(300);
    let api = client(&sb);
    let truth = sb.transactions();

    let mut q = whole_range();
    q.transaction_type = Some(TransactionType::Rfnd);
    let refunds = fetch_all_orders(&api, &q).await.unwrap();
    assert!(!refunds.is_empty());
    assert!(refunds
        .iter()
        .all(|r| r.transaction_type == TransactionType::Rfnd));
    let want = truth
        .iter()
        .filter(|t| t.transaction_type == TransactionType::Rfnd)
        .count();
    assert_eq!(refunds.len(), want);

    let mut q = whole_range();
    q.affiliate = Some("none".into());
    let direct = fetch_all_orders(&api, &q).await.unwrap();
    assert!(!direct.is_empty() && direct.iter().all(|r| r.affiliate.is_none()));

    let someone = truth.iter().find(|t| t.affiliate.is_some()).unwrap();
    let mut q = whole_range();
    q.affiliate = someone.affiliate.clone();
    let theirs = fetch_all_orders(&api, &q).await.unwrap();
    assert!(theirs.iter().all(|r| r.affiliate == someone.affiliate));
    assert!(!theirs.is_empty());

    // % wildcards on email.
    let email = &truth[0].email;
    let prefix = &email[..email.find('@').unwrap()];
    let mut q = whole_range();
    q.email = Some(format!("{prefix}%"));
    let by_email = fetch_all_orders(&api, &q).await.unwrap();
    assert!(!by_email.is_empty());
    assert!(by_email
        .iter()
        .all(|r| r.email.as_deref().unwrap().starts_with(prefix)));

    let mut q = whole_range();
    q.item = Some("2".into());
    let bumps = fetch_all_orders(&api, &q).await.unwrap();
    assert!(!bumps.is_empty());
    assert!(bumps
        .iter()
        .all(|r| r.line_items.iter().any(|l| l.item_no == "2")));

    let mut q = whole_range();
    q.transaction_type = Some(TransactionType::Other("NOPE".into()));
    assert!(fetch_all_orders(&api, &q).await.unwrap().is_empty());

    // Dates are inclusive Pacific days.
    let day = truth[truth.len() / 2].time;
    let pday = merchant_crm::clickbank::time::pacific_date(day);
    let one_day = fetch_all_orders(&api, &OrdersQuery::between(pday, pday))
        .await
        .unwrap();
    assert_eq!(one_day.len(), sb.transactions_between(pday, pday).len());
    assert!(one_day
        .iter()
        .all(|r| merchant_crm::clickbank::time::pacific_date(r.transaction_time) == pday));

    let q = OrdersQuery {
        start_date: Some(pday),
        ..Default::default()
    };
    assert!(matches!(
        api.orders_page(&q, 1).await,
        Err(ClickBankError::InvalidRequest { .. })
    ));
}

#[tokio::test]
async fn authorization_forms_and_403_texts() {
    let sb = Sandbox::start(merchant_crm::clickbank::SandboxConfig {
        dev_key: Some("DEV-TESTDEV".into()),
        ..clickbank_support::config(50)
    })
    .unwrap();
    let q = whole_range();
    // DEV:API form and bare API key both work.
    let legacy = client_with(&sb, |c| c.dev_key = Some("DEV-TESTDEV".into()));
    assert_eq!(
        legacy.config().authorization(),
        format!("DEV-TESTDEV:{}", sb.api_key())
    );
    legacy.orders_page(&q, 1).await.unwrap();
    client(&sb).orders_page(&q, 1).await.unwrap();

    let wrong = client_with(&sb, |c| c.api_key = "API-WRONG".into());
    match wrong.orders_page(&q, 1).await {
        Err(ClickBankError::Forbidden { text }) => assert!(text.starts_with("Invalid API credentials")),
        other => panic!("expected 403, got {other:?}"),
    }
    let wrong_dev = client_with(&sb, |c| c.dev_key = Some("DEV-OTHER".into()));
    assert!(matches!(
        wrong_dev.orders_page(&q, 1).await,
        Err(ClickBankError::Forbidden { .. })
    ));
    // No Authorization at all, no Accept: plain-text refusals.
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/orders2/count", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .starts_with("Missing Authorization header"));
    let r = http
        .get(format!("{}/orders2/count", sb.base_url()))
        .header("Authorization", sb.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 406);
}

#[tokio::test]
async fn reads_retry_5xx_and_rate_limits_but_writes_do_not() {
    let sb = start(100);
    let api = client_with(&sb, |c| {
        c.retry = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        }
    });
    let q = whole_range();
    sb.fail_next(2);
    let page = api.orders_page(&q, 1).await.unwrap();
    assert!(!page.records.is_empty());
    assert_eq!(api.stats().retries, 2);

    sb.rate_limit_next(1);
    api.orders_count(&q).await.unwrap();
    assert_eq!(api.stats().retries, 3);

    sb.fail_next(10);
    match api.orders_page(&q, 1).await {
        Err(ClickBankError::Status { code: 503, .. }) => {}
        other => panic!("expected 503 after retries, got {other:?}"),
    }
    sb.fail_next(0);

    let no_retry = client_with(&sb, |c| c.retry = RetryPolicy::none());
    sb.rate_limit_next(1);
    match no_retry.orders_count(&q).await {
        Err(e @ ClickBankError::RateLimited { .. }) => {
            assert!(e.text().unwrap().contains("rate limit"));
        }
        other => panic!("expected rate limit, got {other:?}"),
    }

    // A write is sent once, even on a 503.
    let receipt = sb.subscription_receipts(LineItemStatus::Active).remove(0);
    let before = sb.request_count();
    sb.fail_next(1);
    let r = api
        .change_date(&receipt, None, anchor_day() + ChronoDuration::days(10))
        .await;
    assert!(matches!(r, Err(ClickBankError::Status { code: 503, .. })));
    assert_eq!(sb.request_count(), before + 1);
}

#[tokio::test]
async fn client_rate_limiter_spaces_requests() {
    let sb = start(20);
    let api = client_with(&sb, |c| {
        c.requests_per_second = 20;
        c.burst = 1;
    });
    let q = whole_range();
    let started = Instant::now();
    for _ in 0..6 {
        api.orders_count(&q).await.unwrap();
    }
    // 6 requests at 20/s with a burst of 1: at least 5 waits of ~50 ms.
    assert!(api.stats().throttled >= 4, "{:?}", api.stats());
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(api.stats().requests, 6);
}

#[tokio::test]
async fn order_by_receipt_upsells_and_subscription_status() {
    let sb = start(300);
    let api = client(&sb);
    let truth = sb.transactions();
    let upsell = truth
        .iter()
        .find(|t| t.upsell_original_receipt.is_some())
        .unwrap();
    let original = upsell.upsell_original_receipt.clone().unwrap();
    let ups = api.upsells(&original).await.unwrap();
    assert!(ups.iter().any(|r| Some(&r.receipt) == upsell.receipt.as_ref()));

    let single = truth
        .iter()
        .find(|t| t.transaction_type == TransactionType::Sale && t.items.len() == 1)
        .unwrap();
    let records = api.order(single.receipt.as_deref().unwrap(), None).await.unwrap();
    assert!(records
        .iter()
        .any(|r| r.transaction_type == TransactionType::Sale));

    let multi = truth
        .iter()
        .find(|t| t.transaction_type == TransactionType::Sale && t.items.len() > 1)
        .unwrap();
    let receipt = multi.receipt.as_deref().unwrap();
    match api.order(receipt, None).await {
        Err(ClickBankError::BadRequest { text }) => assert!(text.contains("sku is required")),
        other => panic!("expected 400, got {other:?}"),
    }
    let bump_sku = &multi.items[1].sku;
    let by_sku = api.order(receipt, Some(bump_sku)).await.unwrap();
    assert!(by_sku
        .iter()
        .all(|r| r.line_items.len() == 1 && &r.line_items[0].item_no == bump_sku));
    assert!(matches!(
        api.order("NOSUCH99", None).await,
        Err(ClickBankError::Forbidden { .. })
    ));

    let active = sb.subscription_receipts(LineItemStatus::Active).remove(0);
    assert_eq!(
        api.subscription_status(&active, None).await.unwrap(),
        SubscriptionStatus::Active
    );
    let canceled = sb.subscription_receipts(LineItemStatus::Canceled).remove(0);
    assert_eq!(
        api.subscription_status(&canceled, None).await.unwrap(),
        SubscriptionStatus::NotActive
    );
    assert_eq!(
        api.subscription_status(single.receipt.as_deref().unwrap(), None)
            .await
            .unwrap(),
        SubscriptionStatus::NotActive
    );
}

#[tokio::test]
async fn subscription_actions_follow_clickbank_rules() {
    let sb = start(400);
    let api = client(&sb);
    let today = merchant_crm::clickbank::time::pacific_date(sb.now());
    let active = sb.subscription_receipts(LineItemStatus::Active);
    let receipt = active[0].clone();

    // changeDate: future only.
    let err = api.change_date(&receipt, None, today).await.unwrap_err();
    assert_eq!(err.text(), Some("changeDate must be a future date"));
    let target = today + ChronoDuration::days(9);
    api.change_date(&receipt, None, target).await.unwrap();
    let sub = sb.subscriptions(&receipt).remove(0);
    assert_eq!(
        merchant_crm::clickbank::time::pacific_date(sub.next_payment.unwrap()),
        target
    );

    // pause: not before the next payment, at most 60 days out.
    let err = api
        .pause(&receipt, None, target - ChronoDuration::days(1))
        .await
        .unwrap_err();
    assert!(err
        .text()
        .unwrap()
        .starts_with("restartDate cannot be before the next scheduled payment"));
    let err = api
        .pause(&receipt, None, today + ChronoDuration::days(61))
        .await
        .unwrap_err();
    assert_eq!(err.text(), Some("restartDate must be at most 60 days from today"));
    api.pause(&receipt, None, today + ChronoDuration::days(40))
        .await
        .unwrap();
    let sub = sb.subscriptions(&receipt).remove(0);
    assert!(sub.paused_until.is_some());
    assert_eq!(
        merchant_crm::clickbank::time::pacific_date(sub.next_payment.unwrap()),
        today + ChronoDuration::days(40)
    );

    // extend adds payments.
    let before = sb.subscriptions(&receipt).remove(0).remaining;
    api.extend(&receipt, None, 3).await.unwrap();
    assert_eq!(sb.subscriptions(&receipt).remove(0).remaining, before + 3);

    // Canceled subscriptions refuse changes; reinstate within 60 days works.
    let canceled = sb.subscription_receipts(LineItemStatus::Canceled);
    let all = sb.transactions();
    let refunded: HashSet<String> = all
        .iter()
        .filter(|t| matches!(t.transaction_type, TransactionType::Rfnd | TransactionType::Cgbk))
        .filter_map(|t| t.receipt.clone())
        .collect();
    let recent = canceled
        .iter()
        .find(|r| {
            !refunded.contains(*r)
                && sb.subscriptions(r)[0]
                    .canceled_at
                    .is_some_and(|c| sb.now() - c < ChronoDuration::days(50))
        })
        .cloned()
        .expect("a recently canceled subscription");
    let err = api.change_date(&recent, None, target).await.unwrap_err();
    assert_eq!(err.text(), Some("Subscription already canceled"));
    api.reinstate(&recent, None).await.unwrap();
    assert_eq!(sb.subscriptions(&recent)[0].status, LineItemStatus::Active);
    let err = api.reinstate(&recent, None).await.unwrap_err();
    assert_eq!(err.text(), Some("Subscription is not canceled"));
    let old = canceled.iter().find(|r| {
        !refunded.contains(*r)
            && sb.subscriptions(r)[0]
                .canceled_at
                .is_some_and(|c| sb.now() - c > ChronoDuration::days(61))
    });
    if let Some(old) = old {
        let err = api.reinstate(old, None).await.unwrap_err();
        assert_eq!(
            err.text(),
            Some("Subscription can only be reinstated within 60 days of cancellation")
        );
    }

    // changeProduct to another recurring product in the same currency.
    let products = sb.products();
    let usd_monthly: Vec<_> = products
        .iter()
        .filter(|p| p.recurring && p.currency == "USD" && p.active)
        .collect();
    let sub_receipt = active
        .iter()
        .find(|r| {
            let s = &sb.subscriptions(r)[0];
            s.status == LineItemStatus::Active && usd_monthly.iter().any(|p| p.sku == s.sku)
        })
        .unwrap()
        .clone();
    let old_sku = sb.subscriptions(&sub_receipt)[0].sku.clone();
    let new_sku = usd_monthly.iter().find(|p| p.sku != old_sku).unwrap().sku.clone();
    api.change_product(
        &sub_receipt,
        &ProductChange {
            old_sku: old_sku.clone(),
            new_sku: new_sku.clone(),
            carry_affiliate: true,
            apply_prorated_refund: false,
            next_rebill_date: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(sb.subscriptions(&sub_receipt)[0].sku, new_sku);

    // changeAddress on a physical order; required fields checked client-side.
    let physical = physical_skus(&sb);
    let shipped = recent_sale(&sb, |t| t.items.iter().any(|i| physical.contains(&i.sku)));
    let change = AddressChange {
        address1: "1 New Street".into(),
        city: "Springfield".into(),
        country_code: "US".into(),
        postal_code: Some("12345".into()),
        ..Default::default()
    };
    api.change_address(shipped.receipt.as_deref().unwrap(), &change)
        .await
        .unwrap();
    assert!(matches!(
        api.change_address(shipped.receipt.as_deref().unwrap(), &AddressChange::default())
            .await,
        Err(ClickBankError::InvalidRequest { .. })
    ));
    let ev = sb
        .ins_for(shipped.receipt.as_deref().unwrap(), &TransactionType::Sale)
        .unwrap();
    let n = ev.notification().unwrap();
    let shipping = n.customer.unwrap().shipping.unwrap();
    assert_eq!(
        shipping.address.unwrap().address1.as_deref(),
        Some("1 New Street")
    );
}

#[tokio::test]
async fn products_list_paging_and_by_sku() {
    let sb = Sandbox::start(merchant_crm::clickbank::SandboxConfig {
        products_page_size: 5,
        ..clickbank_support::config(20)
    })
    .unwrap();
    let api = client(&sb);
    let q = ProductsQuery::site(sb.site());
    let first = api.products_page(&q, 1).await.unwrap();
    assert_eq!(first.products.len(), 5);
    assert!(first.more);
    let all = fetch_all_products(&api, &q).await.unwrap();
    let truth = sb.products();
    assert_eq!(all.len(), truth.len());
    for (p, t) in all.iter().zip(&truth) {
        assert_eq!(p.sku, t.sku);
        assert_eq!(p.title.as_deref(), Some(t.title.as_str()));
        assert_eq!(p.is_recurring(), t.recurring);
        assert_eq!(p.is_physical(), t.physical);
        let pricing = p.pricing(&t.currency).unwrap();
        let price = pricing.standard.as_ref().unwrap().price.as_ref().unwrap();
        assert_eq!(
            price
                .native_price
                .as_ref()
                .unwrap()
                .to_minor(&t.currency)
                .unwrap(),
            t.price_minor
        );
        assert!(p.created.is_some() && !p.categories.is_empty());
        if t.recurring {
            assert!(pricing.recurring.as_ref().unwrap().frequency.is_some());
        }
    }
    assert!(all.iter().any(|p| p.pricings.len() > 1));
    assert!(all
        .iter()
        .any(|p| p.status == Some(merchant_crm::clickbank::ProductStatus::Inactive)));

    let recurring = fetch_all_products(
        &api,
        &ProductsQuery {
            site: sb.site().to_string(),
            kind: Some(ProductKind::Recurring),
        },
    )
    .await
    .unwrap();
    assert!(!recurring.is_empty() && recurring.iter().all(|p| p.is_recurring()));

    let one = api.product(sb.site(), "15").await.unwrap();
    assert_eq!(
        one.initial_price()
            .map(|(c, a)| (c.to_string(), a.to_minor(c).unwrap())),
        Some(("JPY".to_string(), 4980))
    );
    assert!(matches!(
        api.product(sb.site(), "NOPE").await,
        Err(ClickBankError::Forbidden { .. })
    ));
    match api.products_page(&ProductsQuery::site("OTHERSITE"), 1).await {
        Err(ClickBankError::Forbidden { text }) => assert!(text.contains("OTHERSITE")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn refund_tickets_refusals_preview_and_close() {
    // A long delay: the ticket must still be open when it is closed below.
    let sb = Sandbox::start(merchant_crm::clickbank::SandboxConfig {
        ticket_delay: Duration::from_secs(30),
        ..clickbank_support::config(300)
    })
    .unwrap();
    let api = client(&sb);
    let recurring = recurring_skus(&sb);
    let sale = recent_sale(&sb, |t| !t.items.iter().any(|i| recurring.contains(&i.sku)));
    let receipt = sale.receipt.clone().unwrap();

    // Partial refunds are off by default.
    let partial = TicketRequest::refund(RefundKind::PartialPercent(50), "ticket.type.refund.8");
    match api.create_ticket(&receipt, &partial).await {
        Err(ClickBankError::Forbidden { text }) => {
            assert_eq!(text, "Partial refunds are not enabled for this vendor")
        }
        other => panic!("{other:?}"),
    }
    // Preview of a full refund pays the whole order back.
    let preview = api
        .refund_amounts(&receipt, &RefundKind::Full, None)
        .await
        .unwrap();
    assert_eq!(preview.currency.as_deref(), Some(sale.currency.as_str()));
    assert_eq!(
        preview
            .total_amount
            .as_ref()
            .unwrap()
            .to_minor(&sale.currency)
            .unwrap(),
        sale.total_minor
    );

    let ticket = api
        .create_ticket(
            &receipt,
            &TicketRequest::refund(RefundKind::Full, "ticket.type.refund.7").with_comment("duplicate"),
        )
        .await
        .unwrap();
    assert_eq!(ticket.status, Some(TicketStatus::Open));
    assert_eq!(ticket.ticket_type, Some(TicketType::Refund));
    assert_eq!(ticket.receipt.as_deref(), Some(receipt.as_str()));
    assert_eq!(ticket.comments.len(), 1);
    match api
        .create_ticket(
            &receipt,
            &TicketRequest::refund(RefundKind::Full, "ticket.type.refund.8"),
        )
        .await
    {
        Err(ClickBankError::Forbidden { text }) => assert_eq!(text, "Refund ticket already open"),
        other => panic!("{other:?}"),
    }
    let fetched = api.ticket(&ticket.ticket_id).await.unwrap();
    assert_eq!(fetched.ticket_id, ticket.ticket_id);
    let listed = api.tickets_for_receipt(&receipt).await.unwrap();
    assert_eq!(listed.len(), 1);
    // Records of the receipt now say a refund is open.
    let records = api.order(&receipt, Some(&sale.items[0].sku)).await.unwrap();
    assert_eq!(
        records[0].customer_refundable_state,
        Some(merchant_crm::clickbank::RefundableState::HasOpenRefund)
    );

    // Closing before ClickBank processes it: no refund happens.
    let closed = api
        .close_ticket(&ticket.ticket_id, Some("customer changed their mind"))
        .await
        .unwrap();
    assert_eq!(closed.status, Some(TicketStatus::Closed));
    assert_eq!(sb.process_tickets_now(), 0, "a closed ticket is not processed");
    assert!(!sb
        .transactions()
        .iter()
        .any(|t| t.receipt.as_deref() == Some(&receipt) && t.transaction_type == TransactionType::Rfnd));

    // With partial refunds enabled: percentage and amount.
    sb.set_partial_refunds(true);
    let err = api
        .create_ticket(
            &receipt,
            &TicketRequest::refund(
                RefundKind::PartialAmount("999999.00".parse().unwrap()),
                "ticket.type.refund.8",
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(err.text(), Some("refundAmount exceeds the refundable amount"));
    let pct = api
        .refund_amounts(&receipt, &RefundKind::PartialPercent(50), None)
        .await
        .unwrap();
    assert!(pct.total_amount.is_some());
    let t2 = api.create_ticket(&receipt, &partial).await.unwrap();
    assert_eq!(
        t2.refund_type,
        Some(merchant_crm::clickbank::RefundType::PartialPercent)
    );
    // Processed: a partial RFND of the previewed amount.
    assert_eq!(sb.process_tickets_now(), 1);
    let rfnd = sb
        .transactions()
        .into_iter()
        .find(|t| {
            t.receipt.as_deref() == Some(receipt.as_str()) && t.transaction_type == TransactionType::Rfnd
        })
        .expect("partial RFND");
    let paid_back = t2
        .refund_amount
        .as_ref()
        .unwrap()
        .to_minor(&sale.currency)
        .unwrap();
    assert_eq!(rfnd.total_minor, -paid_back);
    assert_eq!(
        pct.total_amount
            .as_ref()
            .unwrap()
            .to_minor(&sale.currency)
            .unwrap(),
        paid_back
    );
    assert!(paid_back < sale.total_minor);

    // Cancel on a canceled subscription is refused with ClickBank's text.
    let canceled = sb.subscription_receipts(LineItemStatus::Canceled);
    let refunded: HashSet<String> = sb
        .transactions()
        .iter()
        .filter(|t| {
            t.transaction_type == TransactionType::Rfnd || t.transaction_type == TransactionType::Cgbk
        })
        .filter_map(|t| t.receipt.clone())
        .collect();
    let c = canceled.iter().find(|r| !refunded.contains(*r)).unwrap();
    let err = api
        .create_ticket(c, &TicketRequest::cancel("ticket.type.cancel.1"))
        .await
        .unwrap_err();
    assert_eq!(err.text(), Some("Subscription already canceled"));
    // Invalid reasons never leave the client.
    assert!(matches!(
        api.create_ticket(&receipt, &TicketRequest::cancel("nope")).await,
        Err(ClickBankError::InvalidRequest { .. })
    ));
}

#[tokio::test]
async fn ticket_creation_that_timed_out_is_not_posted_twice() {
    let sb = Sandbox::start(merchant_crm::clickbank::SandboxConfig {
        ticket_delay: Duration::from_secs(30),
        ..clickbank_support::config(200)
    })
    .unwrap();
    let api = client_with(&sb, |c| c.timeout = Duration::from_millis(400));
    let recurring = recurring_skus(&sb);
    let sale = recent_sale(&sb, |t| !t.items.iter().any(|i| recurring.contains(&i.sku)));
    let receipt = sale.receipt.clone().unwrap();
    // The next answer arrives after the client gave up; ClickBank did create the ticket.
    sb.delay_next(1, Duration::from_millis(1_500));
    let ticket = api
        .create_ticket(
            &receipt,
            &TicketRequest::refund(RefundKind::Full, "ticket.type.refund.8"),
        )
        .await
        .unwrap();
    assert_eq!(ticket.receipt.as_deref(), Some(receipt.as_str()));
    let tickets: Vec<_> = sb
        .tickets()
        .into_iter()
        .filter(|t| t.receipt.as_deref() == Some(receipt.as_str()))
        .collect();
    assert_eq!(tickets.len(), 1, "the ticket was posted twice");
    assert_eq!(tickets[0].ticket_id, ticket.ticket_id);
}

#[tokio::test]
async fn ship_notices_are_recorded() {
    let sb = start(300);
    let api = client(&sb);
    let physical = physical_skus(&sb);
    let sale = recent_sale(&sb, |t| t.items.iter().any(|i| physical.contains(&i.sku)));
    let receipt = sale.receipt.clone().unwrap();
    let notice = ShipNotice {
        date: anchor_day(),
        carrier: "UPS".into(),
        tracking: "1Z999AA10123456784".into(),
        sku: Some(sale.items[0].sku.clone()),
    };
    api.ship_notice(&receipt, &notice).await.unwrap();
    let recorded = sb.ship_notices();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].receipt, receipt);
    assert_eq!(recorded[0].tracking, "1Z999AA10123456784");
    assert_eq!(recorded[0].date, "2025-06-15");
    let digital = recent_sale(&sb, |t| !t.items.iter().any(|i| physical.contains(&i.sku)));
    match api
        .ship_notice(digital.receipt.as_deref().unwrap(), &notice)
        .await
    {
        Err(ClickBankError::Forbidden { text }) => assert_eq!(text, "Order has no physical products"),
        other => panic!("{other:?}"),
    }
}

#[actix_web::test]
async fn runs_inside_actix_runtime_and_as_trait_object() {
    let sb = start(50);
    let api: std::sync::Arc<dyn ClickBankApi> =
        merchant_crm::clickbank::shared_client(sb.client_config()).unwrap();
    let page = api.orders_page(&whole_range(), 1).await.unwrap();
    assert!(!page.records.is_empty());
}

#[tokio::test]
async fn wire_format_auth_accept_content_length_and_page() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/1.3/orders2/ABC/changeDate"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/1.3/orders2/list"))
        .respond_with(
            ResponseTemplate::new(206)
                .set_body_string(r#"{"orderData":[]}"#)
                .insert_header("Content-Type", "application/json"),
        )
        .mount(&server)
        .await;
    let config = merchant_crm::clickbank::ClientConfig::new("API-KEY1")
        .with_base_url(format!("{}/rest/1.3", server.uri()))
        .with_dev_key(Some("DEV-KEY2".into()));
    let api = merchant_crm::clickbank::ClickBankClient::new(config).unwrap();
    api.change_date("ABC", Some("3"), anchor_day()).await.unwrap();
    let page = api.orders_page(&whole_range(), 7).await.unwrap();
    assert!(page.more && page.records.is_empty() && page.page == 7);

    let got = server.received_requests().await.unwrap();
    let post = &got[0];
    assert_eq!(post.headers.get("authorization").unwrap(), "DEV-KEY2:API-KEY1");
    assert_eq!(post.headers.get("accept").unwrap(), "application/json");
    let lengths: Vec<_> = post.headers.get_all("content-length").iter().collect();
    assert_eq!(lengths, vec!["0"]);
    assert!(post.body.is_empty());
    assert_eq!(post.url.query(), Some("changeDate=2025-06-15&sku=3"));
    let get = &got[1];
    assert_eq!(get.headers.get("page").unwrap(), "7");
    assert!(get.url.query().unwrap().contains("startDate="));
}
