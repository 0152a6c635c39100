//! CSRF protection for every state-changing browser request. First the Fetch-Metadata
//! check (a browser that says the request is cross-site is refused outright), then the
//! per-session token, taken from the `X-CSRF-Token` header, the `csrf_token` form field
//! (url-encoded bodies) or, for multipart uploads only, the `csrf_token` query parameter (a
//! token in a URL can leak through logs and history, so nothing else may use it). A refusal
//! is answered as a response, not an error, so the security headers wrapped outside this
//! middleware are on it too.
//! Machine routes authenticated by API users (`/clickbank/`, `/api/`) carry no cookie and
//! are exempt.

use actix_session::SessionExt;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;

use super::session;
use crate::error::AppError;

/// Largest url-encoded form the portal accepts.
pub const FORM_LIMIT: usize = 256 * 1024;

const EXEMPT_PREFIXES: &[&str] = &["/clickbank/", "/api/"];
const EXEMPT_PATHS: &[&str] = &["/clickbank"];

pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let exempt =
        EXEMPT_PATHS.contains(&req.path()) || EXEMPT_PREFIXES.iter().any(|p| req.path().starts_with(p));
    if unsafe_method && !exempt {
        if let Err(refused) = check(&mut req).await {
            let answer = actix_web::ResponseError::error_response(&refused);
            return Ok(req.into_response(answer).map_into_right_body());
        }
    }
    next.call(req).await.map(|r| r.map_into_left_body())
}

async fn check(req: &mut ServiceRequest) -> Result<(), AppError> {
    if let Some(site) = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(AppError::Csrf(
                "This form was sent from another site, so it was refused. Reload the page and try again."
                    .into(),
            ));
        }
    }
    let expected = session::existing_csrf_token(&req.get_session());
    let supplied = match header_token(req) {
        Some(t) => Some(t),
        None if is_multipart(req) => query_token(req),
        None => body_token(req).await?,
    };
    match (expected, supplied) {
        (Some(e), Some(s)) if constant_time_eq(e.as_bytes(), s.as_bytes()) => Ok(()),
        (_, None) => Err(AppError::Csrf(
            "The form's security token is missing. Reload the page and send it again.".into(),
        )),
        _ => Err(AppError::Csrf(
            "The form's security token is wrong or has expired (for example after signing in \
             elsewhere). Reload the page and send it again."
                .into(),
        )),
    }
}

fn header_token(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn content_type_is(req: &ServiceRequest, prefix: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(prefix))
}

fn is_multipart(req: &ServiceRequest) -> bool {
    content_type_is(req, "multipart/form-data")
}

/// The token of a multipart upload, which browsers cannot read before sending the file.
fn query_token(req: &ServiceRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.into_owned())
}

/// Reads an url-encoded body (within the form limit), finds `csrf_token`, and puts the
/// body back for the handler.
async fn body_token(req: &mut ServiceRequest) -> Result<Option<String>, AppError> {
    if !content_type_is(req, "application/x-www-form-urlencoded") {
        return Ok(None);
    }
    let mut payload = req.take_payload();
    let mut body = actix_web::web::BytesMut::new();
    use futures_util::StreamExt;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::Validation(format!("could not read the form: {e}")))?;
        if body.len() + chunk.len() > FORM_LIMIT {
            return Err(AppError::PayloadTooLarge(format!(
                "The form is larger than {} KiB.",
                FORM_LIMIT / 1024
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let body: Bytes = body.freeze();
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.into_owned());
    req.set_payload(actix_web::dev::Payload::from(body));
    Ok(token)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
