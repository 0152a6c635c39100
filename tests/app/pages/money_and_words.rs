//! Amounts read with thousands separators on pages (the JSON keeps the plain decimal); the
//! product page shows what ClickBank owns as text and says what each fulfillment type does.

use diesel::prelude::*;
use merchant_crm::db::schema::{orders, products};
use merchant_crm::domain::catalog::FULFILLMENT_TYPES;

use crate::support::builders::SaleBuilder;
use crate::support::fulfillment::{apply, fixture};
use crate::support::html::{has_data, text_of_id};

#[actix_web::test]
async fn amounts_have_thousands_separators_on_pages_and_stay_plain_in_json() {
    let fx = fixture().await;
    let mut sale = SaleBuilder::new("BIG00001").email("big@example.com").build();
    sale.items[0].amount_minor = 11_749_676;
    sale.total_minor = 11_749_676;
    apply(&fx, sale).await;
    let (order, customer, campaign): (i64, i64, i64) = fx
        .app
        .db
        .read(|c| {
            Ok(orders::table
                .filter(orders::receipt.eq("BIG00001"))
                .select((orders::id, orders::customer_id, orders::campaign_id))
                .first(c)?)
        })
        .await
        .unwrap();
    let profile = fx.app.get_text(&format!("/customers/{customer}")).await;
    assert_eq!(
        text_of_id(&profile, &format!("order-total-{order}")),
        Some("117,496.76 USD")
    );
    if let Some(at) = profile.find("117496.76") {
        panic!(
            "a plain decimal on the page: {}",
            &profile[at.saturating_sub(300)..at + 50]
        );
    }

    let search = fx.app.get_text("/customer-service?receipt=BIG00001").await;
    assert!(has_data(&search, "receipt", "BIG00001"));
    assert!(search.contains("117,496.76 USD"), "{search}");
    let totals = fx
        .app
        .get_text(&format!("/customer-service/totals?campaign={campaign}"))
        .await;
    assert_eq!(text_of_id(&totals, "revenue-USD"), Some("117,496.76 USD"));
    let json: serde_json::Value = fx
        .app
        .get(&format!(
            "/customer-service/totals?campaign={campaign}&format=json"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        json["totals"][0]["revenue"], "117496.76",
        "the JSON keeps the raw decimal"
    );
}

#[actix_web::test]
async fn the_product_page_shows_clickbanks_fields_as_text_and_says_what_each_type_does() {
    let fx = fixture().await;
    apply(&fx, SaleBuilder::new("PRD00001").build()).await;
    let id: i64 = fx
        .app
        .db
        .read(|c| {
            Ok(products::table
                .filter(products::sku.eq("MUG"))
                .select(products::id)
                .first(c)?)
        })
        .await
        .unwrap();
    let page = fx.app.get_text(&format!("/crm/products/{id}")).await;
    assert_eq!(text_of_id(&page, "sku"), Some("MUG"));
    assert_eq!(text_of_id(&page, "title"), Some("Product MUG"));
    assert_eq!(text_of_id(&page, "recurring"), Some("no"));
    assert!(text_of_id(&page, "category").is_some_and(|c| !c.is_empty()));
    // No input carries them: only the fields staff may change are inputs.
    let form = &page[page.find("id=\"edit-product\"").unwrap()..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(!form.contains("readonly"), "{form}");
    assert!(
        !form.contains("value=\"MUG\"") && !form.contains("value=\"Product MUG\""),
        "{form}"
    );
    // One line per fulfillment type, and none says a subscription's rebills do not ship.
    for t in FULFILLMENT_TYPES {
        let words = text_of_id(&page, &format!("type-does-{}", t.value)).unwrap_or_default();
        assert_eq!(words, t.does);
    }
    let standard = text_of_id(&page, "type-does-standard").unwrap();
    assert!(standard.contains("every rebill"), "{standard}");
    assert!(!page.contains("ships once per order"));
}
