//! How an `AppError` answers over HTTP (its status and what it says), and the error page every
//! error response of the portal becomes: `pages` (a middleware inside the session) renders
//! templates/errors/error.html with the signed-in user's page context, the menu and a way back.
//! The machines' routes (`/clickbank` for ClickBank, `/api/` for houses) get the message as plain
//! text instead. Internal details go to the log, never to the page.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use super::page::{PageCtx, NAV};
use crate::error::AppError;

/// The page every error renders (a template, never a bare string).
#[derive(Template)]
#[template(path = "errors/error.html")]
pub struct ErrorPage<'a> {
    pub ctx: PageCtx,
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
    pub back: Back,
}

/// The way back from an error page: where the person came from when that is a page of ours,
/// else the page of the section they were in, else the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Back {
    pub href: String,
    pub label: String,
}

/// What an error response says, kept on the response so that `pages` can render it again
/// with the person's page context (or as plain text for machines).
#[derive(Debug, Clone)]
struct Said {
    title: &'static str,
    message: String,
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

    /// The page without a session (what a response outside `pages` shows); `pages` renders
    /// it again for the person who asked.
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
        let said = Said {
            title: self.title(),
            message: self.public_message(),
        };
        let mut resp = HttpResponse::build(status);
        if let AppError::TooManyRequests { retry_after_secs, .. } | AppError::Busy { retry_after_secs, .. } =
            self
        {
            resp.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        let back = Back {
            href: "/".into(),
            label: "Back to the dashboard".into(),
        };
        let body = page_body(PageCtx::anonymous(), status, &said, back);
        let mut resp = resp.content_type("text/html; charset=utf-8").body(body);
        resp.extensions_mut().insert(said);
        resp
    }
}

fn page_body(ctx: PageCtx, status: StatusCode, said: &Said, back: Back) -> String {
    let page = ErrorPage {
        ctx,
        status: status.as_u16(),
        title: said.title,
        message: &said.message,
        back,
    };
    page.render().unwrap_or_else(|_| said.message.clone())
}

/// ClickBank's Instant Notification URL and the houses' API: machines, answered in plain text.
fn for_machines(path: &str) -> bool {
    path == "/clickbank" || path.starts_with("/clickbank/") || path.starts_with("/api/")
}

/// What an error that is not an `AppError` says (actix's own: a route without that method, a
/// multipart or JSON body that cannot be read), by its status.
fn said_of(status: StatusCode, error: Option<&actix_web::Error>) -> Said {
    let detail = error.map(|e| e.to_string()).filter(|d| !d.trim().is_empty());
    let (title, message) = match status {
        StatusCode::NOT_FOUND => ("Page not found", "page not found".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Not available this way",
            "This address does not take that kind of request: open it from the portal's menu or pages."
                .to_string(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("Upload too large", "What was sent is too large.".to_string()),
        StatusCode::FORBIDDEN => ("Not allowed", "This is not allowed.".to_string()),
        s if s.is_server_error() => (
            "Something went wrong",
            "The portal hit an internal error. It has been logged; please try again.".to_string(),
        ),
        _ => (
            "Please check the form",
            match detail {
                Some(d) => format!("What was sent could not be read: {d}"),
                None => "What was sent could not be read. Go back and try again.".to_string(),
            },
        ),
    };
    Said { title, message }
}

/// The way back from `req`'s error: the Referer when it is a page of this portal (another page
/// than the one that failed), else the section's page, else the dashboard.
pub fn back_from(req: &HttpRequest) -> Back {
    let host = req.connection_info().host().to_string();
    let referer = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| same_origin_path(r, &host));
    let here = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if let Some(path) = referer.filter(|p| p != here) {
        return Back {
            href: path,
            label: "Back to the previous page".into(),
        };
    }
    let ctx = PageCtx {
        path: req.path().to_string(),
        ..PageCtx::anonymous()
    };
    match NAV.iter().find(|n| n.href != "/" && n.ready && ctx.is_current(n)) {
        Some(n) => Back {
            href: n.href.to_string(),
            label: format!("Back to {}", n.label),
        },
        None => Back {
            href: "/".into(),
            label: "Back to the dashboard".into(),
        },
    }
}

/// The path and query of `referer` when it is an address of `host` (http or https), else None.
fn same_origin_path(referer: &str, host: &str) -> Option<String> {
    let url = url::Url::parse(referer).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str()?),
        None => url.host_str()?.to_string(),
    };
    if !authority.eq_ignore_ascii_case(host) {
        return None;
    }
    Some(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    })
}

/// Every error response of the portal as the error page for the person who asked (their menu
/// and a way back), or as plain text on the machines' routes. Pages a handler rendered itself
/// with an error status (a form shown again with its message) are left as they are.
pub async fn pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    // Handlers and the middleware inside this one answer errors as responses; an `Err` here
    // (none of ours) goes up as it is, since the request is gone with it.
    let res = next.call(req).await?.map_into_left_body();
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res);
    }
    let noted = res.response().extensions().get::<Said>().cloned();
    let machine = for_machines(res.request().path());
    let handler_page = noted.is_none()
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            // A page or a JSON answer the handler wrote itself (/healthz's 503, a poll's error).
            .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/json"));
    if handler_page || (machine && noted.is_none()) {
        return Ok(res);
    }
    let said = noted.unwrap_or_else(|| said_of(status, res.response().error()));
    if machine {
        return Ok(with_body(res, "text/plain; charset=utf-8", said.message));
    }
    let ctx = super::extract::page_ctx(res.request()).await;
    let body = page_body(ctx, status, &said, back_from(res.request()));
    Ok(with_body(res, "text/html; charset=utf-8", body))
}

fn with_body<B: MessageBody>(
    res: ServiceResponse<EitherBody<B, BoxBody>>,
    content_type: &'static str,
    body: String,
) -> ServiceResponse<EitherBody<B, BoxBody>> {
    res.map_body(|head, _| {
        head.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        head.headers_mut().remove(header::CONTENT_LENGTH);
        EitherBody::right(BoxBody::new(body))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_way_back_is_our_own_referer_else_the_section() {
        let ours = TestRequest::post()
            .uri("/fulfillment/import")
            .insert_header((header::HOST, "crm.example:8080"))
            .insert_header((header::REFERER, "http://crm.example:8080/fulfillment?status=HOLD"))
            .to_http_request();
        assert_eq!(back_from(&ours).href, "/fulfillment?status=HOLD");
        let elsewhere = TestRequest::post()
            .uri("/fulfillment/import")
            .insert_header((header::HOST, "crm.example:8080"))
            .insert_header((header::REFERER, "http://evil.example/fulfillment"))
            .to_http_request();
        assert_eq!(back_from(&elsewhere).href, "/fulfillment");
        let nowhere = TestRequest::get().uri("/nothing-here").to_http_request();
        assert_eq!(back_from(&nowhere).href, "/");
        let profile = TestRequest::get().uri("/customers/999999").to_http_request();
        assert_eq!(back_from(&profile).href, "/customer-service");
    }

    #[test]
    fn machines_are_answered_plainly() {
        assert!(
            for_machines("/clickbank/")
                && for_machines("/clickbank")
                && for_machines("/api/fulfillment/update")
        );
        assert!(
            !for_machines("/clickbanker") && !for_machines("/apis") && !for_machines("/admin/notifications")
        );
    }
}
