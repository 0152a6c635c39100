//! Fulfillment fixtures: a portal with the sandbox as ClickBank and an active plugin (`Fx`),
//! products on a house, HTTP and CSV drop houses, the items as the tests read them, one export
//! run, CSV uploads and a browser sign-in.

use diesel::prelude::*;
use merchant_crm::clickbank::SandboxHandle;
use merchant_crm::db::models::Plugin;
use merchant_crm::db::schema::{fulfillments, orders, products};
use merchant_crm::domain::context::JobContext;
use merchant_crm::domain::fulfillment::export::{self, ExportContext};
use merchant_crm::domain::orders::{self as events, OrderEvent};
use merchant_crm::secrets::SecretBox;

use super::app::TestApp;
use super::browser::{click, fill, find};
use super::builders::{item, SaleBuilder};
use super::clickbank::{activate, admin_with_ins_user, sandbox};

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
    admin_with_ins_user(&app).await;
    assert_eq!(
        activate(&app, "ClickBank", &sb, sb.secret_key(), false)
            .await
            .status(),
        303
    );
    // The test orders are hours old, older than the plugin's activation, which is its SHIPPED
    // cut-off until an initial import sets one: these tests ship everything they make, as
    // after an initial import whose cut-off lies before all of them.
    let plugin = app
        .db
        .run(|c| {
            use merchant_crm::db::schema::plugins;
            let p = merchant_crm::domain::plugins::list(c)?.remove(0);
            diesel::update(plugins::table.find(p.id))
                .set(plugins::ship_cutoff_at.eq(None::<chrono::NaiveDateTime>))
                .execute(c)?;
            merchant_crm::domain::plugins::find(c, p.id)
        })
        .await
        .unwrap();
    Fx { sb, app, plugin }
}

pub async fn apply(fx: &Fx, ev: OrderEvent) {
    let plugin = fx.plugin.clone();
    fx.app
        .db
        .run(move |c| events::apply(c, &plugin, &ev, "ins"))
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
            let id = merchant_crm::domain::orders::product_for(c, &plugin, &it, "USD")?.id;
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

/// One fulfillment item as the tests look at it (joined with its order's receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentItem {
    pub id: i64,
    pub receipt: String,
    pub status: String,
    pub house: i64,
    pub shipment: Option<String>,
    pub tracking: Option<String>,
    pub attempts: i32,
}

/// Every item, oldest first.
pub async fn items(app: &TestApp) -> Vec<FulfillmentItem> {
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
                .map(
                    |(id, receipt, status, house, shipment, tracking, attempts)| FulfillmentItem {
                        id,
                        receipt,
                        status,
                        house,
                        shipment,
                        tracking,
                        attempts,
                    },
                )
                .collect())
        })
        .await
        .unwrap()
}

pub fn by_receipt<'a>(all: &'a [FulfillmentItem], receipt: &str) -> &'a FulfillmentItem {
    all.iter()
        .find(|i| i.receipt == receipt)
        .unwrap_or_else(|| panic!("no item of {receipt}: {all:?}"))
}

pub fn export_ctx(app: &TestApp) -> ExportContext {
    let job = JobContext::new(
        app.db.clone(),
        SecretBox::new(&app.config.master_key).unwrap(),
        app.config.clickbank_api_base.clone(),
    );
    ExportContext::new(job, 60)
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
pub async fn one_mug_exported(fx: &Fx, receipt: &str, email: &str) -> (tempfile::TempDir, i64) {
    let (drop, house) = drop_house(&fx.app).await;
    product_on(fx, "MUG", house, 0).await;
    apply(fx, SaleBuilder::new(receipt).email(email).build()).await;
    assert_eq!(run_export(&fx.app, house).await.shipments, 1);
    (drop, house)
}

pub async fn run_export(app: &TestApp, house: i64) -> export::RunSummary {
    export::run_house(&export_ctx(app), house, "test-runner")
        .await
        .expect("export runs")
        .expect("the lease is free")
}

/// A multipart upload of `data` as `name`, the CSRF token in the query string as the page does.
pub async fn upload(app: &TestApp, name: &str, data: &[u8]) -> reqwest::Response {
    let token = app.csrf("/fulfillment").await;
    upload_to(app, "/fulfillment/import", Some(&token), name, data).await
}

/// A multipart upload of `data` as `name` to `path`, with `token` (if any) as `csrf_token`
/// in the query string.
pub async fn upload_to(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    name: &str,
    data: &[u8],
) -> reqwest::Response {
    let boundary = "XfulfillmentBOUNDARY42";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let url = match token {
        Some(t) => app.url(&format!("{path}?csrf_token={t}")),
        None => app.url(path),
    };
    app.client
        .post(url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Signs the default admin in through the login page.
pub async fn browser_login(c: &fantoccini::Client, app: &TestApp) {
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "input[name=email]", super::app::ADMIN_EMAIL).await;
    fill(c, "input[name=password]", super::app::ADMIN_PASSWORD).await;
    click(c, "#login-submit").await;
    find(c, "#whoami").await;
}

/// A confirmed batch update cancelling the one selected item `id` (the page's form, as sent).
pub async fn cancel_by_batch(app: &TestApp, id: i64) -> reqwest::Response {
    app.post_form(
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
    .await
}

/// (status, street) of the receipt's item.
pub async fn item_of(fx: &Fx, receipt: &str) -> (String, String) {
    let receipt = receipt.to_string();
    let (status, to): (String, Option<String>) = fx
        .app
        .db
        .read(move |c| {
            Ok(fulfillments::table
                .inner_join(orders::table)
                .filter(orders::receipt.eq(receipt))
                .select((fulfillments::status, fulfillments::ship_to))
                .first(c)?)
        })
        .await
        .unwrap();
    let street = to
        .as_deref()
        .and_then(merchant_crm::domain::fulfillment::ShipTo::from_json)
        .map(|s| s.address1)
        .unwrap_or_default();
    (status, street)
}
