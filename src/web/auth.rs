//! First-run setup, sign in, sign out.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;
use serde::Deserialize;

use super::extract::Visitor;
use super::page::PageCtx;
use super::{redirect, render, render_status, session};
use crate::domain::{accounts::auth, accounts::passwords, accounts::users};
use crate::error::AppError;
use crate::AppState;

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    ctx: PageCtx,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SetupForm {
    email: String,
    password: String,
    password_confirm: String,
}

async fn setup_open(state: &AppState) -> Result<bool, AppError> {
    state.db.run(users::setup_open).await
}

pub async fn setup_form(state: web::Data<AppState>, v: Visitor) -> Result<HttpResponse, AppError> {
    if !setup_open(&state).await? {
        return Err(AppError::NotFound);
    }
    render(&SetupPage {
        ctx: v.ctx,
        email: String::new(),
        error: None,
    })
}

pub async fn setup_submit(
    state: web::Data<AppState>,
    v: Visitor,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, AppError> {
    if !setup_open(&state).await? {
        return Err(AppError::NotFound);
    }
    let form = form.into_inner();
    let result = async {
        users::normalize_email(&form.email)?;
        if form.password != form.password_confirm {
            return Err(AppError::Validation("The two passwords differ.".into()));
        }
        let hash = passwords::hash_async(form.password).await?;
        let (email, ip) = (form.email.clone(), v.ip.clone());
        state
            .db
            .run(move |conn| users::complete_setup(conn, Some(ip), &email, &hash))
            .await
    }
    .await;
    match result {
        Ok(user) => {
            session::sign_in(&v.session, &user)?;
            session::flash(
                &v.session,
                "ok",
                "Welcome! Your account executive login is ready.",
            );
            Ok(redirect("/"))
        }
        Err(e @ AppError::Validation(_)) => render_status(
            &SetupPage {
                ctx: v.ctx,
                email: form.email,
                error: Some(e.to_string()),
            },
            StatusCode::BAD_REQUEST,
        ),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    ctx: PageCtx,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

pub async fn login_form(state: web::Data<AppState>, v: Visitor) -> Result<HttpResponse, AppError> {
    if session::user_id(&v.session).is_some() {
        return Ok(redirect("/"));
    }
    if setup_open(&state).await? {
        return Ok(redirect("/setup"));
    }
    render(&LoginPage {
        ctx: v.ctx,
        email: String::new(),
        error: None,
    })
}

pub async fn login_submit(
    state: web::Data<AppState>,
    v: Visitor,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    match auth::login(&state.db, &form.email, form.password, v.ip.clone()).await {
        Ok(user) => {
            session::sign_in(&v.session, &user)?;
            Ok(redirect("/"))
        }
        Err(e @ (AppError::Validation(_) | AppError::Forbidden(_) | AppError::TooManyRequests { .. })) => {
            let status = if matches!(e, AppError::Validation(_)) {
                StatusCode::UNAUTHORIZED
            } else {
                e.status_code()
            };
            let mut resp = render_status(
                &LoginPage {
                    ctx: v.ctx,
                    email: form.email,
                    error: Some(e.to_string()),
                },
                status,
            )?;
            if let AppError::TooManyRequests { retry_after_secs, .. } = e {
                if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                    resp.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
                }
            }
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}

pub async fn logout(v: Visitor) -> HttpResponse {
    session::sign_out(&v.session);
    redirect("/login")
}
