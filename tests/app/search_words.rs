//! Issue 16's search and partials items: a phone is found by its digits whatever the format on
//! either side (at least 4 of its last digits), rows written before migration 000017 are
//! back-filled, the notification type filter takes any case, and the abandoned-cart list shows
//! what the cart held when ClickBank sent it and exports as CSV with formula-safe cells.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use merchant_crm::clickbank::TransactionType;
use merchant_crm::db::schema::{customers, partials};

use crate::helpers::{expected_backend, TestApp};
use crate::support::builders::SaleBuilder;
use crate::support::clickbank::ins_url;
use crate::support::fulfillment::{apply, fixture};
use crate::support::html;

const MIGRATION: &str = "2026-12-04-000017_phone_digits_and_cart_items";

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[actix_web::test]
async fn a_phone_is_found_by_its_digits_in_any_format() {
    let fx = fixture().await;
    let mut ev = SaleBuilder::new("PHONE001").email("phone@example.com").build();
    ev.customer.phone = "+1 470 657 5528".into();
    apply(&fx, ev).await;
    let mut other = SaleBuilder::new("PHONE002").email("other@example.com").build();
    other.customer.phone = "+1 470 657 5529".into();
    apply(&fx, other).await;
    let app = &fx.app;
    for typed in [
        "4706575528",
        "657 5528",
        "+1 (470) 657-5528",
        "5528",
        "+1 470 657 5528",
    ] {
        let body = app
            .get_text(&format!("/customer-service?phone={}", enc(typed)))
            .await;
        assert!(!html::has_id(&body, "search-error"), "{typed}: {body}");
        assert!(html::has_data(&body, "receipt", "PHONE001"), "{typed}");
        assert!(!html::has_data(&body, "receipt", "PHONE002"), "{typed}");
    }
    let body = app.get_text("/customer-service?phone=9999").await;
    assert!(html::has_id(&body, "no-results"));
    // Fewer than 4 digits: said, and nothing listed.
    for typed in ["528", "+1 (5)"] {
        let body = app
            .get_text(&format!("/customer-service?phone={}", enc(typed)))
            .await;
        let said = html::text_of_id(&body, "search-error").unwrap_or_default();
        assert!(said.contains("at least 4 digits"), "{typed}: {said}");
        assert!(!html::has_data(&body, "receipt", "PHONE001"));
    }
    // The totals take the same rule.
    let r = app
        .get("/customer-service/totals?phone=657-5528&format=json")
        .await;
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["totals"][0]["orders"].as_i64(), Some(1), "{json}");
    // The stored column is the digits reversed.
    let rev: String = app
        .db
        .read(|c| {
            Ok(customers::table
                .filter(customers::email.eq("phone@example.com"))
                .select(customers::phone_digits_rev)
                .first(c)?)
        })
        .await
        .unwrap();
    assert_eq!(rev, "82557560741");
}

#[actix_web::test]
async fn the_migration_back_fills_the_phone_digits_of_older_rows() {
    let app = TestApp::builder().env("MERCHANT_CRM_NO_JOBS", "1").build().await;
    let dir = match expected_backend() {
        merchant_crm::db::Backend::Postgres => "postgres",
        _ => "sqlite",
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |f: &str| std::fs::read_to_string(format!("{root}/migrations/{dir}/{MIGRATION}/{f}")).unwrap();
    let (down, up) = (read("down.sql"), read("up.sql"));
    let (rev, cart): (Vec<(String, String)>, (String, Option<String>, i32)) = app
        .db
        .run(move |c| {
            // The schema before 000017, rows as the portal wrote them then, then 000017.
            c.batch_execute(&down)?;
            c.batch_execute(
                "INSERT INTO plugins (name, site, api_key_enc, created_at, updated_at) \
                   VALUES ('Old', 'OLDSHOP', 'not-a-key', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
                 INSERT INTO customers (plugin_id, email, phone, created_at, updated_at) \
                   SELECT id, 'a@example.com', '+1 (470) 657-5528', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM plugins WHERE site = 'OLDSHOP';
                 INSERT INTO customers (plugin_id, email, phone, created_at, updated_at) \
                   SELECT id, 'b@example.com', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM plugins WHERE site = 'OLDSHOP';
                 INSERT INTO partials (plugin_id, email, phone, country, item_no, event_time, created_at) \
                   SELECT id, 'c@example.com', '07700 900-123', 'GB', 'SKU9', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM plugins WHERE site = 'OLDSHOP';",
            )?;
            c.batch_execute(&up)?;
            let rev = customers::table
                .order(customers::email)
                .select((customers::email, customers::phone_digits_rev))
                .load(c)?;
            let cart = partials::table
                .select((partials::phone_digits_rev, partials::item_no, partials::item_count))
                .first(c)?;
            Ok((rev, cart))
        })
        .await
        .unwrap();
    assert_eq!(
        rev,
        vec![
            ("a@example.com".to_string(), "82557560741".to_string()),
            ("b@example.com".to_string(), String::new()),
        ]
    );
    assert_eq!(cart, ("32100900770".to_string(), Some("SKU9".to_string()), 1));
}

#[actix_web::test]
async fn the_notification_type_filter_takes_any_case() {
    let fx = fixture().await;
    let ev = fx.sb.create_event(&TransactionType::Rfnd);
    assert_eq!(fx.sb.post_event(&ins_url(&fx.app), &ev).await.unwrap(), 200);
    fx.app.settle().await;
    let listed = |page: &str| page.matches("<code>RFND</code>").count();
    let upper = fx.app.get_text("/admin/notifications?type=RFND").await;
    let lower = fx.app.get_text("/admin/notifications?type=rfnd").await;
    assert_eq!(listed(&upper), 1, "{upper}");
    assert_eq!(listed(&lower), 1, "{lower}");
}

#[actix_web::test]
async fn abandoned_carts_show_their_item_when_sent_and_export_as_csv() {
    let fx = fixture().await;
    // The sandbox sends a line item on one abandoned cart in three. A cart's event key has
    // no receipt: carts a second apart are distinct events.
    for n in 0..3 {
        if n > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        let ev = fx.sb.create_event(&TransactionType::AbandonedOrder);
        assert_eq!(fx.sb.post_event(&ins_url(&fx.app), &ev).await.unwrap(), 200);
    }
    fx.app.settle().await;
    let carts: Vec<(i64, Option<String>, Option<String>)> = fx
        .app
        .db
        .read(|c| {
            Ok(partials::table
                .order(partials::id)
                .select((partials::id, partials::item_no, partials::item_title))
                .load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(carts.len(), 3);
    let sent: Vec<_> = carts.iter().filter(|c| c.1.is_some()).collect();
    assert_eq!(sent.len(), 1, "{carts:?}");
    let page = fx.app.get_text("/customer-service?show=partials").await;
    for (id, sku, title) in &carts {
        let cell = html::text_of_id(&page, &format!("cart-{id}-item")).map(|_| {
            let at = page.find(&format!("id=\"cart-{id}-item\"")).unwrap();
            &page[at..at + page[at..].find("</td>").unwrap()]
        });
        let cell = cell.unwrap_or_else(|| panic!("cart {id}: {page}"));
        match (sku, title) {
            (Some(s), Some(t)) => {
                assert!(cell.contains(s.as_str()) && cell.contains(t.as_str()), "{cell}")
            }
            _ => assert!(cell.contains("not sent by ClickBank"), "{cell}"),
        }
    }
    assert!(html::has_id(&page, "carts-csv"));

    // A cart whose name is a formula: neutralised in the file; the filter applies.
    let plugin = fx.plugin.id;
    fx.app
        .db
        .run(move |c| {
            let now = merchant_crm::domain::now();
            diesel::insert_into(partials::table)
                .values((
                    partials::plugin_id.eq(plugin),
                    partials::email.eq("evil@example.com"),
                    partials::first_name.eq("=HYPERLINK(\"http://x\")"),
                    partials::last_name.eq("+1"),
                    partials::country.eq("US"),
                    partials::event_time.eq(now),
                    partials::created_at.eq(now),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let r = fx.app.get("/customer-service?show=partials&format=csv").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let all = r.text().await.unwrap();
    let mut rd = csv::Reader::from_reader(all.as_bytes());
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4, "{all}");
    let evil = rows.iter().find(|r| &r[1] == "evil@example.com").unwrap();
    assert_eq!(&evil[2], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&evil[3], "'+1");
    assert_eq!(&evil[6], "not sent by ClickBank");
    let (_, sku, title) = sent[0];
    let (sku, title) = (sku.clone().unwrap(), title.clone().unwrap());
    assert!(rows.iter().any(|r| r[6] == format!("{title} ({sku})")), "{all}");
    let one = fx
        .app
        .get_text("/customer-service?show=partials&format=csv&email=evil%40")
        .await;
    assert_eq!(one.lines().count(), 2, "header and the one cart: {one}");
}
