//! The profile's Edit shipping address can send the address to ClickBank (`changeAddress`)
//! for the customer's running subscriptions that ship: recorded as a service request, counted
//! as a Customer Service action; a ClickBank failure leaves the saved address, is shown, and
//! the address can be sent again.

use std::collections::HashSet;
use std::net::SocketAddr;

use diesel::prelude::*;
use merchant_crm::clickbank::sandbox::TruthAddress;
use merchant_crm::clickbank::{LineItemStatus, Sandbox, SandboxConfig, SandboxHandle};
use merchant_crm::db::schema::{customers, service_requests};
use merchant_crm::domain::clickbank_budget::{self, Purpose};
use merchant_crm::domain::customer_service::actions::subscriptions_that_ship;

use crate::helpers::TestApp;
use crate::support::clickbank::portal_with_orders;

/// (customer, plugin, receipts) of a customer whose running subscriptions that ship are all
/// active at the sandbox, on physical products.
async fn subscriber(app: &TestApp, sb: &SandboxHandle) -> (i64, i64, Vec<String>) {
    let active: HashSet<String> = sb
        .subscription_receipts(LineItemStatus::Active)
        .into_iter()
        .collect();
    let physical: HashSet<String> = sb
        .products()
        .into_iter()
        .filter(|p| p.physical)
        .map(|p| p.sku)
        .collect();
    let ids: Vec<(i64, i64)> = app
        .db
        .read(|c| {
            Ok(customers::table
                .select((customers::id, customers::plugin_id))
                .order(customers::id)
                .load(c)?)
        })
        .await
        .unwrap();
    for (id, plugin) in ids {
        let subs = app
            .db
            .read(move |c| subscriptions_that_ship(c, id))
            .await
            .unwrap();
        if !subs.is_empty()
            && subs
                .iter()
                .all(|p| active.contains(&p.receipt) && physical.contains(&p.sku))
        {
            return (id, plugin, subs.into_iter().map(|p| p.receipt).collect());
        }
    }
    panic!("no customer with an active physical subscription");
}

/// (action, status, error) of the customer's requests, oldest first.
async fn requests_of(app: &TestApp, customer: i64) -> Vec<(String, String, Option<String>)> {
    app.db
        .read(move |c| {
            Ok(service_requests::table
                .filter(service_requests::customer_id.eq(customer))
                .order(service_requests::id)
                .select((
                    service_requests::action,
                    service_requests::status,
                    service_requests::error,
                ))
                .load(c)?)
        })
        .await
        .unwrap()
}

fn at(street: &str) -> TruthAddress {
    TruthAddress {
        address1: street.into(),
        address2: None,
        city: "Portland".into(),
        state: Some("OR".into()),
        postal_code: "97201".into(),
        country: "US".into(),
    }
}

#[actix_web::test]
async fn the_saved_address_goes_to_clickbank_for_the_subscriptions_and_a_failure_keeps_it_here() {
    let sb = Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        orders: 240,
        days: 30,
        ..Default::default()
    })
    .unwrap();
    let app = portal_with_orders(&sb).await;
    let (id, plugin, receipts) = subscriber(&app, &sb).await;
    let profile = format!("/customers/{id}");
    let action = format!("{profile}/shipping-address");
    let page = app.get_text(&profile).await;
    assert!(page.contains("id=\"send-to-clickbank\""), "{page}");
    let actions_before = app
        .db
        .read(move |c| clickbank_budget::today_usage(c, plugin))
        .await
        .unwrap()
        .of(Purpose::Action);

    let mut fields = vec![
        ("first_name", "Casey"),
        ("last_name", "Rivera"),
        ("address1", "77 Sandbox Way"),
        ("address2", ""),
        ("city", "Portland"),
        ("state", "OR"),
        ("postal_code", "97201"),
        ("country", "us"),
        ("send_to_clickbank", "on"),
    ];
    let r = app.post_form(&profile, &action, &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let page = app.get_text(&profile).await;
    assert!(page.contains("Shipping address saved."), "{page}");
    for receipt in &receipts {
        assert!(
            page.contains(&format!(
                "Shipping address to ClickBank, {receipt}: accepted by ClickBank"
            )),
            "{receipt}: {page}"
        );
        assert_eq!(
            sb.changed_address(receipt),
            Some(at("77 Sandbox Way")),
            "{receipt}"
        );
    }
    let n = receipts.len();
    assert_eq!(
        requests_of(&app, id).await,
        vec![("change_address".to_string(), "done".to_string(), None); n]
    );
    assert!(page.contains("Address change accepted by ClickBank"), "{page}");
    let actions_after = app
        .db
        .read(move |c| clickbank_budget::today_usage(c, plugin))
        .await
        .unwrap()
        .of(Purpose::Action);
    assert_eq!(
        actions_after - actions_before,
        n as i64,
        "one Customer Service action per receipt"
    );

    // ClickBank fails: the address is saved here all the same, the failure is shown and kept.
    sb.set_error_rate(1.0);
    fields[2] = ("address1", "78 Sandbox Way");
    let r = app.post_form(&profile, &action, &fields).await;
    assert_eq!(r.status(), 303);
    let page = app.get_text(&profile).await;
    assert!(page.contains("Shipping address saved."), "{page}");
    assert!(
        page.contains(&format!(
            "Shipping address to ClickBank, {}: ClickBank refused:",
            receipts[0]
        )),
        "{page}"
    );
    assert!(page.contains("Address change refused:"), "{page}");
    assert!(page.contains("Send the saved address again"), "{page}");
    let street: String = app
        .db
        .read(move |c| {
            Ok(customers::table
                .find(id)
                .select(customers::ship_address1)
                .first(c)?)
        })
        .await
        .unwrap();
    assert_eq!(street, "78 Sandbox Way", "the local save stands");
    assert_eq!(sb.changed_address(&receipts[0]), Some(at("77 Sandbox Way")));
    let rows = requests_of(&app, id).await;
    assert_eq!(rows.len(), 2 * n);
    assert!(
        rows[n..]
            .iter()
            .all(|(a, s, e)| a == "change_address" && s == "failed" && e.is_some()),
        "{rows:?}"
    );

    // Sent again once ClickBank answers.
    sb.set_error_rate(0.0);
    let r = app
        .post_form(&profile, &format!("{profile}/shipping-address/clickbank"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get_text(&profile).await;
    assert!(
        page.contains(&format!(
            "Shipping address to ClickBank, {}: accepted by ClickBank",
            receipts[0]
        )),
        "{page}"
    );
    assert_eq!(sb.changed_address(&receipts[0]), Some(at("78 Sandbox Way")));
    assert_eq!(requests_of(&app, id).await.last().unwrap().1, "done");

    // Without the box ticked nothing goes to ClickBank.
    fields.pop();
    fields[2] = ("address1", "79 Sandbox Way");
    assert_eq!(app.post_form(&profile, &action, &fields).await.status(), 303);
    assert_eq!(requests_of(&app, id).await.len(), 3 * n);
    assert_eq!(sb.changed_address(&receipts[0]), Some(at("78 Sandbox Way")));
}
