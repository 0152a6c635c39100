//! CSV tracking and returns imports: every line checked first, all or nothing; a real-browser
//! upload; a returns file's CANCELLED asks ClickBank to cancel the subscription.

use diesel::prelude::*;
use merchant_crm::db::schema::{fulfillments, orders, purchases};

use crate::support::app::TestApp;
use crate::support::browser::{browser, click, find, text_of};
use crate::support::builders::SaleBuilder;
use crate::support::clickbank::portal_with_orders;
use crate::support::fulfillment::*;

#[actix_web::test]
async fn csv_imports_check_every_line_first_and_apply_all_or_nothing() {
    let fx = fixture().await;
    apply(
        &fx,
        SaleBuilder::new("CSV00001")
            .email("a@example.com")
            .item("MUG")
            .item("TEE")
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("CSV00002")
            .email("b@example.com")
            .address("2 St")
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("CSV00003")
            .email("c@example.com")
            .address("3 St")
            .recurring_item("SUB")
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("CSV00004")
            .email("d@example.com")
            .address("4 St")
            .build(),
    )
    .await;
    let all = items(&fx.app).await;
    let (a1, a2) = (all[0].id, all[1].id);
    let four = by_receipt(&all, "CSV00004").id;
    // Item of CSV00004 is cancelled: tracking is not allowed on it.
    let r = cancel_by_batch(&fx.app, four).await;
    assert_eq!(r.status(), 303);

    // Bad tracking file: unknown order, wrong state, duplicate row, unknown item.
    let bad = format!(
        "orderId,clientFulfillmentId,trackingNumber,carrier,method\n\
         CSV00001,{a1},1Z001,UPS,Ground\n\
         NOPE0001,,1Z002,UPS,Ground\n\
         CSV00004,,1Z003,UPS,Ground\n\
         CSV00001,{a1},1Z004,UPS,Ground\n\
         CSV00002,{a2},1Z005,UPS,Ground\n"
    );
    let r = upload(&fx.app, "bad.csv", bad.as_bytes()).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    for (line, reason) in [
        (3, "unknown order NOPE0001".to_string()),
        (4, "no item of order CSV00004 may become SHIPPED".to_string()),
        (
            5,
            "duplicate row: order CSV00001 is already on line 2".to_string(),
        ),
        (
            6,
            format!("clientFulfillmentId {a2} is not an item of order CSV00002"),
        ),
    ] {
        assert!(
            page.contains(&format!("<td>{line}</td><td>{reason}")),
            "line {line}: {page}"
        );
    }
    assert!(
        items(&fx.app).await.iter().all(|i| i.tracking.is_none()),
        "nothing applied"
    );

    // Bad returns file: bad status, wrong state (RETURNED on an item never shipped).
    let r = upload(
        &fx.app,
        "returns.csv",
        b"orderId,status,rmaNumber\nCSV00001,LOST,\nCSV00002,RETURNED,RMA1\n",
    )
    .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("<td>2</td><td>bad status &#34;LOST&#34;") || page.contains("<td>2</td><td>bad status"),
        "{page}"
    );
    assert!(
        page.contains("<td>3</td><td>no item of order CSV00002 may become RETURNED"),
        "{page}"
    );

    // No header.
    let r = upload(&fx.app, "noheader.csv", b"CSV00001,,1Z,UPS,Ground\n").await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("The first line must be a header"));

    // A good file with a BOM, CRLF, quotes and spaces.
    let good = format!(
        "\u{feff}orderId, clientFulfillmentId ,trackingNumber,carrier,method\r\n\
         \"CSV00001\", {a1} , \"1Z 001\" , UPS ,\"Ground, 2 days\"\r\n\
         CSV00002,,1Z002,USPS,Priority\r\n\
         CSV00003,,1Z003,DHL,\r\n"
    );
    let r = upload(&fx.app, "good.csv", good.as_bytes()).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("3 item(s) updated"), "{page}");
    let all = items(&fx.app).await;
    let first = all.iter().find(|i| i.id == a1).unwrap();
    assert_eq!(
        (first.status.as_str(), first.tracking.as_deref()),
        ("SHIPPED", Some("1Z 001"))
    );
    assert_eq!(by_receipt(&all, "CSV00002").tracking.as_deref(), Some("1Z002"));
    assert_eq!(
        all.iter().find(|i| i.id == a2).unwrap().status,
        "HOLD",
        "the other item of the order"
    );

    // Returns: RETURNED with an RMA, CANCELLED cancels the purchase too.
    let r = upload(
        &fx.app,
        "returns.csv",
        b"orderId,status,rmaNumber\nCSV00002,RETURNED,RMA-7\n",
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(by_receipt(&items(&fx.app).await, "CSV00002").status, "RETURNED");
    apply(
        &fx,
        SaleBuilder::new("CSV00005")
            .email("e@example.com")
            .address("5 St")
            .recurring_item("SUB")
            .build(),
    )
    .await;
    // CANCELLED asks ClickBank to cancel the subscription; this receipt is unknown to the
    // sandbox, so ClickBank refuses, the page says so, and the purchase stays as it was.
    let r = upload(&fx.app, "cancel.csv", b"orderId,status\r\nCSV00005,CANCELLED\r\n").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("1 item(s) updated"), "{page}");
    assert!(
        page.contains("<td>CSV00005</td>") && page.contains("ClickBank refused"),
        "{page}"
    );
    assert_eq!(by_receipt(&items(&fx.app).await, "CSV00005").status, "CANCELLED");
    let purchase: String = fx
        .app
        .db
        .run(|c| {
            let order: i64 = orders::table
                .filter(orders::receipt.eq("CSV00005"))
                .select(orders::id)
                .first(c)?;
            Ok(purchases::table
                .filter(purchases::order_id.eq(order))
                .select(purchases::status)
                .first(c)?)
        })
        .await
        .unwrap();
    assert_eq!(purchase, "ACTIVE", "only ClickBank's CANCEL-REBILL cancels it");

    // Export the filtered list, fill in tracking, upload it back.
    let csv = fx.app.get_text("/fulfillment/export.csv?status=HOLD").await;
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("orderId,clientFulfillmentId,trackingNumber,carrier,method,status"));
    let filled: Vec<String> = std::iter::once(header.to_string())
        .chain(lines.map(|l| {
            let mut cols: Vec<&str> = l.splitn(3, ',').collect();
            let rest = cols.pop().unwrap().to_string();
            format!(
                "{},{},TRK-{}{}",
                cols[0],
                cols[1],
                cols[1],
                &rest[rest.find(',').unwrap()..]
            )
        }))
        .collect();
    let holds = filled.len() - 1;
    assert!(holds >= 1);
    let r = upload(&fx.app, "roundtrip.csv", filled.join("\n").as_bytes()).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let a2_now = items(&fx.app).await.into_iter().find(|i| i.id == a2).unwrap();
    assert_eq!(a2_now.tracking, Some(format!("TRK-{a2}")));
    assert_eq!(a2_now.status, "SHIPPED");

    // A row without clientFulfillmentId leaves items already SHIPPED (and their tracking) alone.
    apply(
        &fx,
        SaleBuilder::new("CSV00006")
            .email("f@example.com")
            .address("6 St")
            .item("MUG")
            .item("TEE")
            .build(),
    )
    .await;
    let six: Vec<i64> = items(&fx.app)
        .await
        .into_iter()
        .filter(|i| i.receipt == "CSV00006")
        .map(|i| i.id)
        .collect();
    let named = format!(
        "orderId,clientFulfillmentId,trackingNumber,carrier,method\nCSV00006,{},1ZFIRST,UPS,Ground\n",
        six[0]
    );
    assert_eq!(upload(&fx.app, "one.csv", named.as_bytes()).await.status(), 303);
    let r = upload(
        &fx.app,
        "rest.csv",
        b"orderId,clientFulfillmentId,trackingNumber,carrier,method\nCSV00006,,1ZREST,UPS,Ground\n",
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let now: Vec<(i64, String, Option<String>)> = items(&fx.app)
        .await
        .into_iter()
        .filter(|i| i.receipt == "CSV00006")
        .map(|i| (i.id, i.status, i.tracking))
        .collect();
    assert_eq!(
        now,
        vec![
            (six[0], "SHIPPED".to_string(), Some("1ZFIRST".to_string())),
            (six[1], "SHIPPED".to_string(), Some("1ZREST".to_string())),
        ]
    );
    // Everything shipped: an unnamed row changes nothing and says why.
    let r = upload(
        &fx.app,
        "again.csv",
        b"orderId,clientFulfillmentId,trackingNumber,carrier,method\nCSV00006,,1ZOVER,UPS,Ground\n",
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("no item of order CSV00006 may become SHIPPED"));
    assert_eq!(
        by_receipt(&items(&fx.app).await, "CSV00006").tracking.as_deref(),
        Some("1ZFIRST")
    );

    // Over 20 MB: refused with a clear message.
    let big = vec![b'x'; 20 * 1024 * 1024 + 10];
    let r = upload(&fx.app, "big.csv", &big).await;
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("larger than 20 MB"));
}

#[actix_web::test]
async fn a_csv_upload_in_a_real_browser_applies_a_good_file_and_lists_a_bad_one() {
    let fx = fixture().await;
    apply(&fx, SaleBuilder::new("UPL00001").email("a@example.com").build()).await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "orderId,clientFulfillmentId,trackingNumber,carrier,method\nNOPE0001,,1Z,UPS,Ground\n",
    )
    .unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "orderId,clientFulfillmentId,trackingNumber,carrier,method\r\nUPL00001,,1ZBROWSER,UPS,Ground\r\n",
    )
    .unwrap();
    let b = browser().await;
    let c = &b.client;
    browser_login(c, &fx.app).await;
    click(c, "a[href='/fulfillment']").await;
    find(c, "#csv-file")
        .await
        .send_keys(bad.to_str().unwrap())
        .await
        .unwrap();
    click(c, "#csv-upload").await;
    assert!(text_of(c, "#import-error").await.contains("Nothing was applied"));
    assert!(text_of(c, "#import-errors")
        .await
        .contains("unknown order NOPE0001"));
    assert!(by_receipt(&items(&fx.app).await, "UPL00001").tracking.is_none());
    c.goto(&fx.app.url("/fulfillment")).await.unwrap();
    find(c, "#csv-file")
        .await
        .send_keys(good.to_str().unwrap())
        .await
        .unwrap();
    click(c, "#csv-upload").await;
    assert!(text_of(c, ".flash-ok").await.contains("1 item(s) updated"));
    let it = by_receipt(&items(&fx.app).await, "UPL00001").clone();
    assert_eq!(
        (it.status.as_str(), it.tracking.as_deref()),
        ("SHIPPED", Some("1ZBROWSER"))
    );
    b.client.clone().close().await.unwrap();
}

#[actix_web::test]
async fn a_returns_file_cancel_asks_clickbank_to_cancel_the_subscription() {
    use merchant_crm::clickbank::{LineItemStatus, Sandbox, SandboxConfig};
    use merchant_crm::db::schema::fulfillment_houses;
    let sb = Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        orders: 240,
        days: 30,
        ..Default::default()
    })
    .unwrap();
    let app = portal_with_orders(&sb).await;
    let active: std::collections::HashSet<String> = sb
        .subscription_receipts(LineItemStatus::Active)
        .into_iter()
        .collect();
    let rows: Vec<(i64, i64, i64, String)> = app
        .db
        .read(|c| {
            Ok(purchases::table
                .inner_join(orders::table.on(orders::id.eq(purchases::order_id)))
                .filter(purchases::status.eq("ACTIVE"))
                .select((
                    purchases::id,
                    purchases::order_id,
                    purchases::order_item_id,
                    orders::receipt,
                ))
                .load(c)?)
        })
        .await
        .unwrap();
    // Two receipts with one active subscription each: one ClickBank cancels on request, the
    // other it had cancelled already (it refuses, and the page says so in its words).
    let mut picked = rows
        .into_iter()
        .filter(|(_, _, _, r)| active.contains(r) && sb.subscriptions(r).len() == 1);
    let first = picked.next().expect("an active subscription");
    let second = picked
        .find(|(_, _, _, r)| *r != first.3)
        .expect("another active subscription");
    for (_, order, order_item, _) in [first.clone(), second.clone()] {
        app.db
            .run(move |c| {
                let house: i64 = fulfillment_houses::table
                    .filter(fulfillment_houses::kind.eq("clickbank"))
                    .select(fulfillment_houses::id)
                    .first(c)?;
                let now = merchant_crm::domain::now();
                diesel::delete(fulfillments::table.filter(fulfillments::order_id.eq(order))).execute(c)?;
                diesel::insert_into(fulfillments::table)
                    .values((
                        fulfillments::order_id.eq(order),
                        fulfillments::order_item_id.eq(order_item),
                        fulfillments::cycle.eq(1),
                        fulfillments::house_id.eq(house),
                        fulfillments::status.eq("HOLD"),
                        fulfillments::created_at.eq(now),
                        fulfillments::updated_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(())
            })
            .await
            .unwrap();
    }
    sb.set_notify_url(None);
    {
        use merchant_crm::clickbank::{ClickBankApi, TicketRequest};
        let api = merchant_crm::clickbank::ClickBankClient::new(sb.client_config()).unwrap();
        api.create_ticket(&second.3, &TicketRequest::cancel("ticket.type.cancel.1"))
            .await
            .unwrap();
        sb.process_tickets_now();
    }
    sb.set_notify_url(Some(crate::support::clickbank::ins_url(&app)));
    let before = sb.tickets().len();
    let file = format!("orderId,status\n{},CANCELLED\n{},CANCELLED\n", first.3, second.3);
    let r = upload(&app, "returns.csv", file.as_bytes()).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("2 item(s) updated"), "{page}");
    let tickets: Vec<_> = sb
        .tickets()
        .into_iter()
        .skip(before)
        .filter(|t| t.receipt.as_deref() == Some(first.3.as_str()))
        .collect();
    assert_eq!(tickets.len(), 1, "one cancel ticket for the running subscription");
    let row = |receipt: &str| {
        page.split("<tr")
            .find(|r| r.contains(&format!("<td>{receipt}</td>")))
            .unwrap_or_else(|| panic!("no row for {receipt}: {page}"))
            .to_string()
    };
    assert!(row(&first.3).contains("(ticket "), "{}", row(&first.3));
    assert!(row(&second.3).contains("ClickBank refused"), "{}", row(&second.3));
    // Not cancelled in the CRM until ClickBank says so; the profile shows the request.
    let (pid, customer): (i64, i64) = app
        .db
        .read(move |c| {
            Ok(purchases::table
                .find(first.0)
                .select((purchases::id, purchases::customer_id))
                .first(c)?)
        })
        .await
        .unwrap();
    let status = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            db.read(move |c| {
                Ok(purchases::table
                    .find(pid)
                    .select(purchases::status)
                    .first::<String>(c)?)
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(status(&app).await, "ACTIVE");
    let profile = app.get_text(&format!("/customers/{customer}")).await;
    assert!(profile.contains("Cancellation requested"), "{profile}");
    sb.process_tickets_now();
    for _ in 0..100 {
        if status(&app).await == "CANCELLED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        status(&app).await,
        "CANCELLED",
        "ClickBank's CANCEL-REBILL cancels it"
    );
}

/// A file of many bad lines lists the first 200 on the page, says how many more, and offers
/// every one of them as a CSV download (only to signed-in users; an unknown token is a 404).
#[actix_web::test]
async fn a_file_of_many_bad_lines_lists_200_and_offers_the_rest_as_csv() {
    use crate::support::html::{has_data, has_id};
    let fx = fixture().await;
    let mut file = String::from("orderId,clientFulfillmentId,trackingNumber,carrier,method\n");
    for n in 0..250 {
        file.push_str(&format!("NOPE{n:04},,1Z{n:04},UPS,Ground\n"));
    }
    let r = upload(&fx.app, "many.csv", file.as_bytes()).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        page.matches("<tr><td>").count(),
        200,
        "the page lists 200 bad lines"
    );
    assert!(has_data(&page, "more", "50"), "and says 50 more");
    assert!(page.contains("250 lines are wrong"));
    let at = page
        .find("/fulfillment/import/rejected/")
        .expect("a download link");
    let link = &page[at..at + "/fulfillment/import/rejected/".len() + 32];
    assert!(has_id(&page, "download-errors"));
    let csv = fx.app.get_text(link).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 251, "header and every bad line");
    assert_eq!(lines[0], "line,problem");
    assert!(
        lines[1].starts_with("2,") && lines[250].starts_with("251,"),
        "in line order"
    );
    let anonymous = fx.app.other_client();
    assert_eq!(anonymous.get(link).await.status(), 303, "signed-in users only");
    let unknown = "/fulfillment/import/rejected/0123456789abcdef0123456789abcdef";
    assert_eq!(fx.app.get(unknown).await.status(), 404);
}
