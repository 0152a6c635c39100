//! What the portal keeps in a session (server-side, see `session_store`; the cookie holds
//! only its key): the signed-in user, the session's handle, the CSRF token and pending flash
//! messages.

use actix_session::Session;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

const USER_ID: &str = crate::domain::accounts::sessions::USER_KEY;
const HANDLE: &str = crate::domain::accounts::sessions::HANDLE_KEY;
const EPOCH: &str = "epoch";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";

/// A one-time message shown on the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// `ok`, `info` or `error` (a CSS class).
    pub kind: String,
    pub text: String,
    /// The id of what the message is about (`order-12`, `purchase-7`): the page shows it there
    /// too, where the person is looking, as well as at the top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl Flash {
    /// Whether the message is about the element `kind-id` (`order`, 12).
    pub fn is_at(&self, kind: &str, id: &i64) -> bool {
        self.at.as_deref() == Some(format!("{kind}-{id}").as_str())
    }
}

fn session_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("session error: {e}"))
}

pub fn user_id(session: &Session) -> Option<i64> {
    session.get::<i64>(USER_ID).ok().flatten()
}

/// The session epoch the session was signed in under.
pub fn epoch(session: &Session) -> Option<i32> {
    session.get::<i32>(EPOCH).ok().flatten()
}

/// Starts a signed-in session for `user` (fixation-proof: a new session with a new CSRF
/// token). The user's session epoch is kept so that a password change ends older sessions.
pub fn sign_in(session: &Session, user: &crate::db::models::User) -> Result<(), AppError> {
    let flashes = take_flashes(session);
    session.clear();
    session.insert(USER_ID, user.id).map_err(session_err)?;
    session.insert(EPOCH, user.session_epoch).map_err(session_err)?;
    session.insert(HANDLE, new_token()).map_err(session_err)?;
    session.insert(CSRF, new_token()).map_err(session_err)?;
    if !flashes.is_empty() {
        session.insert(FLASH, flashes).map_err(session_err)?;
    }
    session.renew();
    Ok(())
}

/// The random name of this session among its user's sessions (the Account page).
pub fn handle(session: &Session) -> Option<String> {
    session.get::<String>(HANDLE).ok().flatten()
}

pub fn sign_out(session: &Session) {
    session.purge();
}

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session.get::<String>(CSRF).ok().flatten() {
        return Ok(t);
    }
    let t = new_token();
    session.insert(CSRF, &t).map_err(session_err)?;
    Ok(t)
}

/// The token if the session has one (never creates).
pub fn existing_csrf_token(session: &Session) -> Option<String> {
    session.get::<String>(CSRF).ok().flatten()
}

fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn flash(session: &Session, kind: &str, text: impl Into<String>) {
    flash_at(session, kind, text, None)
}

/// [`flash`] about the element with id `at`.
pub fn flash_at(session: &Session, kind: &str, text: impl Into<String>, at: Option<&str>) {
    let mut all = session
        .get::<Vec<Flash>>(FLASH)
        .ok()
        .flatten()
        .unwrap_or_default();
    all.push(Flash {
        kind: kind.into(),
        text: text.into(),
        at: at.map(str::to_string),
    });
    // A session that cannot take the message only loses the message.
    let _ = session.insert(FLASH, all);
}

pub fn take_flashes(session: &Session) -> Vec<Flash> {
    session
        .remove_as::<Vec<Flash>>(FLASH)
        .and_then(Result::ok)
        .unwrap_or_default()
}
