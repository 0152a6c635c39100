//! How an `AppError` answers over HTTP: its status, and the error page every error renders
//! (internal details go to the log, never to the page).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::page::PageCtx;
use crate::error::AppError;

/// The page every error renders (a template, never a bare string).
#[derive(Template)]
#[template(path = "errors/error.html")]
pub struct ErrorPage<'a> {
    pub ctx: PageCtx,
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
}

impl AppError {
    fn title(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "Please check the form",
            AppError::Conflict(_) => "Already exists",
            AppError::NotFound => "Page not found",
            AppError::Unauthenticated | AppError::ApiUnauthorized(_) => "Please sign in",
            AppError::Forbidden(_) => "Not allowed",
            AppError::Csrf(_) => "Request rejected",
            AppError::TooManyRequests { .. } => "Too many attempts",
            AppError::PayloadTooLarge(_) => "Upload too large",
            AppError::Unavailable(_) | AppError::Busy { .. } => "Service unavailable",
            AppError::Config(_) | AppError::Internal(_) => "Something went wrong",
        }
    }

    /// What the user is shown: internal details stay in the log.
    fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) | AppError::Config(_) => {
                "The portal hit an internal error. It has been logged; please try again.".into()
            }
            AppError::Unavailable(_) => {
                "The database is not reachable right now; please try again shortly.".into()
            }
            other => other.to_string(),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthenticated => StatusCode::SEE_OTHER,
            AppError::ApiUnauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::Csrf(_) => StatusCode::FORBIDDEN,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) | AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Config(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AppError::Unauthenticated = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish();
        }
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let message = self.public_message();
        let page = ErrorPage {
            ctx: PageCtx::anonymous(),
            status: status.as_u16(),
            title: self.title(),
            message: &message,
        };
        let body = page.render().unwrap_or_else(|_| message.clone());
        let mut resp = HttpResponse::build(status);
        resp.content_type("text/html; charset=utf-8");
        if let AppError::TooManyRequests { retry_after_secs, .. } | AppError::Busy { retry_after_secs, .. } =
            self
        {
            resp.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        resp.body(body)
    }
}
