//! Signing in: throttling (the attempt reserved before argon2), password check, disabled
//! accounts, audit.

use serde_json::json;

use crate::db::models::User;
use crate::db::Database;
use crate::domain::{accounts::passwords, accounts::throttle, accounts::users, audit, Actor};
use crate::error::AppError;

pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";

/// Checks the credentials of a person signing in from `ip`. Runs argon2 on the blocking
/// pool and the database work through `db.run`.
pub async fn login(db: &Database, email: &str, password: String, ip: String) -> Result<User, AppError> {
    let email = email.trim().to_lowercase();
    let (e, i) = (email.clone(), ip.clone());
    let (reservation, user) = db
        .run(move |conn| {
            let reservation = throttle::reserve(conn, &e, &i, crate::domain::now())?;
            Ok((reservation, users::find_by_email(conn, &e)?))
        })
        .await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| passwords::dummy_hash().to_string());
    let ok = match passwords::verify_async(password, hash).await {
        Ok(ok) => ok,
        Err(e) => {
            // Never checked (argon2 was busy): the attempt does not count.
            db.run(move |conn| throttle::release(conn, reservation)).await?;
            return Err(e);
        }
    };
    let actor = Actor {
        user_id: user.as_ref().map(|u| u.id),
        label: email.clone(),
        ip: Some(ip.clone()),
    };
    db.run(move |conn| match user {
        Some(user) if ok && !user.disabled => {
            throttle::release(conn, reservation)?;
            throttle::clear_account(conn, &user.email)?;
            diesel::update(crate::db::schema::users::table.find(user.id))
                .set(crate::db::schema::users::last_login_at.eq(crate::domain::now()))
                .execute(conn)?;
            audit::record(conn, &actor, "login", &user.email, json!({}))?;
            Ok(user)
        }
        Some(user) if ok => {
            // Answered exactly like a wrong password, so the answer never confirms a guessed
            // password of a disabled account; the audit log tells staff why.
            audit::record(conn, &actor, "login.disabled", &user.email, json!({}))?;
            Err(AppError::Validation(WRONG_CREDENTIALS.into()))
        }
        _ => {
            // The reservation stays: it is this failure's record.
            audit::record(conn, &actor, "login.failed", &email, json!({}))?;
            Err(AppError::Validation(WRONG_CREDENTIALS.into()))
        }
    })
    .await
}

use diesel::prelude::*;
