//! Pages link to what they name: a notification to its customer and order, an audit entry to
//! its target (with what changed in words), a campaign to its orders in Customer Service.

use diesel::prelude::*;
use merchant_crm::clickbank::TransactionType;
use merchant_crm::db::schema::{campaigns, inbound_notifications, orders};

use crate::support::clickbank::{activate, ins_url, portal_for, sandbox};
use crate::support::html::{has_id, text_of_id};

/// The `href` of the element with `id`.
fn href_of<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}: {page}"));
    let tag = page[..at].rfind('<').unwrap();
    let start = tag + page[tag..].find("href=\"").expect("an href") + 6;
    let end = start + page[start..].find('"').unwrap();
    &page[start..end]
}

#[actix_web::test]
async fn a_notification_links_its_customer_and_order_and_a_campaign_its_orders() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    assert_eq!(
        activate(&app, "ClickBank", &sb, sb.secret_key(), false)
            .await
            .status(),
        303
    );
    let ev = sb.create_event(&TransactionType::Sale);
    let receipt = ev.receipt.clone().unwrap();
    assert_eq!(sb.post_event(&ins_url(&app), &ev).await.unwrap(), 200);
    app.settle().await;
    let r = receipt.clone();
    let (notification, order, customer, campaign): (i64, i64, i64, i64) = app
        .db
        .run(move |c| {
            let n = inbound_notifications::table
                .filter(inbound_notifications::receipt.eq(&r))
                .select(inbound_notifications::id)
                .first(c)?;
            let (o, cu, ca) = orders::table
                .filter(orders::receipt.eq(&r))
                .select((orders::id, orders::customer_id, orders::campaign_id))
                .first::<(i64, i64, i64)>(c)?;
            Ok((n, o, cu, ca))
        })
        .await
        .unwrap();
    let page = app
        .get_text(&format!("/admin/notifications/{notification}"))
        .await;
    assert_eq!(
        href_of(&page, "notification-customer"),
        format!("/customers/{customer}")
    );
    assert_eq!(
        href_of(&page, "notification-order"),
        format!("/customers/{customer}#order-{order}")
    );
    // The order it links to is on that profile.
    let profile = app.get_text(&format!("/customers/{customer}")).await;
    assert!(has_id(&profile, &format!("order-{order}")));

    // A notification whose receipt the CRM does not know says so instead of linking.
    let unknown = app
        .db
        .run(move |c| {
            diesel::update(orders::table.find(order))
                .set(orders::receipt.eq("ELSEWHERE1"))
                .execute(c)?;
            Ok(())
        })
        .await;
    unknown.unwrap();
    let page = app
        .get_text(&format!("/admin/notifications/{notification}"))
        .await;
    assert!(!has_id(&page, "notification-order") && has_id(&page, "notification-unknown"));

    let page = app.get_text(&format!("/crm/campaigns/{campaign}")).await;
    assert_eq!(
        href_of(&page, "campaign-orders"),
        format!("/customer-service?campaign={campaign}")
    );
    let listed = app
        .db
        .read(move |c| {
            Ok(campaigns::table
                .find(campaign)
                .select(campaigns::name)
                .first::<String>(c)?)
        })
        .await
        .unwrap();
    assert!(listed.ends_with("_USD") || listed.contains('_'), "{listed}");
    let search = app
        .get_text(&format!("/customer-service?campaign={campaign}"))
        .await;
    assert!(
        search.contains("data-receipt=\"ELSEWHERE1\""),
        "the link finds the campaign's orders"
    );
}

#[actix_web::test]
async fn the_audit_log_reads_as_changes_with_linked_targets() {
    let app = crate::helpers::TestApp::spawn().await;
    app.setup_admin().await;
    app.create_user("staff@example.com", "merchant", "a long password 123")
        .await;
    let id = crate::helpers::user_id(&app, "staff@example.com").await;
    let r = app
        .post_form(
            "/admin/users",
            &format!("/admin/users/{id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get_text("/admin/audit?action=user.role").await;
    let entry: i64 = page
        .split("id=\"audit-changes-")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the entry lists its changes: {page}"));
    let changes = &page[page.find(&format!("id=\"audit-changes-{entry}\"")).unwrap()..];
    let changes = &changes[..changes.find("</ul>").unwrap()];
    assert!(changes.contains("role</span>: merchant → admin"), "{changes}");
    assert!(
        !page.contains("{&quot;before&quot;") && !page.contains("{\"before\""),
        "no raw JSON"
    );
    assert_eq!(href_of(&page, &format!("audit-target-{entry}")), "/admin/users");
    assert_eq!(
        text_of_id(&page, &format!("audit-target-{entry}")),
        Some("staff@example.com")
    );
}
