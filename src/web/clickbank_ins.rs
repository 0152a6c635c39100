//! `POST /clickbank/?loginId=..&password=..`: ClickBank's Instant Notification URL.
//! Authenticates the API user (401), checks permission and IP allowlist (403), limits the
//! body (413), stores the raw body, then decrypts and applies it. Answers 200 once the body
//! is stored, whatever processing finds (a failure is kept for reprocessing).

use std::sync::atomic::Ordering;

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;

use super::extract::client_ip;
use crate::domain::accounts::api_users::Permission;
use crate::domain::sync::inbox;
use crate::error::AppError;
use crate::AppState;

#[derive(Deserialize)]
pub struct InsQuery {
    #[serde(rename = "loginId")]
    login_id: Option<String>,
    password: Option<String>,
}

pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<InsQuery>,
    mut payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let ip_text = client_ip(&req, state.config.trust_proxy);
    let ip = ip_text
        .parse()
        .map_err(|_| AppError::Forbidden(format!("cannot tell the caller's address ({ip_text})")))?;
    let user = state
        .api_auth
        .authenticate(
            &state.db,
            &state.config.ip_ranges,
            q.login_id.as_deref().unwrap_or(""),
            q.password.as_deref().unwrap_or(""),
            ip,
            Permission::ImportOrder,
        )
        .await?;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::Validation(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > inbox::MAX_BODY {
            return Err(AppError::PayloadTooLarge(format!(
                "An Instant Notification is at most {} KiB.",
                inbox::MAX_BODY / 1024
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let id = {
        // Counted while storing, also when ClickBank hangs up mid-way (the guard drops).
        let _storing = Storing::new(&state.ins_storing);
        state
            .db
            .run(move |c| inbox::store(c, &ip_text, Some(user.id), &text))
            .await?
    };
    // Stored: from here on ClickBank gets 200; the inbox worker applies it and the inbox
    // keeps the outcome (a failure waits there for reprocessing).
    tracing::debug!(notification = id, "INS stored");
    state.wake_inbox.notify_one();
    Ok(HttpResponse::Ok().content_type("text/plain").body("OK"))
}

/// Counts one in-flight store for as long as it lives.
struct Storing(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Storing {
    fn new(counter: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Storing(counter.clone())
    }
}

impl Drop for Storing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
