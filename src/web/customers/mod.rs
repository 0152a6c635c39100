//! Customer Service: the search (`/customer-service`), the customer profile
//! (`/customers/{id}`) and the actions staff take there.

pub mod actions;
pub mod profile;
pub mod search;

use actix_web::web;
use chrono::NaiveDate;

pub(crate) use crate::domain::day_start_utc;

/// Under `/customer-service`.
pub fn search_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(search::page))
        .route("/totals", web::get().to(search::totals));
}

/// Under `/customers`.
pub fn profile_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/{id}", web::get().to(profile::show))
        .route("/{id}/notes", web::post().to(profile::add_note))
        .route(
            "/{id}/shipping-address",
            web::post().to(profile::save_shipping_address),
        )
        .route(
            "/{id}/shipping-address/clickbank",
            web::post().to(profile::send_shipping_address),
        )
        .route("/{id}/orders/{order}/refund", web::get().to(actions::refund_form))
        .route("/{id}/orders/{order}/refund", web::post().to(actions::refund))
        .route(
            "/{id}/requests/{request}/check",
            web::post().to(actions::check_request),
        )
        .route(
            "/{id}/purchases/{purchase}/cancel",
            web::post().to(actions::cancel),
        )
        .route("/{id}/purchases/{purchase}/pause", web::post().to(actions::pause))
        .route(
            "/{id}/purchases/{purchase}/resume",
            web::post().to(actions::resume),
        )
        .route(
            "/{id}/purchases/{purchase}/next-bill-date",
            web::post().to(actions::next_bill_date),
        );
}

/// A date field (`yyyy-mm-dd`); empty is none, anything else unreadable is an error.
pub(crate) fn parse_day(field: &str, text: &str) -> Result<Option<NaiveDate>, crate::error::AppError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map(Some).map_err(|_| {
        crate::error::AppError::Validation(format!("{field}: `{t}` is not a date (yyyy-mm-dd)."))
    })
}
