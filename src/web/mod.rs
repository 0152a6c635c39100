//! HTTP: the route table (one function), middleware, and handlers by section.

pub mod account;
pub mod account_sessions;
pub mod admin;
pub mod assets;
pub mod auth;
pub mod crm;
pub mod csrf;
pub mod customers;
pub mod dashboard;
pub mod extract;
pub mod fulfillment;
pub mod health;
pub mod notifications;
pub mod page;
pub mod session;
pub mod session_store;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::error::AppError;

/// Every route of the portal.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/static/{name}", web::get().to(assets::serve))
        .route("/setup", web::get().to(auth::setup_form))
        .route("/setup", web::post().to(auth::setup_submit))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login_submit))
        .route("/logout", web::post().to(auth::logout))
        .route("/", web::get().to(dashboard::show))
        .route("/account/password", web::get().to(account::password_form))
        .route("/account/password", web::post().to(account::password_submit))
        .route("/account/sessions", web::get().to(account_sessions::list))
        .route(
            "/account/sessions/{id}/end",
            web::post().to(account_sessions::end),
        )
        .route("/admin/users", web::get().to(admin::users::list))
        .route("/admin/users", web::post().to(admin::users::create))
        .route("/admin/users/{id}/role", web::post().to(admin::users::set_role))
        .route("/admin/users/{id}/disable", web::post().to(admin::users::disable))
        .route("/admin/users/{id}/enable", web::post().to(admin::users::enable))
        .route(
            "/admin/users/{id}/password",
            web::post().to(admin::users::reset_password),
        )
        .route("/admin/audit", web::get().to(admin::audit::list))
        .route("/clickbank/", web::post().to(notifications::receive))
        .route("/clickbank", web::post().to(notifications::receive))
        .route("/admin/plugins", web::get().to(admin::plugins::list))
        .route("/admin/plugins", web::post().to(admin::plugins::activate))
        .route("/admin/plugins/{id}", web::get().to(admin::plugins::show))
        .route("/admin/plugins/{id}", web::post().to(admin::plugins::update))
        .route(
            "/admin/plugins/{id}/deactivate",
            web::post().to(admin::plugins::deactivate),
        )
        .route(
            "/admin/plugins/{id}/activate",
            web::post().to(admin::plugins::reactivate),
        )
        .route(
            "/admin/plugins/{id}/initial-import",
            web::post().to(admin::imports::start_initial),
        )
        .route("/admin/import-tasks", web::get().to(admin::imports::list))
        .route("/admin/import-tasks/{id}", web::get().to(admin::imports::show))
        .route(
            "/admin/import-tasks/{id}/progress.json",
            web::get().to(admin::imports::progress),
        )
        .route(
            "/admin/import-tasks/{id}/{action}",
            web::post().to(admin::imports::control),
        )
        .route(
            "/admin/plugins/{id}/import-products",
            web::post().to(admin::plugins::import_products),
        )
        .route("/admin/notifications", web::get().to(admin::notifications::list))
        .route(
            "/admin/notifications/reprocess-failed",
            web::post().to(admin::notifications::reprocess_failed),
        )
        .route(
            "/admin/notifications/{id}",
            web::get().to(admin::notifications::show),
        )
        .route(
            "/admin/notifications/{id}/reprocess",
            web::post().to(admin::notifications::reprocess),
        )
        .route("/admin/api-users", web::get().to(admin::api_users::list))
        .route("/admin/api-users", web::post().to(admin::api_users::create))
        .route("/admin/api-users/{id}", web::post().to(admin::api_users::update))
        .route(
            "/admin/api-users/{id}/disable",
            web::post().to(admin::api_users::disable),
        )
        .route(
            "/admin/api-users/{id}/enable",
            web::post().to(admin::api_users::enable),
        )
        .route("/customer-service", web::get().to(customers::search::page))
        .route(
            "/customer-service/totals",
            web::get().to(customers::search::totals),
        )
        .route("/customers/{id}", web::get().to(customers::profile::show))
        .route(
            "/customers/{id}/notes",
            web::post().to(customers::profile::add_note),
        )
        .route(
            "/customers/{id}/orders/{order}/refund",
            web::get().to(customers::actions::refund_form),
        )
        .route(
            "/customers/{id}/orders/{order}/refund",
            web::post().to(customers::actions::refund),
        )
        .route(
            "/customers/{id}/requests/{request}/check",
            web::post().to(customers::actions::check_request),
        )
        .route(
            "/customers/{id}/purchases/{purchase}/cancel",
            web::post().to(customers::actions::cancel),
        )
        .route(
            "/customers/{id}/purchases/{purchase}/pause",
            web::post().to(customers::actions::pause),
        )
        .route(
            "/customers/{id}/purchases/{purchase}/resume",
            web::post().to(customers::actions::resume),
        )
        .route(
            "/customers/{id}/purchases/{purchase}/next-bill-date",
            web::post().to(customers::actions::next_bill_date),
        )
        .route("/crm/products", web::get().to(crm::products::list))
        .route("/crm/products/{id}", web::get().to(crm::products::show))
        .route("/crm/products/{id}", web::post().to(crm::products::update))
        .route("/crm/campaigns", web::get().to(crm::campaigns::list))
        .route("/crm/campaigns", web::post().to(crm::campaigns::create))
        .route("/crm/campaigns/{id}", web::get().to(crm::campaigns::show))
        .route("/crm/campaigns/{id}", web::post().to(crm::campaigns::rename))
        .route(
            "/crm/campaigns/{id}/products",
            web::post().to(crm::campaigns::add_product),
        )
        .route(
            "/crm/campaigns/{id}/products/{link}/move",
            web::post().to(crm::campaigns::move_product),
        )
        .route(
            "/crm/campaigns/{id}/products/{link}/remove",
            web::post().to(crm::campaigns::remove_product),
        );
    fulfillment::routes(cfg);
}

/// Renders a template as an HTML response.
pub fn render<T: Template>(t: &T) -> Result<HttpResponse, AppError> {
    render_status(t, StatusCode::OK)
}

pub fn render_status<T: Template>(t: &T, status: StatusCode) -> Result<HttpResponse, AppError> {
    let body = t.render()?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// 303 to `to` (after a POST).
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Form deserialisation errors become a clear 400 page instead of actix's plain text.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(csrf::FORM_LIMIT)
        .error_handler(|err, _| AppError::Validation(format!("The form could not be read: {err}")).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        AppError::Validation(format!("The address has a bad parameter: {err}")).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into())
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
