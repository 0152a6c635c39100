//! The user menu: change one's own password.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::extract::Staff;
use super::page::PageCtx;
use super::{redirect, render, render_status, session};
use crate::domain::{accounts::passwords, accounts::users};
use crate::error::AppError;
use crate::AppState;

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    ctx: PageCtx,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

pub async fn password_form(s: Staff) -> Result<HttpResponse, AppError> {
    render(&PasswordPage {
        ctx: s.0.ctx,
        error: None,
    })
}

pub async fn password_submit(
    state: web::Data<AppState>,
    s: Staff,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let result = async {
        if !passwords::verify_async(form.current_password, s.user.password_hash.clone()).await? {
            return Err(AppError::Validation("Your current password is not right.".into()));
        }
        if form.new_password != form.new_password_confirm {
            return Err(AppError::Validation("The two new passwords differ.".into()));
        }
        let hash = passwords::hash_async(form.new_password).await?;
        let (actor, id) = (s.actor(), s.user.id);
        state
            .db
            .run(move |conn| users::set_password_hash(conn, &actor, id, &hash))
            .await
    }
    .await;
    match result {
        Ok(()) => {
            // The change ended every session of this user; this one carries on under the new epoch.
            let id = s.user.id;
            let user = state.db.read(move |c| users::find(c, id)).await?;
            session::sign_in(&s.session, &user)?;
            s.flash(
                "ok",
                "Your password has been changed; other sessions of yours were signed out.",
            );
            Ok(redirect("/"))
        }
        Err(e @ AppError::Validation(_)) => render_status(
            &PasswordPage {
                ctx: s.0.ctx,
                error: Some(e.to_string()),
            },
            StatusCode::BAD_REQUEST,
        ),
        Err(e) => Err(e),
    }
}

/// Under `/account`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/password", web::get().to(password_form))
        .route("/password", web::post().to(password_submit))
        .route("/sessions", web::get().to(super::account_sessions::list))
        .route("/sessions/{id}/end", web::post().to(super::account_sessions::end));
}
