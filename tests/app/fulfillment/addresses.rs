//! Nothing ships without an address: an item whose address lacks a street, a city or a postal
//! code waits as NEEDS_ADDRESS and is never sent; the customer's next notification or staff
//! on the profile complete it, and the next run sends it.

use diesel::prelude::*;
use merchant_crm::db::schema::customers;

use crate::support::builders::SaleBuilder;
use crate::support::fulfillment::*;

async fn customer_of(fx: &Fx, email: &str) -> i64 {
    let email = email.to_string();
    fx.app
        .db
        .read(move |c| {
            Ok(customers::table
                .filter(customers::email.eq(email))
                .select(customers::id)
                .first(c)?)
        })
        .await
        .unwrap()
}

#[actix_web::test]
async fn an_item_without_a_street_waits_for_one_and_ships_once_staff_enter_it() {
    let fx = fixture().await;
    let (drop, house) = drop_house(&fx.app).await;
    product_on(&fx, "MUG", house, 0).await;
    // As the orders list brings it: no street.
    apply(
        &fx,
        SaleBuilder::new("NIA00001")
            .email("nia@example.com")
            .address("")
            .build(),
    )
    .await;
    assert_eq!(item_of(&fx, "NIA00001").await.0, "NEEDS_ADDRESS");
    let run = run_export(&fx.app, house).await;
    assert_eq!(
        (run.items, run.shipments),
        (0, 0),
        "nothing goes out without a street"
    );
    let runs = fx.app.get_text("/fulfillment/runs").await;
    assert!(
        runs.contains("1 item(s) for this house wait for a shipping address"),
        "{runs}"
    );
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("id=\"needs-address\""), "{page}");
    let listed = fx.app.get_text("/fulfillment?status=NEEDS_ADDRESS").await;
    assert!(page.contains("id=\"show-needs-address\""));
    assert!(
        !listed.contains("id=\"show-needs-address\""),
        "the filtered page does not link to itself"
    );
    assert!(listed.contains("NIA00001"), "{listed}");
    assert!(
        listed.contains("no street · <a href=\"/customers/")
            && listed.contains("#shipping-address\">enter the address</a>"),
        "the row says what is missing and where to enter it: {listed}"
    );

    // Staff enter it on the profile; an address a house could not use is refused.
    let nia = customer_of(&fx, "nia@example.com").await;
    let profile = format!("/customers/{nia}");
    let action = format!("{profile}/shipping-address");
    let mut fields = vec![
        ("first_name", "Nia"),
        ("last_name", "Okafor"),
        ("address1", "9 Harbour Lane"),
        ("address2", ""),
        ("city", ""),
        ("state", "IL"),
        ("postal_code", "62701"),
        ("country", "US"),
    ];
    // Refused: the form comes back as typed, open, with the reason; nothing is saved.
    let r = fx.app.post_form(&profile, &action, &fields).await;
    assert_eq!(r.status(), 400);
    let shown = r.text().await.unwrap();
    assert!(
        shown.contains("<details id=\"shipping-address\" open>")
            && shown.contains("id=\"address-error\">A house cannot ship to this address: it has no city. Nothing was saved."),
        "{shown}"
    );
    for typed in [
        "name=\"first_name\" value=\"Nia\"",
        "name=\"last_name\" value=\"Okafor\"",
        "name=\"address1\" value=\"9 Harbour Lane\"",
        "name=\"city\" value=\"\"",
        "name=\"postal_code\" value=\"62701\"",
    ] {
        assert!(shown.contains(typed), "{typed}: {shown}");
    }
    assert_eq!(item_of(&fx, "NIA00001").await.0, "NEEDS_ADDRESS");
    let again = fx.app.get_text(&profile).await;
    assert!(
        again.contains("name=\"address1\" value=\"\"") && !again.contains("id=\"address-error\""),
        "the saved address is still the old one: {again}"
    );
    assert!(
        !again.contains("id=\"send-to-clickbank\""),
        "no subscription: nothing to send to ClickBank"
    );
    fields[4] = ("city", "Springfield");
    assert_eq!(fx.app.post_form(&profile, &action, &fields).await.status(), 303);
    let shown = fx.app.get_text(&profile).await;
    assert!(
        shown.contains("1 item not at a house yet took it (1 that waited for an address is now on HOLD for the next export)"),
        "{shown}"
    );
    assert_eq!(
        item_of(&fx, "NIA00001").await,
        ("HOLD".into(), "9 Harbour Lane".into())
    );
    let audit = fx.app.get_text("/admin/audit").await;
    assert!(audit.contains("customer.shipping_address"), "{audit}");
    assert!(
        shown.contains("Shipping address changed to 9 Harbour Lane, Springfield, 62701, US; 1 item(s) not yet at a house took it"),
        "the timeline says it in words: {shown}"
    );

    // The next run sends it, with its street.
    let run = run_export(&fx.app, house).await;
    assert_eq!(run.shipments, 1);
    let mut sent = String::new();
    for f in std::fs::read_dir(drop.path()).unwrap() {
        sent.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap_or_default());
    }
    assert!(sent.contains("9 Harbour Lane"), "{sent}");

    // Another edit reaches only what is not at a house yet, and says so.
    fields[2] = ("address1", "10 Harbour Lane");
    fx.app.post_form(&profile, &action, &fields).await;
    let shown = fx.app.get_text(&profile).await;
    assert!(
        shown.contains("1 item already at a house keeps the address it was sent with"),
        "{shown}"
    );
    assert_eq!(item_of(&fx, "NIA00001").await.1, "9 Harbour Lane");
}

#[actix_web::test]
async fn a_notification_with_the_address_completes_the_waiting_items_and_a_known_address_is_used() {
    let fx = fixture().await;
    let (_drop, house) = drop_house(&fx.app).await;
    product_on(&fx, "MUG", house, 0).await;
    // Lee's first order arrives without a street; a later notification carries one.
    apply(
        &fx,
        SaleBuilder::new("LEE00001")
            .email("lee@example.com")
            .address("")
            .hours_ago(5)
            .build(),
    )
    .await;
    assert_eq!(item_of(&fx, "LEE00001").await.0, "NEEDS_ADDRESS");
    apply(
        &fx,
        SaleBuilder::new("LEE00002")
            .email("lee@example.com")
            .address("4 Birch Ave")
            .build(),
    )
    .await;
    assert_eq!(
        item_of(&fx, "LEE00001").await,
        ("HOLD".into(), "4 Birch Ave".into())
    );
    assert_eq!(
        item_of(&fx, "LEE00002").await,
        ("HOLD".into(), "4 Birch Ave".into())
    );
    // Sam's address is known: an order without a street ships there.
    apply(
        &fx,
        SaleBuilder::new("SAM00001")
            .email("sam@example.com")
            .address("1 Elm Road")
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("SAM00002")
            .email("sam@example.com")
            .address("")
            .build(),
    )
    .await;
    assert_eq!(
        item_of(&fx, "SAM00002").await,
        ("HOLD".into(), "1 Elm Road".into())
    );
    let run = run_export(&fx.app, house).await;
    assert_eq!(run.items, 4);
}
