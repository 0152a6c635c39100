//! CRM → Products and Campaigns, and the product import from the ClickBank sandbox.

use std::net::SocketAddr;

use diesel::prelude::*;
use merchant_crm::clickbank::{
    fetch_all_orders, ClickBankClient, OrdersQuery, Sandbox, SandboxConfig, SandboxHandle,
};
use merchant_crm::db::models::{Campaign, CampaignProduct, Plugin, Product};
use merchant_crm::db::schema::{
    audit_log, campaign_products, campaigns, fulfillment_houses, order_items, orders, product_categories,
    products,
};
use merchant_crm::domain::orders::OrderEvent;
use merchant_crm::domain::{campaigns::LOCKED_REASON, plugins};

use crate::helpers::TestApp;
use crate::support::clickbank::{activate, portal_for};
use crate::support::html;

const MERCHANT_EMAIL: &str = "staff@example.com";
const MERCHANT_PASSWORD: &str = "merchant staff password";

/// A sandbox whose products list spans several pages.
async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        orders: 120,
        days: 30,
        products_page_size: 4,
        ..Default::default()
    })
    .expect("sandbox starts")
}

async fn plugin_named(app: &TestApp, name: &str) -> Plugin {
    let name = name.to_string();
    app.db
        .run(move |c| Ok(plugins::list(c)?.into_iter().find(|p| p.name == name)))
        .await
        .unwrap()
        .expect("plugin exists")
}

/// Presses "Import products" on the plugin page, waits for the background task and returns
/// its page.
async fn import(app: &TestApp, plugin_id: i64) -> String {
    let page = format!("/admin/plugins/{plugin_id}");
    let r = app
        .post_form(&page, &format!("{page}/import-products"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let task = r.headers()["location"].to_str().unwrap().to_string();
    assert!(task.starts_with("/admin/import-tasks/"), "{task}");
    for _ in 0..300 {
        let p: serde_json::Value = app
            .get(&format!("{task}/progress.json"))
            .await
            .json()
            .await
            .unwrap();
        if p["state"] == "done" || p["state"] == "failed" {
            // The run's outcome is recorded just after the task's state (its own
            // transaction): wait for it rather than read the page in between.
            for _ in 0..100 {
                let page = app.get_text(&task).await;
                if page.contains("products: ") || p["state"] == "failed" {
                    return page;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("product import {task} finished without recording its run's outcome");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("product import {task} did not finish");
}

async fn all_products(app: &TestApp) -> Vec<Product> {
    app.db
        .run(|c| {
            Ok(products::table
                .select(Product::as_select())
                .order(products::id.asc())
                .load(c)?)
        })
        .await
        .unwrap()
}

async fn product_by_sku(app: &TestApp, sku: &str) -> Product {
    all_products(app)
        .await
        .into_iter()
        .find(|p| p.sku == sku)
        .unwrap_or_else(|| panic!("no product {sku}"))
}

async fn category_name(app: &TestApp, id: i64) -> (String, Option<i64>) {
    app.db
        .run(move |c| {
            Ok(product_categories::table
                .find(id)
                .select((product_categories::name, product_categories::plugin_id))
                .first(c)?)
        })
        .await
        .unwrap()
}

async fn house_id(app: &TestApp, name: &str) -> i64 {
    let name = name.to_string();
    app.db
        .run(move |c| {
            Ok(fulfillment_houses::table
                .filter(fulfillment_houses::name.eq(name))
                .select(fulfillment_houses::id)
                .first(c)?)
        })
        .await
        .unwrap()
}

async fn add_house(app: &TestApp, name: &str) -> i64 {
    let n = name.to_string();
    app.db
        .run(move |c| {
            diesel::insert_into(fulfillment_houses::table)
                .values((
                    fulfillment_houses::name.eq(n),
                    fulfillment_houses::kind.eq("csv"),
                    fulfillment_houses::created_at.eq(merchant_crm::domain::now()),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    house_id(app, name).await
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    let action = action.to_string();
    app.db
        .run(move |c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq(action))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap()
}

/// The edit form of a product with every field as stored, then `changes` applied.
fn edit_fields<'a>(p: &Product, changes: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = vec![
        ("msrp".into(), p.msrp_text()),
        ("cost".into(), p.cost_text()),
        ("description".into(), p.description.clone()),
        ("fulfillment_house_id".into(), p.fulfillment_house_id.to_string()),
        ("fulfillment_type".into(), p.fulfillment_type.clone()),
        ("delay_hours".into(), p.delay_hours.to_string()),
    ];
    if p.shippable {
        f.push(("shippable".into(), "on".into()));
    }
    for (k, v) in changes {
        f.retain(|(name, _)| name != k);
        if *v != "<off>" {
            f.push((k.to_string(), v.to_string()));
        }
    }
    f
}

async fn save_product(app: &TestApp, p: &Product, changes: &[(&str, &str)]) -> reqwest::Response {
    let fields = edit_fields(p, changes);
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let page = format!("/crm/products/{}", p.id);
    app.post_form(&page, &page, &f).await
}

#[actix_web::test]
async fn import_brings_every_sandbox_product_then_reimport_changes_nothing() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    assert_eq!(
        activate(&app, "ClickBank", &sb, sb.secret_key(), false)
            .await
            .status(),
        303
    );
    let plugin = plugin_named(&app, "ClickBank").await;
    let truth = sb.products();
    assert!(truth.len() > 8, "the catalog spans several pages of 4");

    let page = import(&app, plugin.id).await;
    let expected = format!("{} created, 0 updated, 0 unchanged", truth.len());
    assert!(page.contains(&expected), "{page}");

    let stored = all_products(&app).await;
    assert_eq!(stored.len(), truth.len());
    let cb_house = house_id(&app, "ClickBank").await;
    for t in &truth {
        let p = stored.iter().find(|p| p.sku == t.sku).expect("imported");
        assert_eq!(p.title, t.title);
        assert_eq!(p.currency.as_deref(), Some(t.currency.as_str()), "SKU {}", t.sku);
        assert_eq!(p.msrp_minor, Some(t.price_minor), "SKU {}: exact price", t.sku);
        assert_eq!(p.shippable, t.physical);
        assert_eq!(p.recurring, t.recurring);
        assert_eq!(p.fulfillment_house_id, cb_house);
        assert_eq!(
            category_name(&app, p.category_id).await,
            ("ClickBank Imports".into(), None)
        );
        assert!(!p.merchant_edited && !p.msrp_by_merchant);
    }

    let page = import(&app, plugin.id).await;
    assert!(
        page.contains(&format!("0 created, 0 updated, {} unchanged", truth.len())),
        "{page}"
    );
    assert_eq!(all_products(&app).await.len(), truth.len());
    assert_eq!(audit_count(&app, "product.import").await, 2);

    // The list shows them all; search by title or SKU, any case; category filter.
    let list = app.get_text("/crm/products").await;
    assert!(list.contains(&format!("{} products", truth.len())), "{list}");
    assert!(list.contains("as it appears on ClickBank"));
    let first = &truth[0];
    let needle = first.title.to_uppercase();
    let found = app
        .get_text(&format!("/crm/products?q={}", urlencode(&needle)))
        .await;
    assert!(found.contains(&first.title), "{found}");
    let none = app.get_text("/crm/products?q=no%20such%20thing").await;
    assert!(none.contains("No product matches"));
    let cat = stored[0].category_id;
    let by_cat = app.get_text(&format!("/crm/products?category={cat}")).await;
    assert!(by_cat.contains(&format!("{} products", truth.len())));
    let other = app
        .get_text(&format!("/crm/products?category={}", cat + 100))
        .await;
    assert!(other.contains("No product matches"));
    let bad_page = app.get_text("/crm/products?page=abc&category=x").await;
    assert!(
        bad_page.contains(&first.title),
        "bad parameters fall back to the defaults"
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[actix_web::test]
async fn reimport_keeps_what_the_merchant_set_and_updates_title_and_price() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let plugin = plugin_named(&app, "ClickBank").await;
    import(&app, plugin.id).await;
    let acme = add_house(&app, "Acme Fulfillment").await;
    let truth = sb.products();
    let t = truth
        .iter()
        .find(|t| t.currency == "USD" && !t.physical)
        .expect("a USD product");
    let p = product_by_sku(&app, &t.sku).await;

    let r = save_product(
        &app,
        &p,
        &[
            ("cost", "4.50"),
            ("description", "Our own words"),
            ("fulfillment_house_id", &acme.to_string()),
            ("fulfillment_type", "each_rebill"),
            ("delay_hours", "48"),
            ("shippable", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let edited = product_by_sku(&app, &t.sku).await;
    assert_eq!(edited.cost_minor, Some(450));
    assert!(
        edited.merchant_edited && !edited.msrp_by_merchant,
        "MSRP untouched stays ClickBank's"
    );

    assert!(sb.set_product_title(&t.sku, "Renamed on ClickBank"));
    assert!(sb.set_product_price(&t.sku, t.price_minor + 500));
    let page = import(&app, plugin.id).await;
    assert!(
        page.contains(&format!("0 created, 1 updated, {} unchanged", truth.len() - 1)),
        "{page}"
    );
    let after = product_by_sku(&app, &t.sku).await;
    assert_eq!(after.title, "Renamed on ClickBank");
    assert_eq!(after.msrp_minor, Some(t.price_minor + 500));
    assert_eq!(after.cost_minor, Some(450));
    assert_eq!(after.description, "Our own words");
    assert_eq!(after.fulfillment_house_id, acme);
    assert_eq!(after.fulfillment_type, "each_rebill");
    assert_eq!(after.delay_hours, 48);
    assert!(
        after.shippable,
        "the merchant's shippable wins over ClickBank's digital flag"
    );

    // Once the merchant changes the MSRP, imports leave it alone...
    let r = save_product(&app, &after, &[("msrp", "39.99")]).await;
    assert_eq!(r.status(), 303);
    assert!(sb.set_product_price(&t.sku, t.price_minor + 900));
    assert!(sb.set_product_title(&t.sku, "Renamed again"));
    import(&app, plugin.id).await;
    let mine = product_by_sku(&app, &t.sku).await;
    assert_eq!((mine.msrp_minor, mine.msrp_by_merchant), (Some(3999), true));
    assert_eq!(mine.title, "Renamed again");
    let form = app.get_text(&format!("/crm/products/{}", mine.id)).await;
    assert!(form.contains("Set by you"), "{form}");

    // ...until they empty the field: ClickBank's price again at the next import.
    let r = save_product(&app, &mine, &[("msrp", "")]).await;
    assert_eq!(r.status(), 303);
    import(&app, plugin.id).await;
    let back = product_by_sku(&app, &t.sku).await;
    assert_eq!(
        (back.msrp_minor, back.msrp_by_merchant),
        (Some(t.price_minor + 900), false)
    );
    assert_eq!(back.cost_minor, Some(450));
}

#[actix_web::test]
async fn unique_products_plugins_import_into_their_own_category() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let r = app
        .post_form(
            "/admin/plugins",
            "/admin/plugins",
            &[
                ("name", "Second"),
                ("site", sb.site()),
                ("api_key", sb.api_key()),
                ("secret_key", sb.secret_key()),
                ("unique_products", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let shared = plugin_named(&app, "ClickBank").await;
    let unique = plugin_named(&app, "Second").await;
    let n = sb.products().len();
    import(&app, shared.id).await;
    let page = import(&app, unique.id).await;
    assert!(
        page.contains(&format!("{n} created")),
        "same SKUs, other category: {page}"
    );
    let stored = all_products(&app).await;
    assert_eq!(stored.len(), 2 * n);
    let mut cats: Vec<(String, Option<i64>)> = Vec::new();
    for p in &stored {
        let c = category_name(&app, p.category_id).await;
        if !cats.contains(&c) {
            cats.push(c);
        }
    }
    cats.sort();
    assert_eq!(
        cats,
        vec![
            ("ClickBank Imports".to_string(), None),
            ("Second Imports".to_string(), Some(unique.id))
        ]
    );
    let list = app.get_text("/crm/products").await;
    assert!(list.contains("Second Imports") && list.contains(&format!("{} products", 2 * n)));
}

#[actix_web::test]
async fn product_edits_are_validated_exactly_and_the_sku_cannot_change() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let plugin = plugin_named(&app, "ClickBank").await;
    import(&app, plugin.id).await;
    let t = sb.products().into_iter().find(|t| t.currency == "USD").unwrap();
    let p = product_by_sku(&app, &t.sku).await;
    let page = format!("/crm/products/{}", p.id);

    let form = app.get_text(&page).await;
    assert!(form.contains("As it appears on ClickBank"));
    assert!(!form.contains("name=\"sku\""), "the SKU is never a form field");

    for (field, value, message) in [
        ("msrp", "12.345", "MSRP"),
        ("msrp", "twelve", "MSRP"),
        ("cost", "-1", "Product cost cannot be negative"),
        ("delay_hours", "721", "0 to 720"),
        ("delay_hours", "1.5", "whole number of hours"),
        ("fulfillment_type", "teleport", "fulfillment type"),
        ("fulfillment_house_id", "999999", "fulfillment house"),
    ] {
        let r = save_product(&app, &p, &[(field, value)]).await;
        assert_eq!(r.status(), 400, "{field}={value}");
        let body = r.text().await.unwrap();
        assert!(body.contains(message), "{field}={value}: {body}");
        assert!(
            body.contains(&format!("value=\"{value}\""))
                || field == "fulfillment_type"
                || field == "fulfillment_house_id",
            "the typed value is kept: {body}"
        );
    }
    // Several problems at once are all named.
    let r = save_product(&app, &p, &[("cost", "x"), ("delay_hours", "-3")]).await;
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Product cost") && body.contains("0 to 720"),
        "{body}"
    );
    let unchanged = product_by_sku(&app, &t.sku).await;
    assert!(!unchanged.merchant_edited && unchanged.cost_minor.is_none());

    // Exact money, and a posted SKU or title changes nothing.
    let r = save_product(
        &app,
        &p,
        &[
            ("cost", "12.34"),
            ("sku", "HACKED"),
            ("title", "HACKED"),
            ("shippable", "<off>"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let saved = product_by_sku(&app, &t.sku).await;
    assert_eq!(saved.cost_minor, Some(1234));
    assert_eq!(saved.title, p.title);
    assert_eq!(saved.id, p.id);
    assert!(!saved.shippable);
    assert!(all_products(&app)
        .await
        .iter()
        .all(|x| x.sku != "HACKED" && x.title != "HACKED"));
    let entry: String = app
        .db
        .run(|c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq("product.update"))
                .select(audit_log::detail)
                .first(c)?)
        })
        .await
        .unwrap();
    assert!(
        entry.contains("\"before\"") && entry.contains("\"after\"") && entry.contains("12.34"),
        "{entry}"
    );

    // ClickBank data is untrusted: a title with markup renders as text.
    assert!(sb.set_product_title(&t.sku, "<script>alert(1)</script>"));
    import(&app, plugin.id).await;
    let list = app.get_text("/crm/products").await;
    assert!(!list.contains("<script>alert(1)"));
    assert!(
        list.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{list}"
    );
}

/// Files the sandbox's orders through the one event function, as the order import does.
async fn load_orders(app: &TestApp, sb: &SandboxHandle, plugin: &Plugin) -> usize {
    let api = ClickBankClient::new(sb.client_config()).unwrap();
    let today = sb.now().date_naive() + chrono::Duration::days(1);
    let q = OrdersQuery::between(today - chrono::Duration::days(60), today);
    let records = fetch_all_orders(&api, &q).await.unwrap();
    let n = records.len();
    let plugin = plugin.clone();
    app.db
        .run(move |c| {
            // Records the event function refuses are the import's business, not this test's.
            for r in &records {
                if let Ok(ev) = OrderEvent::from_record(r) {
                    let _ = merchant_crm::domain::orders::apply(c, &plugin, &ev, "import");
                }
            }
            Ok(())
        })
        .await
        .unwrap();
    n
}

#[actix_web::test]
async fn campaigns_show_orders_and_upsales_and_imported_names_are_locked() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let plugin = plugin_named(&app, "ClickBank").await;
    assert!(load_orders(&app, &sb, &plugin).await > 0);

    let (list, expected): (Vec<Campaign>, Vec<(i64, i64, i64)>) = app
        .db
        .run(|c| {
            let list: Vec<Campaign> = campaigns::table.select(Campaign::as_select()).load(c)?;
            let mut expected = Vec::new();
            for camp in &list {
                let o: i64 = orders::table
                    .filter(orders::campaign_id.eq(camp.id))
                    .count()
                    .get_result(c)?;
                let u: i64 = order_items::table
                    .inner_join(orders::table)
                    .filter(orders::campaign_id.eq(camp.id))
                    .filter(order_items::line_item_type.eq_any(["UPSELL", "BUMP"]))
                    .count()
                    .get_result(c)?;
                expected.push((camp.id, o, u));
            }
            Ok((list, expected))
        })
        .await
        .unwrap();
    assert!(list.len() > 1, "several currencies");
    assert!(
        expected.iter().any(|(_, _, u)| *u > 0),
        "the sandbox sells upsells and bumps"
    );
    let page = app.get_text("/crm/campaigns").await;
    for (id, o, u) in &expected {
        let row = format!("<tr data-campaign=\"{id}\">");
        let at = page
            .find(&row)
            .unwrap_or_else(|| panic!("campaign {id} listed: {page}"));
        let rest = &page[at..];
        let rest = &rest[..rest.find("</tr>").unwrap()];
        assert!(rest.contains(&format!("<td class=\"orders\">{o}</td>")), "{rest}");
        assert!(
            rest.contains(&format!("<td class=\"upsales\">{u}</td>")),
            "{rest}"
        );
    }
    assert!(page.contains("ClickBank_USD"));

    // An imported campaign cannot be renamed, and the page says why.
    let usd = list.iter().find(|c| c.name == "ClickBank_USD").unwrap();
    let path = format!("/crm/campaigns/{}", usd.id);
    let show = app.get_text(&path).await;
    assert!(show.contains(LOCKED_REASON) && !html::has_id(&show, "rename-campaign"));
    let r = app.post_form(&path, &path, &[("name", "Renamed")]).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("cannot be renamed"));
    let still: String = app
        .db
        .run({
            let id = usd.id;
            move |c| Ok(campaigns::table.find(id).select(campaigns::name).first(c)?)
        })
        .await
        .unwrap();
    assert_eq!(still, "ClickBank_USD");
}

async fn links(app: &TestApp, campaign: i64) -> Vec<(String, String)> {
    app.db
        .run(move |c| {
            Ok(campaign_products::table
                .inner_join(products::table)
                .filter(campaign_products::campaign_id.eq(campaign))
                .order((campaign_products::kind.asc(), campaign_products::position.asc()))
                .select((campaign_products::kind, products::sku))
                .load(c)?)
        })
        .await
        .unwrap()
}

async fn link_id(app: &TestApp, campaign: i64, sku: &str) -> i64 {
    let sku = sku.to_string();
    app.db
        .run(move |c| {
            Ok(campaign_products::table
                .inner_join(products::table)
                .filter(campaign_products::campaign_id.eq(campaign))
                .filter(products::sku.eq(sku))
                .select(CampaignProduct::as_select())
                .first::<CampaignProduct>(c)?
                .id)
        })
        .await
        .unwrap()
}

#[actix_web::test]
async fn merchant_staff_set_up_campaign_products_and_edit_products() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let plugin = plugin_named(&app, "ClickBank").await;
    import(&app, plugin.id).await;
    app.create_user(MERCHANT_EMAIL, "merchant", MERCHANT_PASSWORD)
        .await;
    let staff = app.other_client();
    assert_eq!(staff.login(MERCHANT_EMAIL, MERCHANT_PASSWORD).await.status(), 303);

    // Staff see both sections in the menu and may not import.
    let home = staff.get_text("/crm/products").await;
    assert!(home.contains("href=\"/crm/products\"") && home.contains("href=\"/crm/campaigns\""));
    let r = staff
        .post_form(
            "/crm/products",
            &format!("/admin/plugins/{}/import-products", plugin.id),
            &[],
        )
        .await;
    assert_eq!(r.status(), 403);

    // A campaign of their own: create, rename (name clash refused), then products.
    let r = staff
        .post_form(
            "/crm/campaigns",
            "/crm/campaigns",
            &[("name", "Spring Launch"), ("currency", "usd")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let path = r.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
    let r = staff.post_form(&path, &path, &[("name", "Spring Sale")]).await;
    assert_eq!(r.status(), 303);
    assert!(staff
        .get_text(&path)
        .await
        .contains("Campaign renamed to Spring Sale."));
    let r = staff
        .post_form(
            "/crm/campaigns",
            "/crm/campaigns",
            &[("name", "Spring Sale"), ("currency", "EUR")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("already exists"));
    let r = staff
        .post_form(
            "/crm/campaigns",
            "/crm/campaigns",
            &[("name", "  "), ("currency", "EUR")],
        )
        .await;
    assert_eq!(r.status(), 400);

    let skus: Vec<String> = sb.products().into_iter().map(|p| p.sku).take(4).collect();
    let add = |sku: String, kind: &'static str| {
        let staff = &staff;
        let path = path.clone();
        async move {
            let p = product_by_sku(staff, &sku).await;
            let r = staff
                .post_form(
                    &path,
                    &format!("{path}/products"),
                    &[("product_id", &p.id.to_string()), ("kind", kind)],
                )
                .await;
            assert_eq!(r.status(), 303);
            staff.get_text(&path).await
        }
    };
    add(skus[0].clone(), "offer").await;
    add(skus[1].clone(), "offer").await;
    add(skus[2].clone(), "offer").await;
    let page = add(skus[3].clone(), "upsale").await;
    assert!(page.contains("Product added as Upsale."));
    let twice = add(skus[0].clone(), "upsale").await;
    assert!(twice.contains("is already in Spring Sale"), "{twice}");
    let bad = staff
        .post_form(
            &path,
            &format!("{path}/products"),
            &[("product_id", "x"), ("kind", "offer")],
        )
        .await;
    assert_eq!(bad.status(), 303);
    assert!(staff
        .get_text(&path)
        .await
        .contains("Choose a product from the list."));
    let pairs = |v: &[(&str, &String)]| -> Vec<(String, String)> {
        v.iter().map(|(k, s)| (k.to_string(), s.to_string())).collect()
    };
    assert_eq!(
        links(&app, id).await,
        pairs(&[
            ("offer", &skus[0]),
            ("offer", &skus[1]),
            ("offer", &skus[2]),
            ("upsale", &skus[3])
        ])
    );

    // Reorder: the third offer moves up twice to the top; moving the top up or the last
    // offer down changes nothing (offers never cross into upsales).
    let mv = |sku: String, direction: &'static str| {
        let (staff, app, path) = (&staff, &app, path.clone());
        async move {
            let l = link_id(app, id, &sku).await;
            let r = staff
                .post_form(
                    &path,
                    &format!("{path}/products/{l}/move"),
                    &[("direction", direction)],
                )
                .await;
            assert_eq!(r.status(), 303);
        }
    };
    for _ in 0..3 {
        mv(skus[2].clone(), "up").await;
    }
    mv(skus[1].clone(), "down").await;
    assert_eq!(
        links(&app, id).await,
        pairs(&[
            ("offer", &skus[2]),
            ("offer", &skus[0]),
            ("offer", &skus[1]),
            ("upsale", &skus[3])
        ])
    );
    mv(skus[2].clone(), "down").await;
    assert_eq!(
        links(&app, id).await,
        pairs(&[
            ("offer", &skus[0]),
            ("offer", &skus[2]),
            ("offer", &skus[1]),
            ("upsale", &skus[3])
        ])
    );
    mv(skus[2].clone(), "up").await;
    assert_eq!(
        audit_count(&app, "campaign.product_move").await,
        4,
        "no-op moves are not logged"
    );
    let l = link_id(&app, id, &skus[2]).await;
    let r = staff
        .post_form(
            &path,
            &format!("{path}/products/{l}/move"),
            &[("direction", "sideways")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(staff.get_text(&path).await.contains("Move up or down."));
    let page = staff.get_text(&path).await;
    let (a, b) = (
        page.find(&format!("data-sku=\"{}\"", skus[2])).unwrap(),
        page.find(&format!("data-sku=\"{}\"", skus[0])).unwrap(),
    );
    assert!(a < b, "the page shows the new order");

    // Remove.
    let l = link_id(&app, id, &skus[0]).await;
    let r = staff
        .post_form(&path, &format!("{path}/products/{l}/remove"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        links(&app, id).await,
        pairs(&[("offer", &skus[2]), ("offer", &skus[1]), ("upsale", &skus[3])])
    );
    // A link of another campaign is not found through this one.
    let r = staff
        .post_form(
            &path,
            &format!("/crm/campaigns/{}/products/{l}/remove", id + 1000),
            &[],
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(audit_count(&app, "campaign.product_add").await, 4);
    assert_eq!(audit_count(&app, "campaign.product_remove").await, 1);
    assert_eq!(audit_count(&app, "campaign.rename").await, 1);

    // Staff edit products too.
    let p = product_by_sku(&app, &skus[0]).await;
    let r = save_product(&staff, &p, &[("cost", "1.00")]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(product_by_sku(&app, &skus[0]).await.cost_minor, Some(100));
}

#[actix_web::test]
async fn crm_forms_need_the_csrf_token() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let plugin = plugin_named(&app, "ClickBank").await;
    let r = app
        .post_raw(&format!("/admin/plugins/{}/import-products", plugin.id), &[])
        .await;
    assert_eq!(r.status(), 403);
    assert!(all_products(&app).await.is_empty());
    import(&app, plugin.id).await;
    let p = all_products(&app).await.remove(0);
    let r = app
        .post_raw(&format!("/crm/products/{}", p.id), &[("cost", "9.99")])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(product_by_sku(&app, &p.sku).await.cost_minor, None);
    let r = app
        .post_raw("/crm/campaigns", &[("name", "Sneaky"), ("currency", "USD")])
        .await;
    assert_eq!(r.status(), 403);
    assert!(!app.get_text("/crm/campaigns").await.contains("Sneaky"));
    // Signed out: the pages send to the login.
    let anon = app.other_client();
    assert_eq!(anon.get("/crm/products").await.status(), 303);
    assert_eq!(anon.get("/crm/campaigns").await.status(), 303);
}

#[actix_web::test]
async fn a_refused_import_says_why_and_changes_nothing() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let plugin = plugin_named(&app, "ClickBank").await;
    let id = plugin.id;
    app.db
        .run(move |c| {
            diesel::update(merchant_crm::db::schema::plugins::table.find(id))
                .set(merchant_crm::db::schema::plugins::site.eq("NOTMINE"))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let page = import(&app, plugin.id).await;
    assert!(
        page.contains("Could not read the products of NOTMINE from ClickBank"),
        "{page}"
    );
    assert!(page.contains("flash-error"));
    assert!(all_products(&app).await.is_empty());
    assert_eq!(audit_count(&app, "product.import").await, 0);
}
