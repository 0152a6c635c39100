//! HTTP: the route table (root routes and one scope per section, joined in `routes`), shared
//! responses, and handlers by section.

pub mod account;
pub mod account_sessions;
pub mod admin;
pub mod assets;
pub mod auth;
pub mod clickbank_ins;
pub mod crm;
pub mod csrf;
pub mod customers;
pub mod dashboard;
pub mod error_page;
pub mod extract;
pub mod fulfillment;
pub mod health;
pub mod page;
pub mod proxy_signs;
pub mod session;
pub mod session_store;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::error::AppError;

/// Every route of the portal: the few at the root, then one scope per URL prefix, each filled by
/// the section that owns it. A prefix appears here once: two scopes with the same prefix would
/// shadow each other (the first one matching a path answers for it, 404 included).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/static/{name}", web::get().to(assets::serve))
        .route("/", web::get().to(dashboard::show))
        .route("/setup", web::get().to(auth::setup_form))
        .route("/setup", web::post().to(auth::setup_submit))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login_submit))
        .route("/logout", web::post().to(auth::logout))
        // ClickBank's Instant Notification URL, as merchants pasted it: with and without the slash.
        .route("/clickbank/", web::post().to(clickbank_ins::receive))
        .route("/clickbank", web::post().to(clickbank_ins::receive))
        .service(web::scope("/account").configure(account::routes))
        .service(web::scope("/admin").configure(admin::routes))
        .service(web::scope("/customer-service").configure(customers::search_routes))
        .service(web::scope("/customers").configure(customers::profile_routes))
        .service(web::scope("/crm").configure(crm::routes))
        .service(web::scope("/fulfillment").configure(fulfillment::routes))
        .service(web::scope("/api").configure(fulfillment::api_routes));
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
/// A choice from a form or a query (`T` is one of the CRM's status types): empty means none,
/// text that is not one of `T`'s spellings is a clear error naming `what` was asked for.
pub fn choice<T: crate::db::text::StoredText>(text: &str, what: &str) -> Result<Option<T>, AppError> {
    match text.trim() {
        "" => Ok(None),
        s => T::from_stored(s)
            .map(Some)
            .map_err(|_| AppError::Validation(format!("`{s}` is not a {what}."))),
    }
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Form deserialisation errors become a clear 400 page instead of actix's plain text.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(csrf::FORM_LIMIT)
        .error_handler(|err, _| form_error(&err).into())
}

/// What a user is told about a form that could not be read: the field at fault in plain
/// words, never serde's own wording.
fn form_error(err: &actix_web::error::UrlencodedError) -> AppError {
    use actix_web::error::UrlencodedError;
    match err {
        UrlencodedError::Overflow { limit, .. } => {
            AppError::PayloadTooLarge(format!("The form is larger than {} KiB.", limit / 1024))
        }
        UrlencodedError::Parse(e) => {
            let text = e.to_string();
            let field = text
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .map(|f| f.replace('_', " "));
            AppError::Validation(match field {
                Some(f) => {
                    format!("The form is missing its \"{f}\" field. Reload the page and send it again.")
                }
                None => "A field of the form has a value this page does not accept. \
                         Check the form and send it again."
                    .into(),
            })
        }
        _ => AppError::Validation("The form could not be read. Reload the page and send it again.".into()),
    }
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
