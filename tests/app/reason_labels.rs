//! Issue 16 item 4: the refund and cancellation forms show ClickBank's documented reasons in
//! words and the others as "ClickBank reason N"; an account executive labels a code (audited),
//! the forms then show the label, a refund keeps the code beside it, and merchant staff can
//! neither see nor change the labels.

use diesel::prelude::*;
use merchant_crm::db::schema::{audit_log, orders, service_requests};

use crate::support::builders::SaleBuilder;
use crate::support::fulfillment::{apply, fixture};
use crate::support::html;

const CODE: &str = "ticket.type.refund.3";

fn option_text<'a>(page: &'a str, id: &str) -> &'a str {
    html::text_of_id(page, id).unwrap_or_else(|| panic!("no #{id}: {page}"))
}

#[actix_web::test]
async fn reason_codes_show_documented_words_and_the_labels_an_account_executive_gives() {
    let fx = fixture().await;
    apply(
        &fx,
        SaleBuilder::new("REASON01").email("reason@example.com").build(),
    )
    .await;
    let app = &fx.app;
    let (order, customer): (i64, i64) = app
        .db
        .read(|c| {
            Ok(orders::table
                .filter(orders::receipt.eq("REASON01"))
                .select((orders::id, orders::customer_id))
                .first(c)?)
        })
        .await
        .unwrap();
    let form = format!("/customers/{customer}/orders/{order}/refund");

    // Before any label: documented words, the rest by number, never invented.
    let page = app.get_text(&form).await;
    assert_eq!(option_text(&page, "reason-7"), "Duplicate purchase");
    assert_eq!(option_text(&page, "reason-8"), "Other");
    assert_eq!(option_text(&page, "reason-returned"), "Returned");
    assert_eq!(option_text(&page, "reason-3"), "ClickBank reason 3");
    assert!(
        !page.contains("reason code"),
        "no 'Refund reason code N' any more"
    );
    let admin_page = app.get_text("/admin/reason-labels").await;
    assert_eq!(option_text(&admin_page, "shown-cancel-2"), "ClickBank reason 2");

    // Merchant staff can neither open nor change them.
    app.create_user("staff@example.com", "merchant", "staff password 123")
        .await;
    let staff = app.other_client();
    staff.login("staff@example.com", "staff password 123").await;
    assert_eq!(staff.get("/admin/reason-labels").await.status(), 403);
    let refused = staff
        .post_form(
            "/customer-service",
            "/admin/reason-labels",
            &[("kind", "refund"), ("code", CODE), ("label", "Staff words")],
        )
        .await;
    assert_eq!(refused.status(), 403);
    // Without a CSRF token even an account executive is refused.
    let no_token = app
        .post_raw(
            "/admin/reason-labels",
            &[("kind", "refund"), ("code", CODE), ("label", "No token")],
        )
        .await;
    assert!(no_token.status().is_client_error(), "{}", no_token.status());

    // An account executive labels code 3; a code of another kind or a long label is refused.
    let r = app
        .post_form(
            "/admin/reason-labels",
            "/admin/reason-labels",
            &[
                ("kind", "refund"),
                ("code", CODE),
                ("label", "  Product <not> as described "),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    for (code, label) in [("ticket.type.cancel.1", "x"), (CODE, &"x".repeat(81)[..])] {
        let r = app
            .post_form(
                "/admin/reason-labels",
                "/admin/reason-labels",
                &[("kind", "refund"), ("code", code), ("label", label)],
            )
            .await;
        assert_eq!(r.status(), 303);
    }
    let admin_page = app.get_text("/admin/reason-labels").await;
    assert_eq!(
        option_text(&admin_page, "shown-refund-3"),
        "Product &#60;not&#62; as described"
    );
    let page = app.get_text(&form).await;
    assert_eq!(
        option_text(&page, "reason-3"),
        "Product &#60;not&#62; as described"
    );
    assert_eq!(option_text(&page, "reason-4"), "ClickBank reason 4");
    let audits: Vec<(String, String, String)> = app
        .db
        .read(|c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq("reason_label.set"))
                .select((audit_log::actor, audit_log::target, audit_log::detail))
                .load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(audits.len(), 1, "only the accepted change: {audits:?}");
    assert_eq!(audits[0].1, format!("reason:{CODE}"));
    let detail: serde_json::Value = serde_json::from_str(&audits[0].2).unwrap();
    assert_eq!(detail["before"], "ClickBank reason 3");
    assert_eq!(detail["after"], "Product <not> as described");

    // A refund with that reason keeps the code, with the label beside it.
    let r = app
        .post_form(
            &form,
            &form,
            &[
                ("refund_type", "FULL"),
                ("amount", ""),
                ("reason", CODE),
                ("sku", ""),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let detail: String = app
        .db
        .read(move |c| {
            Ok(service_requests::table
                .filter(service_requests::order_id.eq(order))
                .select(service_requests::detail)
                .first(c)?)
        })
        .await
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["reason"], CODE);
    assert_eq!(detail["reason_label"], "Product <not> as described");
    let refund_audit: Vec<String> = app
        .db
        .read(|c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq("customer.refund"))
                .select(audit_log::detail)
                .load(c)?)
        })
        .await
        .unwrap();
    assert!(
        !refund_audit.is_empty() && refund_audit.iter().all(|d| d.contains(CODE)),
        "{refund_audit:?}"
    );

    // Clearing the label goes back to the number.
    let r = app
        .post_form(
            "/admin/reason-labels",
            "/admin/reason-labels",
            &[("kind", "refund"), ("code", CODE), ("label", "")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get_text(&form).await;
    assert_eq!(option_text(&page, "reason-3"), "ClickBank reason 3");
}
