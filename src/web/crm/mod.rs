//! CRM: products (the ClickBank catalog with the merchant's settings), campaigns and the
//! fulfillment houses products ship from. Merchant staff and account executives alike (`Staff`;
//! houses are changed by account executives only).

pub mod campaigns;
pub mod houses;
pub mod products;

use actix_web::web;

/// Under `/crm`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/products", web::get().to(products::list))
        .route("/products/{id}", web::get().to(products::show))
        .route("/products/{id}", web::post().to(products::update))
        .route("/campaigns", web::get().to(campaigns::list))
        .route("/campaigns", web::post().to(campaigns::create))
        .route("/campaigns/{id}", web::get().to(campaigns::show))
        .route("/campaigns/{id}", web::post().to(campaigns::rename))
        .route("/campaigns/{id}/products", web::post().to(campaigns::add_product))
        .route(
            "/campaigns/{id}/products/{link}/move",
            web::post().to(campaigns::move_product),
        )
        .route(
            "/campaigns/{id}/products/{link}/remove",
            web::post().to(campaigns::remove_product),
        )
        // The campaign's bundle window is a fulfillment export setting, kept with the export runs.
        .route(
            "/campaigns/{id}/bundle-window",
            web::post().to(super::fulfillment::runs::bundle_window),
        )
        .route("/fulfillment-houses", web::get().to(houses::list))
        .route("/fulfillment-houses", web::post().to(houses::create))
        .route("/fulfillment-houses/{id}", web::get().to(houses::show))
        .route("/fulfillment-houses/{id}", web::post().to(houses::update))
        .route(
            "/fulfillment-houses/{id}/assign-all",
            web::post().to(houses::assign_all),
        );
}
