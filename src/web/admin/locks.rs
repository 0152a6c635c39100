//! Admin → Sign-in locks: the accounts and network addresses that cannot sign in right now
//! (too many failed passwords), each with the time it lifts by itself and a button that lifts
//! it now (audited). Warns when requests look proxied while the proxy is not trusted (then
//! every client shares one address and one lock).

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::domain::accounts::throttle::{self, Lock, LockOn};
use crate::domain::{audit, now};
use crate::error::AppError;
use crate::web::extract::{Admin, AdminForm};
use crate::web::page::PageCtx;
use crate::web::{redirect, render};
use crate::AppState;

const PAGE: &str = "/admin/locks";

#[derive(Template)]
#[template(path = "admin/locks.html")]
struct LocksPage {
    ctx: PageCtx,
    locks: Vec<Lock>,
    max_failures: i64,
    window_minutes: i64,
    proxy_suspected: bool,
}

pub async fn list(state: web::Data<AppState>, a: Admin) -> Result<HttpResponse, AppError> {
    let locks = state.db.read(|c| throttle::locks(c, now())).await?;
    render(&LocksPage {
        ctx: a.0.ctx,
        locks,
        max_failures: throttle::MAX_FAILURES,
        window_minutes: throttle::WINDOW_MINUTES,
        proxy_suspected: state.proxy_signs.suspected(),
    })
}

#[derive(Deserialize)]
pub struct ClearForm {
    on: LockOn,
    key: String,
}

pub async fn clear(
    state: web::Data<AppState>,
    AdminForm(a, form): AdminForm<ClearForm>,
) -> Result<HttpResponse, AppError> {
    let ClearForm { on, key } = form.into_inner();
    let actor = a.actor();
    let k = key.clone();
    let cleared = state
        .db
        .run(move |c| {
            c.transaction(|c| {
                let n = throttle::clear(c, on, &k)?;
                audit::record(
                    c,
                    &actor,
                    "throttle.cleared",
                    &k,
                    json!({ "on": on.as_str(), "failures": n }),
                )?;
                Ok::<_, AppError>(n)
            })
        })
        .await?;
    a.flash(
        "ok",
        format!(
            "{} {key} can sign in again ({cleared} failed attempts forgotten).",
            on.label()
        ),
    );
    Ok(redirect(PAGE))
}

use diesel::Connection;
