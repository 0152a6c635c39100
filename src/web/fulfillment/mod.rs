//! Fulfillment pages (merchant staff and account executives: `Staff`): the item list with
//! filters, batch updates, CSV import and export, files of shipping addresses, ship notices,
//! the export runs, and the API route houses post their updates to. The houses themselves
//! are CRM pages (`web::crm::houses`).

pub mod addresses;
pub mod api;
pub mod items;
pub mod runs;

use actix_web::web;

/// Largest JSON body of `POST /api/fulfillment/update`.
pub const API_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Under `/fulfillment`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(items::list))
        .route("/batch", web::post().to(items::batch))
        .route("/export.csv", web::get().to(items::export_csv))
        .route("/import", web::post().to(items::import))
        .route("/import/rejected/{token}", web::get().to(items::rejected_csv))
        .route("/addresses", web::post().to(addresses::upload))
        .route("/addresses/waiting.csv", web::get().to(addresses::waiting_csv))
        .route("/{id}/ship-notice", web::post().to(items::ship_notice))
        .route("/runs", web::get().to(runs::list))
        .route("/runs/now", web::post().to(runs::export_now))
        .route("/runs/{id}", web::get().to(runs::show));
}

/// Under `/api`: the route houses post their updates to.
pub fn api_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/fulfillment/update")
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
