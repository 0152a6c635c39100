//! `POST /api/fulfillment/update`: houses post status, tracking, carrier, method, ship date
//! and RMA number. HTTP Basic auth with an API user that has `update_fulfillment`, from an
//! address on its allowlist (the same checks as the Instant Notification route).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;

use crate::domain::accounts::api_users::Permission;
use crate::domain::fulfillment::updates::{self, UpdateAnswer, UpdateBody, UpdateError};
use crate::error::AppError;
use crate::web::extract::client_ip;
use crate::AppState;

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (login, password) = text.split_once(':')?;
    Some((login.to_string(), password.to_string()))
}

pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let ip_text = client_ip(&req, state.config.trust_proxy);
    let ip = ip_text
        .parse()
        .map_err(|_| AppError::Forbidden(format!("cannot tell the caller's address ({ip_text})")))?;
    let (login, password) = basic_credentials(&req).ok_or_else(|| {
        AppError::ApiUnauthorized("send the API user's login and password with HTTP Basic auth".into())
    })?;
    let user = state
        .api_auth
        .authenticate(
            &state.db,
            &state.config.ip_ranges,
            &login,
            &password,
            ip,
            Permission::UpdateFulfillment,
        )
        .await?;
    // A house reads JSON back, also when its request is wrong.
    let refuse = |error: String| {
        HttpResponse::BadRequest().json(UpdateAnswer {
            applied: 0,
            errors: vec![UpdateError { index: 0, error }],
        })
    };
    let parsed: UpdateBody = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return Ok(refuse(format!(
                "the body must be JSON: {{\"updates\": [{{\"clientFulfillmentId\": 1, \"status\": \"SHIPPED\", ...}}]}} ({e})"
            )))
        }
    };
    let list = parsed.into_vec();
    let (who, house) = (user.login_id.clone(), user.house_id);
    let answer = match state.db.run(move |c| updates::apply(c, &who, house, &list)).await {
        Ok(a) => a,
        Err(e) if e.is_user_fixable() => return Ok(refuse(e.to_string())),
        Err(e) => return Err(e),
    };
    let status = if answer.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(HttpResponse::build(status).json(answer))
}
