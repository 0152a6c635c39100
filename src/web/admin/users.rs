//! Admin → Users: list, create, change role, disable/enable, reset password.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::db::models::User;
use crate::domain::accounts::passwords;
use crate::domain::accounts::users::{self, Role};
use crate::error::AppError;
use crate::web::extract::{Admin, AdminForm};
use crate::web::page::PageCtx;
use crate::web::{redirect, render};
use crate::AppState;

const PAGE: &str = "/admin/users";

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: PageCtx,
    users: Vec<User>,
}

pub async fn list(state: web::Data<AppState>, a: Admin) -> Result<HttpResponse, AppError> {
    let users = state.db.run(users::list).await?;
    render(&UsersPage { ctx: a.0.ctx, users })
}

#[derive(Deserialize)]
pub struct CreateForm {
    email: String,
    role: String,
    password: String,
}

/// Runs an admin action; a validation or conflict error comes back to the users page as a
/// flash message, anything else is an error page.
async fn act<F>(a: &Admin, ok: &str, f: F) -> Result<HttpResponse, AppError>
where
    F: std::future::Future<Output = Result<(), AppError>>,
{
    a.flash_result(f.await, |()| ok.to_string())?;
    Ok(redirect(PAGE))
}

pub async fn create(
    state: web::Data<AppState>,
    AdminForm(a, form): AdminForm<CreateForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let msg = format!("User {} created.", form.email.trim().to_lowercase());
    act(&a, &msg, async {
        let role = Role::parse(&form.role)?;
        let email = users::normalize_email(&form.email)?;
        let hash = passwords::hash_async(form.password).await?;
        let actor = a.actor();
        state
            .db
            .run(move |conn| users::create(conn, &actor, &email, &hash, role).map(|_| ()))
            .await
    })
    .await
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

pub async fn set_role(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    AdminForm(a, form): AdminForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    act(&a, "Role changed.", async {
        let role = Role::parse(&form.role)?;
        let (actor, id) = (a.actor(), id.into_inner());
        state
            .db
            .run(move |conn| users::set_role(conn, &actor, id, role).map(|_| ()))
            .await
    })
    .await
}

async fn set_disabled(
    state: &AppState,
    a: &Admin,
    id: i64,
    disabled: bool,
) -> Result<HttpResponse, AppError> {
    let msg = if disabled {
        "User disabled: they are signed out and cannot sign in."
    } else {
        "User enabled."
    };
    act(a, msg, async {
        let actor = a.actor();
        state
            .db
            .run(move |conn| users::set_disabled(conn, &actor, id, disabled).map(|_| ()))
            .await
    })
    .await
}

pub async fn disable(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_disabled(&state, &a, id.into_inner(), true).await
}

pub async fn enable(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_disabled(&state, &a, id.into_inner(), false).await
}

#[derive(Deserialize)]
pub struct ResetForm {
    password: String,
}

pub async fn reset_password(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    AdminForm(a, form): AdminForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    act(
        &a,
        "Password reset. Tell the user their new password through a safe channel.",
        async {
            let hash = passwords::hash_async(form.into_inner().password).await?;
            let (actor, id) = (a.actor(), id.into_inner());
            state
                .db
                .run(move |conn| users::set_password_hash(conn, &actor, id, &hash))
                .await
        },
    )
    .await
}
