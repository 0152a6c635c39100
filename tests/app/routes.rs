//! Every (method, path) of the route table resolves to a handler. The table below is the portal's
//! URL surface as merchants, ClickBank and fulfillment houses know it: moving routes between
//! sections must never drop or shadow one of these.

use actix_web::http::{Method, StatusCode};
use actix_web::{test, web, App, HttpResponse};

/// What the app answers when no route matches: a status no handler uses.
const UNROUTED: StatusCode = StatusCode::IM_A_TEAPOT;

const GET: &str = "GET";
const POST: &str = "POST";

/// Every route, with numbers standing in for the `{id}`-style segments.
const ROUTES: &[(&str, &str)] = &[
    (GET, "/healthz"),
    (GET, "/static/app.css"),
    (GET, "/setup"),
    (POST, "/setup"),
    (GET, "/login"),
    (POST, "/login"),
    (POST, "/logout"),
    (GET, "/"),
    (GET, "/account/password"),
    (POST, "/account/password"),
    (GET, "/account/sessions"),
    (POST, "/account/sessions/1/end"),
    (GET, "/admin/users"),
    (POST, "/admin/users"),
    (POST, "/admin/users/1/role"),
    (POST, "/admin/users/1/disable"),
    (POST, "/admin/users/1/enable"),
    (POST, "/admin/users/1/password"),
    (GET, "/admin/audit"),
    (GET, "/admin/locks"),
    (POST, "/admin/locks/clear"),
    (GET, "/admin/reason-labels"),
    (POST, "/admin/reason-labels"),
    (POST, "/clickbank/"),
    (POST, "/clickbank"),
    (GET, "/admin/plugins"),
    (POST, "/admin/plugins"),
    (GET, "/admin/plugins/1"),
    (POST, "/admin/plugins/1"),
    (POST, "/admin/plugins/1/deactivate"),
    (POST, "/admin/plugins/1/activate"),
    (POST, "/admin/plugins/1/lookup-budget"),
    (POST, "/admin/plugins/1/initial-import"),
    (POST, "/admin/plugins/1/import-products"),
    (GET, "/admin/import-tasks"),
    (GET, "/admin/import-tasks/1"),
    (GET, "/admin/import-tasks/1/progress.json"),
    (POST, "/admin/import-tasks/1/cancel"),
    (POST, "/admin/import-tasks/1/failed/all"),
    (POST, "/admin/import-tasks/1/failed/7"),
    (GET, "/admin/notifications"),
    (POST, "/admin/notifications/reprocess-failed"),
    (GET, "/admin/notifications/1"),
    (POST, "/admin/notifications/1/reprocess"),
    (GET, "/admin/reconciliation"),
    (POST, "/admin/reconciliation/check"),
    (GET, "/admin/reconciliation/1/2026-12-01"),
    (POST, "/admin/reconciliation/1/2026-12-01/reimport"),
    (GET, "/admin/api-users"),
    (POST, "/admin/api-users"),
    (POST, "/admin/api-users/1"),
    (POST, "/admin/api-users/1/disable"),
    (POST, "/admin/api-users/1/enable"),
    (GET, "/customer-service"),
    (GET, "/customer-service/totals"),
    (GET, "/customers/1"),
    (POST, "/customers/1/notes"),
    (POST, "/customers/1/shipping-address"),
    (POST, "/customers/1/shipping-address/clickbank"),
    (GET, "/customers/1/orders/2/refund"),
    (POST, "/customers/1/orders/2/refund"),
    (POST, "/customers/1/requests/2/check"),
    (POST, "/customers/1/purchases/2/cancel"),
    (POST, "/customers/1/purchases/2/pause"),
    (POST, "/customers/1/purchases/2/resume"),
    (POST, "/customers/1/purchases/2/next-bill-date"),
    (GET, "/crm/products"),
    (GET, "/crm/products/1"),
    (POST, "/crm/products/1"),
    (GET, "/crm/campaigns"),
    (POST, "/crm/campaigns"),
    (GET, "/crm/campaigns/1"),
    (POST, "/crm/campaigns/1"),
    (POST, "/crm/campaigns/1/products"),
    (POST, "/crm/campaigns/1/products/2/move"),
    (POST, "/crm/campaigns/1/products/2/remove"),
    (POST, "/crm/campaigns/1/bundle-window"),
    (GET, "/crm/fulfillment-houses"),
    (POST, "/crm/fulfillment-houses"),
    (GET, "/crm/fulfillment-houses/1"),
    (POST, "/crm/fulfillment-houses/1"),
    (POST, "/crm/fulfillment-houses/1/assign-all"),
    (GET, "/fulfillment"),
    (POST, "/fulfillment/batch"),
    (GET, "/fulfillment/export.csv"),
    (POST, "/fulfillment/import"),
    (
        GET,
        "/fulfillment/import/rejected/0123456789abcdef0123456789abcdef",
    ),
    (POST, "/fulfillment/addresses"),
    (GET, "/fulfillment/addresses/waiting.csv"),
    (POST, "/fulfillment/1/ship-notice"),
    (GET, "/fulfillment/runs"),
    (POST, "/fulfillment/runs/now"),
    (GET, "/fulfillment/runs/1"),
    (POST, "/api/fulfillment/update"),
];

/// Paths and methods the table does not serve: they must reach the default service (or 405),
/// which proves the check above can tell a routed request from an unrouted one.
const NOT_ROUTED: &[(&str, &str)] = &[
    (GET, "/no/such/page"),
    (GET, "/crm/no-such-section"),
    (GET, "/customers/1/no-such-page"),
    (GET, "/admin/no-such-page"),
    (GET, "/fulfillment/runs/1/no-such-page"),
    (POST, "/healthz"),
    (GET, "/clickbank/"),
    (GET, "/api/fulfillment/update"),
];

/// Handlers run without the application state, so each stops at its first extractor with an
/// error of its own (never touching a database): anything but the default service's status
/// and 405 means the router found a handler.
async fn status_of(method: &str, path: &str) -> StatusCode {
    let app = test::init_service(
        App::new()
            .app_data(merchant_crm::web::path_config())
            .configure(merchant_crm::web::routes)
            .default_service(web::to(|| async { HttpResponse::build(UNROUTED).finish() })),
    )
    .await;
    let req = test::TestRequest::default()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(path)
        .to_request();
    test::call_service(&app, req).await.status()
}

#[actix_web::test]
async fn every_route_of_the_table_resolves_to_a_handler() {
    let mut missing = Vec::new();
    for (method, path) in ROUTES {
        let status = status_of(method, path).await;
        if status == UNROUTED || status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_FOUND {
            missing.push(format!("{method} {path} -> {status}"));
        }
    }
    assert!(
        missing.is_empty(),
        "routes that no longer resolve:\n{}",
        missing.join("\n")
    );
}

#[actix_web::test]
async fn requests_outside_the_table_reach_no_handler() {
    let mut routed = Vec::new();
    for (method, path) in NOT_ROUTED {
        let status = status_of(method, path).await;
        if status != UNROUTED && status != StatusCode::METHOD_NOT_ALLOWED {
            routed.push(format!("{method} {path} -> {status}"));
        }
    }
    assert!(
        routed.is_empty(),
        "requests that unexpectedly found a handler:\n{}",
        routed.join("\n")
    );
}
