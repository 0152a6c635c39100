//! The ClickBank sandbox itself: determinism, tickets turning into INS events, the
//! live stream, INS delivery and retries, fault switches.

mod clickbank_support;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use clickbank_support::{anchor, anchor_day, client, config, ins_url, receiver, start, wait_for_requests};
use merchant_crm::clickbank::sandbox::{Sandbox, SandboxConfig};
use merchant_crm::clickbank::{
    fetch_all_orders, ClickBankApi, InsDecoder, LineItemStatus, OrdersQuery, RefundKind, SubscriptionStatus,
    TicketRequest, TicketStatus, TransactionType,
};

fn recent_refundable_sale(sb: &merchant_crm::clickbank::SandboxHandle) -> String {
    let all = sb.transactions();
    let recurring: HashSet<String> = sb
        .products()
        .into_iter()
        .filter(|p| p.recurring)
        .map(|p| p.sku)
        .collect();
    let touched: HashSet<String> = all
        .iter()
        .filter(|t| t.transaction_type != TransactionType::Sale)
        .filter_map(|t| t.receipt.clone())
        .collect();
    all.iter()
        .filter(|t| t.transaction_type == TransactionType::Sale)
        .filter(|t| anchor() - t.time < ChronoDuration::days(20))
        .filter(|t| !t.items.iter().any(|i| recurring.contains(&i.sku)))
        .find_map(|t| t.receipt.clone().filter(|r| !touched.contains(r)))
        .expect("a recent one-off sale")
}

#[tokio::test]
async fn dataset_is_deterministic_for_a_seed_and_anchor() {
    let a = start(300);
    let b = start(300);
    let c = Sandbox::start(SandboxConfig {
        seed: 7,
        ..config(300)
    })
    .unwrap();
    let sig = |sb: &merchant_crm::clickbank::SandboxHandle| {
        sb.events()
            .into_iter()
            .map(|t| {
                (
                    t.receipt,
                    t.transaction_type.to_string(),
                    t.time,
                    t.total_minor,
                    t.email,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(sig(&a), sig(&b));
    assert_ne!(sig(&a), sig(&c));
    // The data proves escaping downstream: some names carry HTML or quotes.
    assert!(a
        .events()
        .iter()
        .any(|t| t.first_name.contains('<') || t.last_name.contains('<')));
    // Several currencies, customers buying more than once.
    let currencies: HashSet<String> = a.transactions().into_iter().map(|t| t.currency).collect();
    for cur in ["USD", "EUR", "GBP", "CAD", "AUD"] {
        assert!(currencies.contains(cur), "{cur}");
    }
    let mut emails = HashSet::new();
    let repeat = a
        .transactions()
        .into_iter()
        .filter(|t| t.transaction_type == TransactionType::Sale)
        .any(|t| !emails.insert(t.email));
    assert!(repeat);
}

#[tokio::test]
async fn refund_ticket_becomes_rfnd_in_list_and_encrypted_ins() {
    let ins = receiver(200).await;
    let sb = Sandbox::start(SandboxConfig {
        notify_url: Some(ins_url(&ins)),
        ..config(300)
    })
    .unwrap();
    let api = client(&sb);
    let receipt = recent_refundable_sale(&sb);
    let sale = sb
        .ins_for(&receipt, &TransactionType::Sale)
        .unwrap()
        .notification()
        .unwrap();
    let ticket = api
        .create_ticket(
            &receipt,
            &TicketRequest::refund(RefundKind::Full, "ticket.type.refund.8"),
        )
        .await
        .unwrap();

    let got = wait_for_requests(&ins, 1).await;
    assert_eq!(got.len(), 1, "no INS arrived");
    let n = InsDecoder::new(sb.secret_key()).decode(&got[0].body).unwrap();
    assert_eq!(n.transaction_type, TransactionType::Rfnd);
    assert_eq!(n.receipt, receipt);
    assert_eq!(n.total_order_minor().unwrap(), -sale.total_order_minor().unwrap());
    assert_eq!(n.attempt_count, Some(1));

    let t = api.ticket(&ticket.ticket_id).await.unwrap();
    assert_eq!(t.status, Some(TicketStatus::Closed));
    let mut q = OrdersQuery::between(
        anchor_day() - ChronoDuration::days(1),
        anchor_day() + ChronoDuration::days(1),
    );
    q.transaction_type = Some(TransactionType::Rfnd);
    let refunds = fetch_all_orders(&api, &q).await.unwrap();
    let rfnd = refunds
        .iter()
        .find(|r| r.receipt == receipt)
        .expect("RFND in the list");
    // Same event seen through both channels: same key.
    assert_eq!(rfnd.event_keys(), n.event_keys());
    let records = api.order(&receipt, None).await;
    if let Ok(records) = records {
        assert_eq!(
            records.last().unwrap().customer_refundable_state,
            None,
            "refund records carry no refundable state"
        );
    }
}

#[tokio::test]
async fn cancel_ticket_becomes_cancel_rebill() {
    let ins = receiver(200).await;
    let sb = Sandbox::start(SandboxConfig {
        notify_url: Some(ins_url(&ins)),
        ..config(300)
    })
    .unwrap();
    let api = client(&sb);
    let receipt = sb.subscription_receipts(LineItemStatus::Active).remove(0);
    api.create_ticket(&receipt, &TicketRequest::cancel("ticket.type.cancel.2"))
        .await
        .unwrap();
    let got = wait_for_requests(&ins, 1).await;
    assert_eq!(got.len(), 1);
    let n = InsDecoder::new(sb.secret_key()).decode(&got[0].body).unwrap();
    assert_eq!(n.transaction_type, TransactionType::CancelRebill);
    assert_eq!(n.receipt, receipt);
    let plan = n.line_items[0].payment_plan.as_ref().unwrap();
    assert_eq!(plan.rebill_status, Some(LineItemStatus::Canceled));
    assert_eq!(sb.subscriptions(&receipt)[0].status, LineItemStatus::Canceled);
    assert_eq!(
        api.subscription_status(&receipt, None).await.unwrap(),
        SubscriptionStatus::NotActive
    );
}

#[tokio::test]
async fn the_same_sale_via_ins_and_rest_gives_the_same_keys_and_money() {
    let sb = start(300);
    let api = client(&sb);
    let truth = sb.transactions();
    let sale = truth
        .iter()
        .find(|t| t.transaction_type == TransactionType::Sale && t.items.len() > 1)
        .unwrap();
    let receipt = sale.receipt.clone().unwrap();
    let n = sb
        .ins_for(&receipt, &TransactionType::Sale)
        .unwrap()
        .notification()
        .unwrap();
    let day = merchant_crm::clickbank::time::pacific_date(sale.time);
    let records = fetch_all_orders(&api, &OrdersQuery::between(day, day))
        .await
        .unwrap();
    let r = records
        .iter()
        .find(|r| r.receipt == receipt && r.transaction_type == TransactionType::Sale)
        .unwrap();
    assert_eq!(r.event_keys(), n.event_keys());
    assert_eq!(r.event_keys().len(), 2);
    assert_eq!(r.total_minor().unwrap(), n.total_order_minor().unwrap());
    assert_eq!(r.email.as_deref(), n.email());
    assert_eq!(n.vendor.as_deref(), Some(sb.site()));
    assert_eq!(n.version.as_deref(), Some("8.0"));
    let cur = n.currency.clone().unwrap();
    for (a, b) in r.line_items.iter().zip(&n.line_items) {
        assert_eq!(a.item_no, b.item_no);
        assert_eq!(
            a.account_amount.as_ref().unwrap().to_minor(&cur),
            b.account_amount.as_ref().unwrap().to_minor(&cur)
        );
    }
}

#[tokio::test]
async fn abandoned_carts_carry_line_items_only_sometimes() {
    let sb = start(200);
    let decoder = InsDecoder::new(sb.secret_key());
    let items: Vec<usize> = (0..6)
        .map(|_| {
            let ev = sb.create_event(&TransactionType::AbandonedOrder);
            let n = decoder.decode(ev.encrypt(sb.secret_key()).as_bytes()).unwrap();
            n.line_items.len()
        })
        .collect();
    assert_eq!(items.iter().filter(|n| **n == 1).count(), 2, "{items:?}");
    assert_eq!(items.iter().filter(|n| **n == 0).count(), 4, "{items:?}");
}

#[tokio::test]
async fn every_event_type_round_trips_encrypted() {
    let sb = start(200);
    let decoder = InsDecoder::new(sb.secret_key());
    let mut types: Vec<TransactionType> = TransactionType::ALL.to_vec();
    types.push(TransactionType::Other("BRAND_NEW_EVENT".into()));
    for t in types {
        let ev = sb.create_event(&t);
        assert_eq!(ev.transaction_type, t);
        let body = ev.encrypt(sb.secret_key());
        let n = decoder
            .decode(body.as_bytes())
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(n.transaction_type, t, "{}", ev.plaintext);
        assert_eq!(n.transaction_time.timestamp(), ev.transaction_time.timestamp());
        match t {
            TransactionType::AbandonedOrder => {
                // Usually no line items (one cart in three carries one, as ClickBank sometimes sends).
                assert!(n.line_items.len() <= 1, "{}", ev.plaintext);
                assert_eq!(n.receipt, "");
                assert!(n.email().is_some());
            }
            TransactionType::Test => assert_eq!(n.receipt, "********"),
            _ => {
                assert_eq!(Some(n.receipt.clone()), ev.receipt);
                assert!(!n.line_items.is_empty(), "{t}");
            }
        }
        if t.is_order_transaction() {
            assert!(
                sb.transactions().iter().any(|x| x.id == ev.id),
                "{t} is not in the orders list"
            );
        }
    }
}

#[tokio::test]
async fn live_stream_posts_encrypted_events() {
    let ins = receiver(200).await;
    let sb = Sandbox::start(SandboxConfig {
        events_per_second: 40.0,
        ..config(100)
    })
    .unwrap();
    // The notify URL can be set at runtime.
    sb.set_notify_url(Some(ins_url(&ins)));
    let got = wait_for_requests(&ins, 10).await;
    sb.set_events_per_second(0.0);
    assert!(got.len() >= 10, "only {} events", got.len());
    let decoder = InsDecoder::new(sb.secret_key());
    let kinds: HashSet<String> = got
        .iter()
        .map(|r| decoder.decode(&r.body).unwrap().transaction_type.to_string())
        .collect();
    assert!(kinds.contains("SALE"), "{kinds:?}");
    assert!(sb.deliveries().iter().all(|d| d.delivered()));
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_rising_attempt_count() {
    let ins = receiver(500).await;
    let sb = Sandbox::start(SandboxConfig {
        notify_url: Some(ins_url(&ins)),
        ..config(50)
    })
    .unwrap();
    let ev = sb.emit(&TransactionType::Sale);
    let got = wait_for_requests(&ins, 3).await;
    assert_eq!(got.len(), 3);
    let decoder = InsDecoder::new(sb.secret_key());
    let attempts: Vec<u32> = got
        .iter()
        .map(|r| decoder.decode(&r.body).unwrap().attempt_count.unwrap())
        .collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let records: Vec<_> = sb
        .deliveries()
        .into_iter()
        .filter(|d| d.event_id == ev.id)
        .collect();
    assert_eq!(records.len(), 3, "no more than ins_max_attempts");
    assert!(records.iter().all(|d| d.status == Some(500)));
}

#[tokio::test]
async fn post_event_and_post_raw() {
    let ins = receiver(200).await;
    let sb = start(50);
    let ev = sb
        .ins_for(
            &sb.transactions()[0].receipt.clone().unwrap(),
            &sb.transactions()[0].transaction_type,
        )
        .unwrap();
    assert_eq!(sb.post_event(&ins_url(&ins), &ev).await.unwrap(), 200);
    assert_eq!(
        sb.post_raw(&ins_url(&ins), b"not an envelope".to_vec())
            .await
            .unwrap(),
        200
    );
    let got = wait_for_requests(&ins, 2).await;
    assert_eq!(got[1].body, b"not an envelope");
    let n = InsDecoder::new(sb.secret_key()).decode(&got[0].body).unwrap();
    assert_eq!(Some(n.receipt), ev.receipt);
    assert!(sb.post_raw("http://127.0.0.1:1/ins", "x").await.is_err());
}

#[tokio::test]
async fn ins_versions_use_their_time_formats() {
    for (version, needle) in [(6u8, "-07:00\""), (7, "-0700\"")] {
        let sb = Sandbox::start(SandboxConfig {
            ins_version: version,
            ..config(50)
        })
        .unwrap();
        let t = &sb.transactions()[sb.transactions().len() - 1];
        let ev = sb
            .ins_for(t.receipt.as_deref().unwrap(), &t.transaction_type)
            .unwrap();
        assert!(ev.plaintext.contains(needle), "v{version}: {}", ev.plaintext);
        let n = ev.notification().unwrap();
        assert_eq!(n.transaction_time, t.time);
        assert_eq!(n.version.as_deref(), Some(format!("{version}.0").as_str()));
        assert!(n.affiliate_tracking_parameters.is_empty());
    }
}

fn raw_http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodiless_posts_need_content_length() {
    let sb = start(50);
    let receipt = sb.subscription_receipts(LineItemStatus::Active).remove(0);
    let addr = sb.address();
    let key = sb.api_key().to_string();
    let resp = tokio::task::spawn_blocking(move || {
        raw_http(
            addr,
            &format!(
                "POST /rest/1.3/orders2/{receipt}/extend?numPeriods=1 HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
            ),
        )
    })
    .await
    .unwrap();
    assert!(resp.starts_with("HTTP/1.1 411"), "{resp}");
}

#[tokio::test]
async fn fault_switches() {
    let sb = start(50);
    let api = client(&sb);
    let http = reqwest::Client::new();
    let get = || {
        http.get(format!("{}/orders2/count", sb.base_url()))
            .header("Authorization", sb.api_key())
            .header("Accept", "application/json")
            .send()
    };
    sb.set_rate_limit(Some(3));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = get().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status().as_u16() == 403 {
            assert!(r.text().await.unwrap().contains("rate limit"));
        }
    }
    assert!(statuses.contains(&403) && statuses.contains(&200), "{statuses:?}");
    sb.set_rate_limit(None);

    sb.set_error_rate(1.0);
    assert_eq!(get().await.unwrap().status().as_u16(), 503);
    sb.set_error_rate(0.0);
    assert_eq!(get().await.unwrap().status().as_u16(), 200);

    sb.set_latency(Duration::from_millis(300));
    let started = Instant::now();
    api.orders_count(&OrdersQuery::between(anchor_day(), anchor_day()))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    sb.set_latency(Duration::ZERO);
    let before = sb.request_count();
    get().await.unwrap();
    assert_eq!(sb.request_count(), before + 1);
}

/// Receipts of SALEs whose line items share a SKU.
fn same_sku_sales(
    sb: &merchant_crm::clickbank::SandboxHandle,
) -> Vec<merchant_crm::clickbank::sandbox::TruthTransaction> {
    sb.transactions()
        .into_iter()
        .filter(|t| t.transaction_type == TransactionType::Sale)
        .filter(|t| t.items.len() == 2 && t.items[0].sku == t.items[1].sku)
        .collect()
}

#[tokio::test]
async fn same_sku_lines_agree_in_the_list_the_order_read_the_ins_and_the_truth() {
    use merchant_crm::clickbank::{Amount, LineItemType};
    let plain = start(300);
    assert!(same_sku_sales(&plain).is_empty(), "only when asked for");
    let ins = receiver(200).await;
    let sb = Sandbox::start(SandboxConfig {
        same_sku_bumps: 20,
        partial_refunds: true,
        notify_url: Some(ins_url(&ins)),
        ..config(300)
    })
    .unwrap();
    let api = client(&sb);
    let sales = same_sku_sales(&sb);
    assert!(sales.len() >= 5, "{} same-SKU sales", sales.len());
    let kinds = |t: &merchant_crm::clickbank::sandbox::TruthTransaction| {
        t.items.iter().map(|i| i.line_type.clone()).collect::<Vec<_>>()
    };
    assert!(sales
        .iter()
        .any(|t| kinds(t) == [LineItemType::Original, LineItemType::Bump]));
    assert!(sales
        .iter()
        .any(|t| kinds(t) == [LineItemType::Cart, LineItemType::Cart]));

    // The orders list, the order read and the INS show both lines, with the truth's money.
    let records = fetch_all_orders(
        &api,
        &OrdersQuery::between(anchor_day() - ChronoDuration::days(121), anchor_day()),
    )
    .await
    .unwrap();
    for t in &sales {
        let receipt = t.receipt.clone().unwrap();
        let cur = t.currency.as_str();
        let r = records
            .iter()
            .find(|r| r.receipt == receipt && r.transaction_type == TransactionType::Sale)
            .unwrap_or_else(|| panic!("{receipt} listed"));
        assert_eq!(r.total_minor().unwrap(), t.total_minor, "{receipt}");
        let listed: Vec<(String, i64, i64)> = r
            .line_items
            .iter()
            .map(|l| {
                (
                    l.item_no.clone(),
                    l.customer_amount.as_ref().unwrap().to_minor(cur).unwrap(),
                    l.account_amount.as_ref().unwrap().to_minor(cur).unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, i64, i64)> = t
            .items
            .iter()
            .map(|i| (i.sku.clone(), i.customer_minor, i.account_minor))
            .collect();
        assert_eq!(listed, want, "{receipt}");
        let n = sb
            .ins_for(&receipt, &TransactionType::Sale)
            .unwrap()
            .notification()
            .unwrap();
        assert_eq!(n.total_order_minor().unwrap(), t.total_minor);
        let notified: Vec<(String, Option<LineItemType>, i64)> = n
            .line_items
            .iter()
            .map(|l| {
                (
                    l.item_no.clone(),
                    l.line_item_type.clone(),
                    l.account_amount.as_ref().unwrap().to_minor(cur).unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, Option<LineItemType>, i64)> = t
            .items
            .iter()
            .map(|i| (i.sku.clone(), Some(i.line_type.clone()), i.account_minor))
            .collect();
        assert_eq!(notified, want, "{receipt}");
        assert_eq!(r.event_keys(), n.event_keys(), "{receipt}");
    }
    let t = &sales[0];
    let receipt = t.receipt.clone().unwrap();
    let sku = t.items[0].sku.clone();
    let read = api.order(&receipt, Some(&sku)).await.unwrap();
    let sale = read
        .iter()
        .find(|r| r.transaction_type == TransactionType::Sale)
        .unwrap();
    assert_eq!(sale.line_items.len(), 2, "both lines of the SKU");
    assert!(
        api.order(&receipt, None).await.is_err(),
        "two items: sku required"
    );

    // One of the two lines is paid back; the other is kept.
    let touched: HashSet<String> = sb
        .transactions()
        .into_iter()
        .filter(|x| x.transaction_type != TransactionType::Sale)
        .filter_map(|x| x.receipt)
        .collect();
    let t = sales
        .iter()
        .filter(|t| anchor() - t.time < ChronoDuration::days(50))
        .find(|t| !touched.contains(t.receipt.as_deref().unwrap()))
        .expect("a recent same-SKU sale without refunds");
    let receipt = t.receipt.clone().unwrap();
    let second = t.items[1].customer_minor;
    let kind = RefundKind::PartialAmount(Amount::from_minor(second, &t.currency));
    let request = TicketRequest {
        sku: Some(t.items[1].sku.clone()),
        ..TicketRequest::refund(kind, "ticket.type.refund.8")
    };
    api.create_ticket(&receipt, &request).await.unwrap();
    let got = wait_for_requests(&ins, 1).await;
    assert_eq!(got.len(), 1, "the RFND is notified");
    let n = InsDecoder::new(sb.secret_key()).decode(&got[0].body).unwrap();
    assert_eq!(n.transaction_type, TransactionType::Rfnd);
    assert_eq!(n.total_order_minor().unwrap(), -second);
    let rfnd = sb
        .transactions()
        .into_iter()
        .find(|x| x.receipt.as_deref() == Some(&receipt) && x.transaction_type == TransactionType::Rfnd)
        .unwrap();
    assert_eq!(rfnd.total_minor, -second);
    assert_eq!(rfnd.items.len(), 1);
    assert_eq!(
        rfnd.items[0].line_type, t.items[1].line_type,
        "the line of that amount"
    );
    // What is left to pay back is the other line.
    let left = api
        .refund_amounts(&receipt, &RefundKind::Full, None)
        .await
        .unwrap();
    assert_eq!(
        left.total_amount.unwrap().to_minor(&t.currency).unwrap(),
        t.total_minor - second
    );
}

#[tokio::test]
async fn an_ins_outage_drops_deliveries_but_the_events_are_listed() {
    let ins = receiver(200).await;
    let sb = Sandbox::start(SandboxConfig {
        notify_url: Some(ins_url(&ins)),
        ..config(50)
    })
    .unwrap();
    let api = client(&sb);
    let before = sb.emit(&TransactionType::Sale);
    assert_eq!(wait_for_requests(&ins, 1).await.len(), 1);

    sb.set_ins_outage(true);
    assert!(sb.ins_down());
    let missed = [
        sb.emit(&TransactionType::Sale),
        sb.emit(&TransactionType::Rfnd),
        sb.emit(&TransactionType::Bill),
    ];
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        ins.received_requests().await.unwrap().len(),
        1,
        "nothing reaches the notify URL while INS is down"
    );
    let ids: Vec<u64> = missed.iter().map(|e| e.id).collect();
    assert_eq!(sb.dropped_notifications(), ids);
    assert!(sb.deliveries().iter().all(|d| !ids.contains(&d.event_id)));
    // The events happened: ClickBank lists them.
    let listed = fetch_all_orders(
        &api,
        &OrdersQuery::between(anchor_day(), anchor_day() + ChronoDuration::days(1)),
    )
    .await
    .unwrap();
    for e in &missed {
        assert!(
            listed.iter().any(|r| Some(&r.receipt) == e.receipt.as_ref()
                && r.transaction_type == e.transaction_type
                && r.transaction_time.timestamp() == e.transaction_time.timestamp()),
            "{:?} {} listed",
            e.receipt,
            e.transaction_type
        );
    }

    // Back up: new events are delivered, the missed ones never are.
    sb.set_ins_outage(false);
    let after = sb.emit(&TransactionType::Sale);
    let got = wait_for_requests(&ins, 2).await;
    assert_eq!(got.len(), 2);
    let decoder = InsDecoder::new(sb.secret_key());
    let receipts: Vec<String> = got
        .iter()
        .map(|r| decoder.decode(&r.body).unwrap().receipt)
        .collect();
    assert_eq!(receipts, [before.receipt.unwrap(), after.receipt.unwrap()]);

    // A window: down for a while, then delivering again by itself.
    sb.ins_outage_for(Duration::from_millis(300));
    let in_window = sb.emit(&TransactionType::Sale);
    while sb.ins_down() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sb.emit(&TransactionType::Sale);
    assert_eq!(wait_for_requests(&ins, 3).await.len(), 3);
    assert_eq!(sb.dropped_notifications().last(), Some(&in_window.id));
}
