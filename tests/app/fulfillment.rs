//! Fulfillment end to end: houses, the export job (HTTP house on wiremock, CSV drop folder),
//! delays, bundling, retries, reships, refunds before export, batch updates, CSV imports and
//! exports, the house update API and ship notices. Orders come in through the one domain
//! function (`orders::apply`), as INS and imports bring them.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use merchant_crm::clickbank::SandboxHandle;
use merchant_crm::db::models::Plugin;
use merchant_crm::db::schema::{audit_log, fulfillments, orders, products, purchases};
use merchant_crm::domain::fulfillment::export::{self, ExportContext};
use merchant_crm::domain::fulfillment::sign;
use merchant_crm::domain::orders::event::{EventAddress, EventCustomer, EventItem, OrderEvent};
use merchant_crm::secrets::SecretBox;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::TestApp;
use crate::ins::{activate, sandbox, INS_LOGIN, INS_PASSWORD};

pub struct Fx {
    pub sb: SandboxHandle,
    pub app: TestApp,
    pub plugin: Plugin,
}

/// A portal (no scheduler: the tests run the export themselves) with the sandbox as
/// ClickBank, an admin signed in, an INS API user and an active plugin.
pub async fn fixture() -> Fx {
    let sb = sandbox().await;
    let app = TestApp::builder()
        .env("CLICKBANK_API_BASE", &sb.base_url())
        .env("MERCHANT_CRM_NO_JOBS", "1")
        .build()
        .await;
    app.setup_admin().await;
    let r = app
        .post_form(
            "/admin/api-users",
            "/admin/api-users",
            &[
                ("login_id", INS_LOGIN),
                ("password", INS_PASSWORD),
                ("allow_ips", "127.0.0.1"),
                ("permission", "import_order"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        activate(&app, "ClickBank", &sb, sb.secret_key(), false)
            .await
            .status(),
        303
    );
    let plugin = app
        .db
        .run(|c| Ok(merchant_crm::domain::plugins::list(c)?.remove(0)))
        .await
        .unwrap();
    Fx { sb, app, plugin }
}

pub fn address(line1: &str) -> EventAddress {
    EventAddress {
        address1: line1.into(),
        address2: String::new(),
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
        country: "US".into(),
    }
}

pub fn item(sku: &str, recurring: bool) -> EventItem {
    EventItem {
        item_no: sku.into(),
        title: format!("Product {sku}"),
        line_item_type: "ORIGINAL".into(),
        quantity: 1,
        amount_minor: 1999,
        shippable: true,
        recurring,
        rebill_amount_minor: recurring.then_some(1999),
        next_payment: None,
        frequency: recurring.then(|| "MONTHLY".to_string()),
        payments_processed: Some(1),
    }
}

/// A SALE of `items` to `email` at `addr`, `hours_ago` hours ago.
pub fn sale_event(
    receipt: &str,
    email: &str,
    addr: &str,
    hours_ago: i64,
    items: Vec<EventItem>,
) -> OrderEvent {
    let total = items.iter().map(|i| i.amount_minor).sum();
    OrderEvent {
        kind: "SALE".into(),
        time: Utc::now() - Duration::hours(hours_ago),
        receipt: receipt.into(),
        parent_receipt: None,
        vendor: Some("vendor".into()),
        affiliate: None,
        payment_method: Some("VISA".into()),
        currency: "USD".into(),
        total_minor: total,
        tax_minor: 0,
        shipping_minor: 0,
        customer: EventCustomer {
            email: email.into(),
            first_name: "Pat".into(),
            last_name: "Buyer".into(),
            phone: "555-0100".into(),
            billing: address(addr),
            shipping: address(addr),
            ship_first_name: String::new(),
            ship_last_name: String::new(),
        },
        items,
    }
}

pub async fn apply(fx: &Fx, ev: OrderEvent) {
    let plugin = fx.plugin.clone();
    fx.app
        .db
        .run(move |c| merchant_crm::domain::orders::apply(c, &plugin, &ev, "ins"))
        .await
        .unwrap();
}

/// Makes sure product `sku` exists and ships from `house` after `delay` hours.
pub async fn product_on(fx: &Fx, sku: &str, house: i64, delay: i32) {
    let plugin = fx.plugin.clone();
    let it = item(sku, false);
    fx.app
        .db
        .run(move |c| {
            let (id, _) = merchant_crm::domain::orders::product_for(c, &plugin, &it, "USD")?;
            diesel::update(products::table.find(id))
                .set((
                    products::fulfillment_house_id.eq(house),
                    products::delay_hours.eq(delay),
                    products::shippable.eq(true),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// Adds a house through the form; returns its id.
pub async fn add_house(app: &TestApp, fields: &[(&str, &str)]) -> i64 {
    let mut all = fields.to_vec();
    all.push(("active", "on"));
    let r = app
        .post_form("/crm/fulfillment-houses", "/crm/fulfillment-houses", &all)
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    loc.rsplit('/').next().unwrap().parse().unwrap()
}

pub async fn http_house(app: &TestApp, endpoint: &str) -> i64 {
    add_house(
        app,
        &[
            ("name", "Acme Fulfillment"),
            ("kind", "http"),
            ("endpoint", endpoint),
            ("api_key", "house-api-key-1"),
            ("signing_secret", "house-signing-secret"),
        ],
    )
    .await
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct It {
    pub id: i64,
    pub receipt: String,
    pub status: String,
    pub house: i64,
    pub shipment: Option<String>,
    pub tracking: Option<String>,
    pub attempts: i32,
}

/// Every item, oldest first.
pub async fn items(app: &TestApp) -> Vec<It> {
    app.db
        .run(|c| {
            type Row = (i64, String, String, i64, Option<String>, Option<String>, i32);
            let rows: Vec<Row> = fulfillments::table
                .inner_join(orders::table)
                .select((
                    fulfillments::id,
                    orders::receipt,
                    fulfillments::status,
                    fulfillments::house_id,
                    fulfillments::shipment_id,
                    fulfillments::tracking_number,
                    fulfillments::attempts,
                ))
                .order(fulfillments::id.asc())
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(|(id, receipt, status, house, shipment, tracking, attempts)| It {
                    id,
                    receipt,
                    status,
                    house,
                    shipment,
                    tracking,
                    attempts,
                })
                .collect())
        })
        .await
        .unwrap()
}

pub fn by_receipt<'a>(all: &'a [It], receipt: &str) -> &'a It {
    all.iter()
        .find(|i| i.receipt == receipt)
        .unwrap_or_else(|| panic!("no item of {receipt}: {all:?}"))
}

pub fn export_ctx(app: &TestApp) -> ExportContext {
    ExportContext::new(
        app.db.clone(),
        SecretBox::new(&app.config.master_key).unwrap(),
        60,
    )
    .unwrap()
    .with_export_root(app.config.export_root.clone())
}

/// A fresh CSV drop folder under the portal's export root.
pub fn drop_dir(app: &TestApp) -> tempfile::TempDir {
    std::fs::create_dir_all(&app.config.export_root).unwrap();
    tempfile::tempdir_in(&app.config.export_root).unwrap()
}

/// A CSV drop house named "Drop" writing into a fresh folder under the export root.
pub async fn drop_house(app: &TestApp) -> (tempfile::TempDir, i64) {
    let dir = drop_dir(app);
    let house = add_house(
        app,
        &[
            ("name", "Drop"),
            ("kind", "csv"),
            ("csv_folder", dir.path().to_str().unwrap()),
        ],
    )
    .await;
    (dir, house)
}

/// A drop house selling MUG, one sale of it, and one export run that sent it.
async fn one_mug_exported(fx: &Fx, receipt: &str, email: &str) -> (tempfile::TempDir, i64) {
    let (drop, house) = drop_house(&fx.app).await;
    product_on(fx, "MUG", house, 0).await;
    apply(
        fx,
        sale_event(receipt, email, "1 St", 2, vec![item("MUG", false)]),
    )
    .await;
    assert_eq!(run_export(&fx.app, house).await.shipments, 1);
    (drop, house)
}

pub async fn run_export(app: &TestApp, house: i64) -> export::RunSummary {
    export::run_house(&export_ctx(app), house, "test-runner")
        .await
        .expect("export runs")
        .expect("the lease is free")
}

#[actix_web::test]
async fn http_house_gets_signed_bundles_and_a_failure_is_retried_once() {
    let fx = fixture().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"shipments": []})))
        .mount(&server)
        .await;
    let house = http_house(&fx.app, &format!("{}/orders", server.uri())).await;
    // The form never shows the secrets again.
    let page = fx.app.get_text(&format!("/crm/fulfillment-houses/{house}")).await;
    assert!(!page.contains("house-api-key-1") && !page.contains("house-signing-secret"));
    product_on(&fx, "BOOK", house, 0).await;
    // Pat: two orders 2 hours apart at the same address (spelt differently): one shipment.
    apply(
        &fx,
        sale_event(
            "PAT00001",
            "pat@example.com",
            "12 Main Street",
            5,
            vec![item("BOOK", false)],
        ),
    )
    .await;
    apply(
        &fx,
        sale_event(
            "PAT00002",
            "pat@example.com",
            "12 main st.",
            3,
            vec![item("BOOK", false)],
        ),
    )
    .await;
    // Sam: one order.
    apply(
        &fx,
        sale_event(
            "SAM00001",
            "sam@example.com",
            "1 Elm Road",
            4,
            vec![item("BOOK", false)],
        ),
    )
    .await;

    let s = run_export(&fx.app, house).await;
    assert_eq!((s.items, s.shipments, s.failures), (3, 2, 0), "{s:?}");
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1, "one POST per batch");
    let req = &reqs[0];
    assert_eq!(req.headers["x-api-key"].to_str().unwrap(), "house-api-key-1");
    assert_eq!(
        req.headers["x-signature"].to_str().unwrap(),
        sign("house-signing-secret", &req.body),
        "HMAC-SHA256 of the exact body"
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["house"], "Acme Fulfillment");
    let shipments = body["shipments"].as_array().unwrap();
    assert_eq!(shipments.len(), 2);
    let pat = shipments
        .iter()
        .find(|s| s["customer"]["email"] == "pat@example.com")
        .unwrap();
    assert_eq!(pat["items"].as_array().unwrap().len(), 2);
    assert_eq!(pat["items"][0]["orderId"], "PAT00001");
    assert!(pat["items"][0]["clientFulfillmentId"].is_i64());
    assert_eq!(pat["shipTo"]["address1"], "12 Main Street");
    let all = items(&fx.app).await;
    assert!(all.iter().all(|i| i.status == "PENDING"), "{all:?}");
    assert_eq!(
        by_receipt(&all, "PAT00001").shipment,
        by_receipt(&all, "PAT00002").shipment
    );
    assert_ne!(
        by_receipt(&all, "PAT00001").shipment,
        by_receipt(&all, "SAM00001").shipment
    );

    // Nothing new: a run sends nothing, and never the same items twice.
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 0);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // The house fails: FAILED with its reason, one automatic retry (RECYCLED), then FAILED.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("warehouse closed"))
        .mount(&server)
        .await;
    apply(
        &fx,
        sale_event(
            "LEE00001",
            "lee@example.com",
            "9 Oak Lane",
            2,
            vec![item("BOOK", false)],
        ),
    )
    .await;
    let s = run_export(&fx.app, house).await;
    assert_eq!((s.shipments, s.failures), (1, 1));
    let lee = by_receipt(&items(&fx.app).await, "LEE00001").clone();
    assert_eq!((lee.status.as_str(), lee.attempts), ("FAILED", 1));
    let reason: Option<String> = {
        let id = lee.id;
        fx.app
            .db
            .run(move |c| {
                Ok(fulfillments::table
                    .find(id)
                    .select(fulfillments::last_error)
                    .first(c)?)
            })
            .await
            .unwrap()
    };
    assert!(reason.unwrap().contains("warehouse closed"));
    let runs_page = fx.app.get_text("/fulfillment/runs").await;
    assert!(
        runs_page.contains("warehouse closed"),
        "the runs page shows the failure"
    );

    // The retry: while the (slow) house is being asked again, the item is RECYCLED.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string("warehouse closed")
                .set_delay(std::time::Duration::from_millis(400)),
        )
        .mount(&server)
        .await;
    let ctx = export_ctx(&fx.app);
    let running = actix_web::rt::spawn(async move { export::run_house(&ctx, house, "test-runner").await });
    let mut seen = Vec::new();
    for _ in 0..200 {
        let st = by_receipt(&items(&fx.app).await, "LEE00001").status.clone();
        if seen.last() != Some(&st) {
            seen.push(st.clone());
        }
        if seen.len() >= 2 && st == "FAILED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let s = running.await.unwrap().unwrap().unwrap();
    assert!(seen.contains(&"RECYCLED".to_string()), "{seen:?}");
    assert_eq!((s.shipments, s.failures), (1, 1), "the retry");
    let reqs = server.received_requests().await.unwrap();
    let retry: serde_json::Value = serde_json::from_slice(&reqs.last().unwrap().body).unwrap();
    assert_eq!(retry["shipments"][0]["retry"], true);
    assert_eq!(
        retry["shipments"][0]["shipmentId"].as_str(),
        lee.shipment.as_deref(),
        "same id"
    );
    let lee2 = by_receipt(&items(&fx.app).await, "LEE00001").clone();
    assert_eq!((lee2.status.as_str(), lee2.attempts), ("FAILED", 2));

    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 0, "no third automatic attempt: a human decides");
    assert_eq!(server.received_requests().await.unwrap().len(), reqs.len());
    let run_page = fx
        .app
        .get_text(&format!("/fulfillment/runs/{}", s.run_id - 1))
        .await;
    assert!(run_page.contains(lee.shipment.as_deref().unwrap()));
}

#[actix_web::test]
async fn csv_drop_export_follows_delays_windows_addresses_houses_and_reships() {
    let fx = fixture().await;
    let drop = drop_dir(&fx.app);
    let folder = drop.path().to_str().unwrap().to_string();
    let house = add_house(
        &fx.app,
        &[("name", "Drop House"), ("kind", "csv"), ("csv_folder", &folder)],
    )
    .await;
    let other = add_house(
        &fx.app,
        &[("name", "Other House"), ("kind", "csv"), ("csv_folder", &folder)],
    )
    .await;
    product_on(&fx, "MUG", house, 0).await;
    product_on(&fx, "SLOW", house, 48).await;
    product_on(&fx, "ELSE", other, 0).await;
    // Delay: SLOW ordered 72 h ago is due; SLOW ordered 1 h ago waits.
    apply(
        &fx,
        sale_event(
            "OLD00001",
            "old@example.com",
            "1 First St",
            72,
            vec![item("SLOW", false)],
        ),
    )
    .await;
    apply(
        &fx,
        sale_event(
            "NEW00001",
            "new@example.com",
            "2 Second St",
            1,
            vec![item("SLOW", false)],
        ),
    )
    .await;
    // Same customer, different address: two shipments.
    apply(
        &fx,
        sale_event(
            "ADR00001",
            "ann@example.com",
            "3 Third St",
            10,
            vec![item("MUG", false)],
        ),
    )
    .await;
    apply(
        &fx,
        sale_event(
            "ADR00002",
            "ann@example.com",
            "99 Far Away Ave",
            9,
            vec![item("MUG", false)],
        ),
    )
    .await;
    // Same customer and address, 30 h apart (window 24 h): two shipments.
    apply(
        &fx,
        sale_event(
            "WIN00001",
            "bob@example.com",
            "4 Fourth St",
            40,
            vec![item("MUG", false)],
        ),
    )
    .await;
    apply(
        &fx,
        sale_event(
            "WIN00002",
            "bob@example.com",
            "4 Fourth St",
            10,
            vec![item("MUG", false)],
        ),
    )
    .await;
    // Same customer and address, another house: not in this house's export.
    apply(
        &fx,
        sale_event(
            "HSE00001",
            "bob@example.com",
            "4 Fourth St",
            10,
            vec![item("ELSE", false)],
        ),
    )
    .await;
    // An item still on the ClickBank house is never exported.
    apply(
        &fx,
        sale_event(
            "CBK00001",
            "bob@example.com",
            "4 Fourth St",
            10,
            vec![item("DIGI", false)],
        ),
    )
    .await;

    let s = run_export(&fx.app, house).await;
    assert_eq!((s.items, s.shipments, s.failures), (5, 5, 0), "{s:?}");
    let all = items(&fx.app).await;
    assert_eq!(by_receipt(&all, "OLD00001").status, "PENDING");
    assert_eq!(
        by_receipt(&all, "NEW00001").status,
        "HOLD",
        "its delay has not passed"
    );
    assert_ne!(
        by_receipt(&all, "ADR00001").shipment,
        by_receipt(&all, "ADR00002").shipment
    );
    assert_ne!(
        by_receipt(&all, "WIN00001").shipment,
        by_receipt(&all, "WIN00002").shipment
    );
    assert_eq!(by_receipt(&all, "HSE00001").status, "HOLD");
    assert_eq!(by_receipt(&all, "CBK00001").status, "HOLD");

    let file = drop
        .path()
        .join(format!("merchant-crm-house{house}-run{}.csv", s.run_id));
    let text = std::fs::read_to_string(&file).expect("one file per run");
    assert!(text.starts_with("shipmentId,clientFulfillmentId,orderId,sku,title,quantity,name,address1"));
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(text.contains("99 Far Away Ave"));

    // A wider window (set on the campaign page, at most 96 hours) bundles what 24 hours split.
    let campaign: i64 = fx
        .app
        .db
        .run(|c| {
            use merchant_crm::db::schema::campaigns;
            Ok(campaigns::table.select(campaigns::id).first(c)?)
        })
        .await
        .unwrap();
    let page = format!("/crm/campaigns/{campaign}");
    let action = format!("/crm/campaigns/{campaign}/bundle-window");
    assert_eq!(
        fx.app
            .post_form(&page, &action, &[("hours", "500")])
            .await
            .status(),
        303
    );
    assert!(fx.app.get_text(&page).await.contains("from 0 to 96"));
    assert_eq!(
        fx.app
            .post_form(&page, &action, &[("hours", "96")])
            .await
            .status(),
        303
    );
    assert!(fx
        .app
        .get_text(&page)
        .await
        .contains("Bundle window set to 96 hours."));
    apply(
        &fx,
        sale_event(
            "BIG00001",
            "cy@example.com",
            "5 Fifth St",
            120,
            vec![item("MUG", false)],
        ),
    )
    .await;
    apply(
        &fx,
        sale_event(
            "BIG00002",
            "cy@example.com",
            "5 Fifth St",
            60,
            vec![item("MUG", false)],
        ),
    )
    .await;
    apply(
        &fx,
        sale_event(
            "BIG00003",
            "cy@example.com",
            "5 Fifth St",
            1,
            vec![item("MUG", false)],
        ),
    )
    .await;
    let s = run_export(&fx.app, house).await;
    assert_eq!(
        (s.items, s.shipments),
        (3, 2),
        "60 h apart bundle, 119 h apart do not: {s:?}"
    );

    // A deliberate reship: back to HOLD, exported again under a suffixed shipment id.
    let ann = by_receipt(&all, "ADR00001").clone();
    let r = fx
        .app
        .post_form(
            "/fulfillment",
            "/fulfillment/batch",
            &[
                ("scope", "selected"),
                ("id", &ann.id.to_string()),
                ("action", "status"),
                ("status", "HOLD"),
                ("confirm", "yes"),
                ("count", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 1);
    let again = by_receipt(&items(&fx.app).await, "ADR00001").clone();
    assert_eq!(again.status, "PENDING");
    assert_eq!(again.shipment, Some(format!("{}-R1", ann.shipment.unwrap())));

    // A folder that is gone: the run fails with the reason, items FAILED.
    drop.close().unwrap();
    apply(
        &fx,
        sale_event(
            "GONE0001",
            "dee@example.com",
            "6 Sixth St",
            2,
            vec![item("MUG", false)],
        ),
    )
    .await;
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.failures, 1);
    let gone = by_receipt(&items(&fx.app).await, "GONE0001").clone();
    assert_eq!(gone.status, "FAILED");
}

#[actix_web::test]
async fn a_full_refund_before_export_cancels_the_items_and_nothing_ships() {
    let fx = fixture().await;
    let (_drop, house) = drop_house(&fx.app).await;
    product_on(&fx, "MUG", house, 24).await;
    apply(
        &fx,
        sale_event(
            "RFD00001",
            "r@example.com",
            "1 First St",
            2,
            vec![item("MUG", false)],
        ),
    )
    .await;
    let mut refund = sale_event(
        "RFD00001",
        "r@example.com",
        "1 First St",
        1,
        vec![item("MUG", false)],
    );
    refund.kind = "RFND".into();
    apply(&fx, refund).await;
    assert_eq!(by_receipt(&items(&fx.app).await, "RFD00001").status, "CANCELLED");
    // A chargeback does the same.
    apply(
        &fx,
        sale_event(
            "CGB00001",
            "c@example.com",
            "2 First St",
            30,
            vec![item("MUG", false)],
        ),
    )
    .await;
    let mut cb = sale_event(
        "CGB00001",
        "c@example.com",
        "2 First St",
        1,
        vec![item("MUG", false)],
    );
    cb.kind = "CGBK".into();
    apply(&fx, cb).await;
    assert_eq!(by_receipt(&items(&fx.app).await, "CGB00001").status, "CANCELLED");
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 0);
}

#[actix_web::test]
async fn batch_updates_by_filter_show_the_count_apply_all_or_nothing_and_are_audited() {
    let fx = fixture().await;
    let (_drop, house) = drop_house(&fx.app).await;
    for n in 1..=3 {
        apply(
            &fx,
            sale_event(
                &format!("BAT0000{n}"),
                &format!("b{n}@example.com"),
                "1 St",
                2,
                vec![item("TEE", false)],
            ),
        )
        .await;
    }
    let cb_house = items(&fx.app).await[0].house;
    assert_ne!(cb_house, house);
    let filter = format!("/fulfillment?status=HOLD&house={cb_house}");
    let page = fx.app.get_text(&filter).await;
    assert!(page.contains("3 items match"), "{page}");
    assert!(page.contains("BAT00001"));
    let house_s = house.to_string();
    let cb_s = cb_house.to_string();
    let fields = [
        ("scope", "filter"),
        ("f_status", "HOLD"),
        ("f_house", cb_s.as_str()),
        ("action", "house"),
        ("house_id", house_s.as_str()),
    ];
    // First the count and a confirmation.
    let r = fx.app.post_form(&filter, "/fulfillment/batch", &fields).await;
    assert_eq!(r.status(), 200);
    let confirm = r.text().await.unwrap();
    assert!(confirm.contains("id=\"confirm-count\">3<"), "{confirm}");
    assert!(
        items(&fx.app).await.iter().all(|i| i.house == cb_house),
        "nothing before confirming"
    );
    // A confirmation for another count is refused (the list changed).
    let mut stale = fields.to_vec();
    stale.extend([("confirm", "yes"), ("count", "2")]);
    assert_eq!(
        fx.app
            .post_form(&filter, "/fulfillment/batch", &stale)
            .await
            .status(),
        303
    );
    assert!(items(&fx.app).await.iter().all(|i| i.house == cb_house));
    let mut ok = fields.to_vec();
    ok.extend([("confirm", "yes"), ("count", "3")]);
    assert_eq!(
        fx.app
            .post_form(&filter, "/fulfillment/batch", &ok)
            .await
            .status(),
        303
    );
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("Updated 3 item(s)."), "{page}");
    assert!(items(&fx.app)
        .await
        .iter()
        .all(|i| i.house == house && i.status == "HOLD"));
    // Moved from the dummy house to a real one: in the next export.
    assert_eq!(run_export(&fx.app, house).await.items, 3);

    // RETURNED is not allowed from PENDING: nothing changes, the reason is given.
    let one = items(&fx.app).await[0].id.to_string();
    apply(
        &fx,
        sale_event("BAT00009", "b9@example.com", "1 St", 2, vec![item("TEE", false)]),
    )
    .await;
    let nine = by_receipt(&items(&fx.app).await, "BAT00009").id.to_string();
    let r = fx
        .app
        .post_form(
            "/fulfillment",
            "/fulfillment/batch",
            &[
                ("scope", "selected"),
                ("id", &one),
                ("id", &nine),
                ("action", "status"),
                ("status", "DELIVERED"),
            ],
        )
        .await;
    let text = r.text().await.unwrap();
    assert!(
        text.contains("1 of the 2 items cannot set the status to DELIVERED (1 HOLD)"),
        "{text}"
    );
    let mut direct = vec![
        ("scope", "selected"),
        ("id", one.as_str()),
        ("id", nine.as_str()),
        ("action", "status"),
        ("status", "RETURNED"),
        ("confirm", "yes"),
        ("count", "2"),
    ];
    let r = fx
        .app
        .post_form("/fulfillment", "/fulfillment/batch", &direct)
        .await;
    assert_eq!(r.status(), 303);
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("Nothing was changed"), "{page}");
    assert_eq!(by_receipt(&items(&fx.app).await, "BAT00009").status, "HOLD");
    direct[4] = ("status", "SHIPPED");
    assert_eq!(
        fx.app
            .post_form("/fulfillment", "/fulfillment/batch", &direct)
            .await
            .status(),
        303
    );
    assert!(items(&fx.app)
        .await
        .iter()
        .filter(|i| [one.as_str(), nine.as_str()].contains(&i.id.to_string().as_str()))
        .all(|i| i.status == "SHIPPED"));

    let audits: i64 = fx
        .app
        .db
        .run(|c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq("fulfillment.batch"))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(audits, 2);
}

/// A multipart upload of `data` as `name`, the CSRF token in the query string as the page does.
pub async fn upload(app: &TestApp, name: &str, data: &[u8]) -> reqwest::Response {
    let token = app.csrf("/fulfillment").await;
    let boundary = "XfulfillmentBOUNDARY42";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.client
        .post(app.url(&format!("/fulfillment/import?csrf_token={token}")))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn csv_imports_check_every_line_first_and_apply_all_or_nothing() {
    let fx = fixture().await;
    apply(
        &fx,
        sale_event(
            "CSV00001",
            "a@example.com",
            "1 St",
            2,
            vec![item("MUG", false), item("TEE", false)],
        ),
    )
    .await;
    apply(
        &fx,
        sale_event("CSV00002", "b@example.com", "2 St", 2, vec![item("MUG", false)]),
    )
    .await;
    apply(
        &fx,
        sale_event("CSV00003", "c@example.com", "3 St", 2, vec![item("SUB", true)]),
    )
    .await;
    apply(
        &fx,
        sale_event("CSV00004", "d@example.com", "4 St", 2, vec![item("MUG", false)]),
    )
    .await;
    let all = items(&fx.app).await;
    let (a1, a2) = (all[0].id, all[1].id);
    let four = by_receipt(&all, "CSV00004").id;
    // Item of CSV00004 is cancelled: tracking is not allowed on it.
    let r = fx
        .app
        .post_form(
            "/fulfillment",
            "/fulfillment/batch",
            &[
                ("scope", "selected"),
                ("id", &four.to_string()),
                ("action", "status"),
                ("status", "CANCELLED"),
                ("confirm", "yes"),
                ("count", "1"),
            ],
        )
        .await;
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
        sale_event("CSV00005", "e@example.com", "5 St", 2, vec![item("SUB", true)]),
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
        sale_event(
            "CSV00006",
            "f@example.com",
            "6 St",
            2,
            vec![item("MUG", false), item("TEE", false)],
        ),
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
async fn houses_post_updates_with_the_update_fulfillment_permission_only() {
    let fx = fixture().await;
    // A receipt the sandbox knows, so ClickBank accepts the ship notice.
    let known = fx
        .sb
        .create_event(&merchant_crm::clickbank::TransactionType::Sale)
        .receipt
        .unwrap();
    apply(
        &fx,
        sale_event(&known, "a@example.com", "1 St", 2, vec![item("MUG", false)]),
    )
    .await;
    let id = items(&fx.app).await[0].id;
    let url = fx.app.url("/api/fulfillment/update");
    let body = serde_json::json!({"updates": [{"clientFulfillmentId": id, "status": "SHIPPED",
        "trackingNumber": "1ZAPI", "carrier": "UPS", "method": "Ground", "shipDate": "2026-11-20"}]});
    // The INS user has import_order only.
    let r = fx
        .app
        .client
        .post(&url)
        .basic_auth(INS_LOGIN, Some(INS_PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("update_fulfillment"));
    let r = fx.app.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = fx
        .app
        .post_form(
            "/admin/api-users",
            "/admin/api-users",
            &[
                ("login_id", "acme-house"),
                ("password", "house password 123456"),
                ("allow_ips", "127.0.0.1"),
                ("permission", "update_fulfillment"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let house_client = crate::helpers::client();
    // A bad update among good ones: nothing applied, every error listed.
    let mixed = serde_json::json!({"updates": [
        {"clientFulfillmentId": id, "status": "SHIPPED", "trackingNumber": "1ZAPI"},
        {"clientFulfillmentId": 999999, "status": "SHIPPED"},
        {"shipmentId": "nope", "status": "DELIVERED"}]});
    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .json(&mixed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["applied"], 0);
    assert_eq!(v["errors"].as_array().unwrap().len(), 2);
    assert_eq!(items(&fx.app).await[0].status, "HOLD");

    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["applied"], 1);
    let it = items(&fx.app).await[0].clone();
    assert_eq!(
        (it.status.as_str(), it.tracking.as_deref()),
        ("SHIPPED", Some("1ZAPI"))
    );
    // An RMA later; a move the table forbids is refused.
    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .json(&serde_json::json!({"clientFulfillmentId": id, "status": "RMA_PENDING", "rmaNumber": "RMA-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .json(&serde_json::json!({"clientFulfillmentId": id, "status": "PENDING"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(items(&fx.app).await[0].status, "RMA_PENDING");
    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<serde_json::Value>().await.unwrap()["errors"][0]["error"]
        .as_str()
        .unwrap()
        .contains("must be JSON"));

    // The tracking goes to ClickBank as a ship notice (the sandbox records it).
    let r = fx
        .app
        .post_form("/fulfillment", &format!("/fulfillment/{id}/ship-notice"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let page = fx.app.get_text("/fulfillment").await;
    assert!(
        page.contains(&format!("Ship notice for order {known} sent to ClickBank.")),
        "{page}"
    );
    let notices = fx.sb.ship_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        (
            notices[0].receipt.as_str(),
            notices[0].tracking.as_str(),
            notices[0].carrier.as_str()
        ),
        (known.as_str(), "1ZAPI", "UPS")
    );
    assert_eq!(notices[0].date, "2026-11-20");
    // A double click (two requests at once) and a later click send nothing more.
    let url = format!("/fulfillment/{id}/ship-notice");
    let (a, b) = tokio::join!(
        fx.app.post_form("/fulfillment", &url, &[]),
        fx.app.post_form("/fulfillment", &url, &[])
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("sent already"), "{page}");
    assert_eq!(fx.sb.ship_notices().len(), 1, "still one ship notice");
}

#[actix_web::test]
async fn the_list_escapes_clickbank_data_and_pages_by_key() {
    let fx = fixture().await;
    let mut ev = sale_event(
        "XSS00001",
        "x@example.com",
        "<script>alert(1)</script>",
        2,
        vec![item("MUG", false)],
    );
    ev.customer.first_name = "<b>Bold</b>".into();
    apply(&fx, ev).await;
    for n in 0..55 {
        apply(
            &fx,
            sale_event(
                &format!("PAGE{n:04}"),
                "p@example.com",
                "1 St",
                2,
                vec![item("MUG", false)],
            ),
        )
        .await;
    }
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("56 items match"));
    let title = page
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .expect("a title");
    assert!(title.starts_with("Fulfillment"), "title: {title}");
    assert!(
        !title.contains('<') && !title.contains("csrf"),
        "no markup or csrf token in the title: {title}"
    );
    assert_eq!(page.matches("Tracking and returns files").count(), 1);
    assert!(!page.contains("<b>Bold</b>") && !page.contains("<script>alert"));
    let next = page.split("id=\"next-page\"").next().unwrap();
    let href = next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = fx.app.get_text(&href).await;
    assert!(
        second.contains("XSS00001"),
        "the oldest item is on page 2: {second}"
    );
    assert!(
        !second.contains("<b>Bold</b>") && !second.contains("<script>alert"),
        "escaped: {second}"
    );
    assert!(!second.contains("id=\"next-page\""));
}

async fn browser_login(c: &fantoccini::Client, app: &TestApp) {
    use crate::browser::{click, fill};
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "input[name=email]", crate::helpers::ADMIN_EMAIL).await;
    fill(c, "input[name=password]", crate::helpers::ADMIN_PASSWORD).await;
    click(c, "#login-submit").await;
    crate::browser::find(c, "#whoami").await;
}

#[actix_web::test]
async fn a_batch_update_in_a_real_browser_shows_the_count_and_applies_on_confirm() {
    use crate::browser::{browser, click, find, text_of};
    let fx = fixture().await;
    apply(
        &fx,
        sale_event("BRW00001", "a@example.com", "1 St", 2, vec![item("MUG", false)]),
    )
    .await;
    apply(
        &fx,
        sale_event("BRW00002", "b@example.com", "2 St", 2, vec![item("MUG", false)]),
    )
    .await;
    let target = by_receipt(&items(&fx.app).await, "BRW00002").id;
    let b = browser().await;
    let c = &b.client;
    browser_login(c, &fx.app).await;
    click(c, "a[href='/fulfillment']").await;
    click(c, &format!("#item-{target} input[type=checkbox]")).await;
    find(c, "#batch-status")
        .await
        .select_by_value("SHIPPED")
        .await
        .unwrap();
    click(c, "#batch-submit").await;
    assert_eq!(text_of(c, "#confirm-count").await, "1");
    assert_eq!(by_receipt(&items(&fx.app).await, "BRW00002").status, "HOLD");
    click(c, "#confirm-submit").await;
    assert!(text_of(c, ".flash-ok").await.contains("Updated 1 item(s)."));
    let all = items(&fx.app).await;
    assert_eq!(by_receipt(&all, "BRW00002").status, "SHIPPED");
    assert_eq!(by_receipt(&all, "BRW00001").status, "HOLD");
    b.client.clone().close().await.unwrap();
}

#[actix_web::test]
async fn a_csv_upload_in_a_real_browser_applies_a_good_file_and_lists_a_bad_one() {
    use crate::browser::{browser, click, find, text_of};
    let fx = fixture().await;
    apply(
        &fx,
        sale_event("UPL00001", "a@example.com", "1 St", 2, vec![item("MUG", false)]),
    )
    .await;
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
async fn a_rebilled_physical_subscription_ships_again_once_per_cycle() {
    let fx = fixture().await;
    let (_drop, house) = drop_house(&fx.app).await;
    product_on(&fx, "SUB", house, 0).await;
    apply(
        &fx,
        sale_event(
            "SUB00001",
            "s@example.com",
            "1 First St",
            24 * 30,
            vec![item("SUB", true)],
        ),
    )
    .await;
    assert_eq!(run_export(&fx.app, house).await.items, 1);
    let mut bill = sale_event(
        "SUB00001",
        "s@example.com",
        "1 First St",
        1,
        vec![item("SUB", true)],
    );
    bill.kind = "BILL".into();
    apply(&fx, bill.clone()).await;
    apply(&fx, bill).await;
    let all = items(&fx.app).await;
    assert_eq!(all.len(), 2, "one new item for the new cycle, once: {all:?}");
    assert_eq!(
        (all[0].status.as_str(), all[1].status.as_str()),
        ("PENDING", "HOLD")
    );
    // The new cycle's item dates from the rebill (an hour ago), not from when it was applied.
    let second = all[1].id;
    let created: chrono::NaiveDateTime = fx
        .app
        .db
        .run(move |c| {
            Ok(fulfillments::table
                .find(second)
                .select(fulfillments::created_at)
                .first(c)?)
        })
        .await
        .unwrap();
    let ago = merchant_crm::domain::now() - created;
    assert!(
        ago > Duration::minutes(55) && ago < Duration::minutes(65),
        "created {ago} ago"
    );
    let s = run_export(&fx.app, house).await;
    assert_eq!((s.items, s.shipments), (1, 1));
    let all = items(&fx.app).await;
    assert_ne!(all[0].shipment, all[1].shipment, "a new parcel, not a reship");
}

#[actix_web::test]
async fn an_export_interrupted_after_sending_is_left_to_a_human_not_sent_again() {
    use merchant_crm::db::schema::shipments;
    let fx = fixture().await;
    let (_drop, house) = one_mug_exported(&fx, "CRS00001", "c@example.com").await;
    // As if the process died after sending, before recording.
    fx.app
        .db
        .run(|c| {
            diesel::update(fulfillments::table)
                .set(fulfillments::status.eq("HOLD"))
                .execute(c)?;
            diesel::update(shipments::table)
                .set(shipments::status.eq("sending"))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 0, "not sent again");
    let it = by_receipt(&items(&fx.app).await, "CRS00001").clone();
    assert_eq!((it.status.as_str(), it.attempts), ("FAILED", 2));
    assert_eq!(
        run_export(&fx.app, house).await.shipments,
        0,
        "no automatic retry either"
    );
}

/// Runs an export of `house` in the background (the house answers after `delay`), waits until
/// its items are claimed, applies `during`, and returns the run's summary.
async fn export_with_event_midway(
    fx: &Fx,
    house: i64,
    receipt: &str,
    during: OrderEvent,
) -> export::RunSummary {
    let ctx = export_ctx(&fx.app);
    let run = tokio::spawn(async move { export::run_house(&ctx, house, "test-runner").await });
    let mut claimed = false;
    for _ in 0..100 {
        if by_receipt(&items(&fx.app).await, receipt).status == export::IN_FLIGHT {
            claimed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(claimed, "the export claims the item first");
    apply(fx, during).await;
    // Refunded while being sent: still in flight, not cancelled under the export's feet.
    assert_eq!(
        by_receipt(&items(&fx.app).await, receipt).status,
        export::IN_FLIGHT
    );
    run.await.unwrap().unwrap().unwrap()
}

#[actix_web::test]
async fn a_refund_while_an_item_is_being_sent_never_leaves_it_shipped_but_cancelled() {
    let fx = fixture().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ok"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(std::time::Duration::from_millis(1500))
                .set_body_json(serde_json::json!({"shipments": []})),
        )
        .mount(&server)
        .await;
    let house = http_house(&fx.app, &format!("{}/ok", server.uri())).await;
    product_on(&fx, "MUG", house, 0).await;
    apply(
        &fx,
        sale_event("MID00001", "m@example.com", "1 St", 2, vec![item("MUG", false)]),
    )
    .await;
    let mut refund = sale_event("MID00001", "m@example.com", "1 St", 0, vec![item("MUG", false)]);
    refund.kind = "RFND".into();
    let s = export_with_event_midway(&fx, house, "MID00001", refund).await;
    // The house took it: PENDING (at the house), flagged for a human on the item and the run.
    let it = by_receipt(&items(&fx.app).await, "MID00001").clone();
    assert_eq!(it.status, "PENDING");
    assert_eq!(s.outcome, "needs attention");
    let page = fx.app.get_text(&format!("/fulfillment/runs/{}", s.run_id)).await;
    assert!(page.contains("refunded while"), "{page}");
    let err: Option<String> = fx
        .app
        .db
        .run(move |c| {
            Ok(fulfillments::table
                .find(it.id)
                .select(fulfillments::last_error)
                .first(c)?)
        })
        .await
        .unwrap();
    assert_eq!(err.as_deref(), Some(export::REFUNDED_IN_FLIGHT));

    // A house that refuses: nothing shipped, so the refunded item ends CANCELLED.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/no"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_delay(std::time::Duration::from_millis(1500))
                .set_body_string("down"),
        )
        .mount(&refusing)
        .await;
    let house2 = add_house(
        &fx.app,
        &[
            ("name", "Refuser"),
            ("kind", "http"),
            ("endpoint", &format!("{}/no", refusing.uri())),
            ("api_key", "house-api-key-2"),
            ("signing_secret", "house-signing-secret-2"),
        ],
    )
    .await;
    product_on(&fx, "CUP", house2, 0).await;
    apply(
        &fx,
        sale_event("MID00002", "n@example.com", "2 St", 2, vec![item("CUP", false)]),
    )
    .await;
    let mut refund = sale_event("MID00002", "n@example.com", "2 St", 0, vec![item("CUP", false)]);
    refund.kind = "RFND".into();
    let s = export_with_event_midway(&fx, house2, "MID00002", refund).await;
    assert_eq!(s.failures, 1);
    assert_eq!(by_receipt(&items(&fx.app).await, "MID00002").status, "CANCELLED");
}

#[actix_web::test]
async fn the_export_lease_is_renewed_only_while_it_is_ours() {
    use merchant_crm::db::schema::fulfillment_houses;
    let fx = fixture().await;
    let house = http_house(&fx.app, "http://127.0.0.1:9/orders").await;
    let r = fx
        .app
        .db
        .run(move |c| {
            assert!(export::claim(c, house, "runner-a")?);
            // Most of the lease used up by a long send.
            diesel::update(fulfillment_houses::table.find(house))
                .set(
                    fulfillment_houses::locked_until
                        .eq(Some(merchant_crm::domain::now() + chrono::Duration::seconds(5))),
                )
                .execute(c)?;
            export::renew(c, house, "runner-a")
        })
        .await
        .unwrap();
    assert!(r, "our own live lease is renewed");
    let renewed = fx
        .app
        .db
        .run(move |c| {
            Ok(fulfillment_houses::table
                .find(house)
                .select(fulfillment_houses::locked_until)
                .first::<Option<chrono::NaiveDateTime>>(c)?)
        })
        .await
        .unwrap()
        .unwrap();
    assert!(renewed > merchant_crm::domain::now() + chrono::Duration::seconds(export::LEASE_SECONDS - 60));
    // The lease expires and another process takes the house: the first runner cannot renew.
    let r = fx
        .app
        .db
        .run(move |c| {
            diesel::update(fulfillment_houses::table.find(house))
                .set(
                    fulfillment_houses::locked_until
                        .eq(Some(merchant_crm::domain::now() - chrono::Duration::seconds(1))),
                )
                .execute(c)?;
            assert!(!export::renew(c, house, "runner-a")?, "an expired lease is lost");
            assert!(export::claim(c, house, "runner-b")?);
            export::renew(c, house, "runner-a")
        })
        .await
        .unwrap();
    assert!(!r, "a lease taken over is not ours any more");
}

#[actix_web::test]
async fn only_account_executives_configure_houses_and_drop_folders_stay_under_the_export_root() {
    let fx = fixture().await;
    let server = MockServer::start().await;
    let house = http_house(&fx.app, &format!("{}/orders", server.uri())).await;
    let drop = drop_dir(&fx.app);
    let csv = add_house(
        &fx.app,
        &[
            ("name", "Drop"),
            ("kind", "csv"),
            ("csv_folder", drop.path().to_str().unwrap()),
        ],
    )
    .await;
    // Folders outside the root, the root itself, or climbing out with .. are refused.
    let outside = tempfile::tempdir().unwrap();
    let root = fx.app.config.export_root.to_str().unwrap().to_string();
    let sneaky = format!("{}/../../etc", drop.path().to_str().unwrap());
    for folder in [
        outside.path().to_str().unwrap(),
        "relative/dir",
        root.as_str(),
        sneaky.as_str(),
    ] {
        let r = fx
            .app
            .post_form(
                "/crm/fulfillment-houses",
                "/crm/fulfillment-houses",
                &[
                    ("name", "Elsewhere"),
                    ("kind", "csv"),
                    ("csv_folder", folder),
                    ("active", "on"),
                ],
            )
            .await;
        assert_eq!(r.status(), 400, "{folder}");
        let page = r.text().await.unwrap();
        assert!(page.contains("MERCHANT_CRM_EXPORT_ROOT"), "{folder}: {page}");
        let r = fx
            .app
            .post_form(
                &format!("/crm/fulfillment-houses/{csv}"),
                &format!("/crm/fulfillment-houses/{csv}"),
                &[("name", "Drop"), ("csv_folder", folder), ("active", "on")],
            )
            .await;
        assert_eq!(r.status(), 400, "{folder}");
    }
    // A folder stored before the rule (outside the root) is never written by the export.
    let outside_path = outside.path().to_str().unwrap().to_string();
    fx.app
        .db
        .run(move |c| {
            use merchant_crm::db::schema::fulfillment_houses;
            diesel::update(fulfillment_houses::table.find(csv))
                .set(fulfillment_houses::csv_folder.eq(outside_path))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    product_on(&fx, "MUG", csv, 0).await;
    apply(
        &fx,
        sale_event("OUT00001", "o@example.com", "1 St", 2, vec![item("MUG", false)]),
    )
    .await;
    let s = run_export(&fx.app, csv).await;
    assert_eq!(s.failures, 1);
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);

    // A new endpoint needs the key and the secret typed again.
    let edit = format!("/crm/fulfillment-houses/{house}");
    let r = fx
        .app
        .post_form(
            &edit,
            &edit,
            &[
                ("name", "Acme Fulfillment"),
                ("endpoint", "https://evil.example.com/x"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("entered again"));
    let r = fx
        .app
        .post_form(
            &edit,
            &edit,
            &[
                ("name", "Acme Fulfillment"),
                ("endpoint", "https://new.example.com/x"),
                ("api_key", "k2"),
                ("signing_secret", "s2"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);

    // Merchant staff see houses but cannot add, edit or assign them.
    fx.app
        .create_user("staff@example.com", "merchant", "staff password 123")
        .await;
    let staff = fx.app.other_client();
    assert_eq!(
        staff
            .login("staff@example.com", "staff password 123")
            .await
            .status(),
        303
    );
    assert_eq!(staff.get("/crm/fulfillment-houses").await.status(), 200);
    let page = staff.get_text(&edit).await;
    assert!(!page.contains("id=\"assign-all\"") && page.contains("id=\"admin-only\""));
    assert_eq!(staff.get("/fulfillment").await.status(), 200);
    let r = staff
        .post_form(
            &edit,
            &edit,
            &[
                ("name", "Acme Fulfillment"),
                ("endpoint", "https://evil.example.com/x"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = staff
        .post_form(
            "/crm/fulfillment-houses",
            "/crm/fulfillment-houses",
            &[
                ("name", "Mine"),
                ("kind", "http"),
                ("endpoint", "https://evil.example.com/x"),
                ("api_key", "a"),
                ("signing_secret", "b"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = staff.post_form(&edit, &format!("{edit}/assign-all"), &[]).await;
    assert_eq!(r.status(), 403);
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
    let app = crate::customer_service::portal_with_orders(&sb).await;
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
    sb.set_notify_url(Some(crate::ins::ins_url(&app)));
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

#[actix_web::test]
async fn items_being_sent_are_left_alone_by_batches_and_csv_imports() {
    use merchant_crm::db::schema::shipments;
    let fx = fixture().await;
    let (_drop, _house) = one_mug_exported(&fx, "FLY00001", "f@example.com").await;
    // As if a run were sending it now.
    fx.app
        .db
        .run(|c| {
            diesel::update(fulfillments::table)
                .set(fulfillments::status.eq(export::IN_FLIGHT))
                .execute(c)?;
            diesel::update(shipments::table)
                .set(shipments::status.eq("sending"))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let id = items(&fx.app).await[0].id;
    let r = upload(&fx.app, "cancel.csv", b"orderId,status\nFLY00001,CANCELLED\n").await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("being sent to their house"));
    let r = fx
        .app
        .post_form(
            "/fulfillment",
            "/fulfillment/batch",
            &[
                ("scope", "selected"),
                ("id", &id.to_string()),
                ("action", "status"),
                ("status", "CANCELLED"),
                ("confirm", "yes"),
                ("count", "1"),
            ],
        )
        .await;
    assert!(r.status() == 303 || r.status() == 400, "{}", r.status());
    assert_eq!(
        items(&fx.app).await[0].status,
        export::IN_FLIGHT,
        "not cancelled mid-send"
    );
}

#[actix_web::test]
async fn a_house_api_user_updates_only_its_own_houses_items() {
    let fx = fixture().await;
    let (_drop, house) = drop_house(&fx.app).await;
    apply(
        &fx,
        sale_event("OWN00001", "o@example.com", "1 St", 2, vec![item("MUG", false)]),
    )
    .await;
    let id = items(&fx.app).await[0].id;
    let r = fx
        .app
        .post_form(
            "/admin/api-users",
            "/admin/api-users",
            &[
                ("login_id", "drop-house"),
                ("password", "house password 123456"),
                ("allow_ips", "127.0.0.1"),
                ("permission", "update_fulfillment"),
                ("house_id", &house.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = fx.app.get_text("/admin/api-users").await;
    assert!(
        page.contains(&format!("<option value=\"{house}\" selected>Drop</option>")),
        "{page}"
    );
    let url = fx.app.url("/api/fulfillment/update");
    let body = serde_json::json!({"clientFulfillmentId": id, "status": "SHIPPED", "trackingNumber": "1ZOWN"});
    let post = || {
        crate::helpers::client()
            .post(&url)
            .basic_auth("drop-house", Some("house password 123456"))
            .json(&body)
            .send()
    };
    // The item is still on the ClickBank house: not this house's to update.
    let r = post().await.unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not at your fulfillment house"),
        "{v}"
    );
    assert_eq!(items(&fx.app).await[0].status, "HOLD");
    // Once it is at this house, the house may update it.
    fx.app
        .db
        .run(move |c| {
            diesel::update(fulfillments::table.find(id))
                .set(fulfillments::house_id.eq(house))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let r = post().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(items(&fx.app).await[0].status, "SHIPPED");
}
