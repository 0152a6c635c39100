//! Account → Sessions: the signed-in user's live sessions, and ending the others.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::extract::Staff;
use super::page::PageCtx;
use super::{redirect, render, session};
use crate::domain::accounts::sessions::{self, SessionRow};
use crate::error::AppError;
use crate::AppState;

const PAGE: &str = "/account/sessions";

#[derive(Template)]
#[template(path = "account/sessions.html")]
struct SessionsPage {
    ctx: PageCtx,
    sessions: Vec<SessionRow>,
    current: String,
}

pub async fn list(state: web::Data<AppState>, s: Staff) -> Result<HttpResponse, AppError> {
    let (id, timeouts) = (s.user.id, state.config.session_timeouts());
    let rows = state
        .db
        .read(move |c| sessions::list_of(c, id, &timeouts, crate::domain::now()))
        .await?;
    render(&SessionsPage {
        current: session::handle(&s.session).unwrap_or_default(),
        ctx: s.0.ctx,
        sessions: rows,
    })
}

pub async fn end(state: web::Data<AppState>, s: Staff, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let (user, id) = (s.user.id, id.into_inner());
    let keep = session::handle(&s.session).unwrap_or_default();
    let ended = state
        .db
        .run(move |c| sessions::end_other(c, user, id, &keep))
        .await?;
    if ended {
        s.flash("ok", "That session was signed out.");
    } else {
        s.flash(
            "error",
            "No such other session of yours (it may have ended already).",
        );
    }
    Ok(redirect(PAGE))
}
