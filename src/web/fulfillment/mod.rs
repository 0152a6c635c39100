//! Fulfillment pages (merchant staff and account executives: `Staff`): the item list with
//! filters, batch updates, CSV import and export, ship notices, the export runs, the houses
//! (CRM → Fulfillment houses), and the API route houses post their updates to.

pub mod api;
pub mod houses;
pub mod items;
pub mod runs;

use actix_web::web;

/// Largest JSON body of `POST /api/fulfillment/update`.
pub const API_BODY_LIMIT: usize = 4 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/fulfillment", web::get().to(items::list))
        .route("/fulfillment/batch", web::post().to(items::batch))
        .route("/fulfillment/export.csv", web::get().to(items::export_csv))
        .route("/fulfillment/import", web::post().to(items::import))
        .route(
            "/fulfillment/{id}/ship-notice",
            web::post().to(items::ship_notice),
        )
        .route("/fulfillment/runs", web::get().to(runs::list))
        .route("/fulfillment/runs/now", web::post().to(runs::export_now))
        .route("/fulfillment/runs/{id}", web::get().to(runs::show))
        .route(
            "/crm/campaigns/{id}/bundle-window",
            web::post().to(runs::bundle_window),
        )
        .route("/crm/fulfillment-houses", web::get().to(houses::list))
        .route("/crm/fulfillment-houses", web::post().to(houses::create))
        .route("/crm/fulfillment-houses/{id}", web::get().to(houses::show))
        .route("/crm/fulfillment-houses/{id}", web::post().to(houses::update))
        .route(
            "/crm/fulfillment-houses/{id}/assign-all",
            web::post().to(houses::assign_all),
        )
        .service(
            web::resource("/api/fulfillment/update")
                .app_data(web::PayloadConfig::new(API_BODY_LIMIT))
                .route(web::post().to(api::update)),
        );
}

/// Repeated form fields (`id=1&id=2`) as pairs; `web::Form` keeps only one of each.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}
