//! Admin → Users → API users: machine logins with IP allowlists and permissions.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::db::models::ApiUser;
use crate::domain::accounts::api_users::{self, ApiUserInput, Permission, PERMISSIONS};
use crate::domain::accounts::ip_allow::KEYWORDS;
use crate::domain::accounts::passwords;
use crate::error::AppError;
use crate::web::extract::Admin;
use crate::web::page::PageCtx;
use crate::web::{redirect, render};
use crate::AppState;
use diesel::Connection;

const PAGE: &str = "/admin/api-users";

#[derive(Template)]
#[template(path = "admin/api_users.html")]
struct ApiUsersPage {
    ctx: PageCtx,
    users: Vec<ApiUser>,
    permissions: &'static [Permission],
    keywords: String,
    loaded: Vec<(String, usize)>,
    /// Real fulfillment houses an API user can be tied to: (id, name).
    houses: Vec<(i64, String)>,
}

impl ApiUsersPage {
    fn is_house(&self, u: &ApiUser, id: &i64) -> bool {
        u.house_id == Some(*id)
    }
}

/// The `house_id` field: empty is "not tied to a house".
fn house_of(f: &[(String, String)]) -> Result<Option<i64>, AppError> {
    match field(f, "house_id").trim() {
        "" => Ok(None),
        h => h
            .parse()
            .map(Some)
            .map_err(|_| AppError::Validation("Choose a fulfillment house from the list.".into())),
    }
}

pub async fn list(state: web::Data<AppState>, a: Admin) -> Result<HttpResponse, AppError> {
    let (users, houses) = state
        .db
        .run(|c| {
            // The houses an API user may post updates for: every real one (never the dummy).
            let houses: Vec<(i64, String)> = crate::domain::fulfillment::houses::list(c)?
                .into_iter()
                .filter(|h| !h.is_dummy())
                .map(|h| (h.id, h.name))
                .collect();
            Ok((api_users::list(c)?, houses))
        })
        .await?;
    render(&ApiUsersPage {
        houses,
        ctx: a.0.ctx,
        users,
        permissions: PERMISSIONS,
        keywords: KEYWORDS.join(", "),
        loaded: state.config.ip_ranges.loaded(),
    })
}

/// A form with repeated `permission` checkboxes, read from the raw body (serde_urlencoded
/// cannot collect repeated keys into a Vec).
fn form_values(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn permissions_of(f: &[(String, String)]) -> Result<Vec<Permission>, AppError> {
    api_users::parse_permissions(
        f.iter()
            .filter(|(k, _)| k == "permission")
            .map(|(_, v)| v.as_str()),
    )
}

async fn outcome(
    state: &AppState,
    a: &Admin,
    ok: &str,
    r: Result<(), AppError>,
) -> Result<HttpResponse, AppError> {
    // The public routes' allowlist union follows every change at once in this process.
    state.api_auth.changed(&state.db).await?;
    a.flash_result(r, |()| ok.to_string())?;
    Ok(redirect(PAGE))
}

pub async fn create(
    state: web::Data<AppState>,
    a: Admin,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let f = form_values(&body);
    let login = field(&f, "login_id").trim().to_string();
    let r = async {
        let input = ApiUserInput::new(&login, field(&f, "allow_ips"), permissions_of(&f)?)?;
        let house = house_of(&f)?;
        let hash = passwords::hash_async(field(&f, "password").to_string()).await?;
        let actor = a.actor();
        state
            .db
            .run(move |c| {
                c.transaction(|c| {
                    let u = api_users::create(c, &actor, &input, &hash)?;
                    api_users::set_house(c, &actor, u.id, house)
                })
            })
            .await
    }
    .await;
    outcome(&state, &a, &format!("API user {login} created."), r).await
}

pub async fn update(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let f = form_values(&body);
    let r = async {
        let perms = permissions_of(&f)?;
        let allow = field(&f, "allow_ips").to_string();
        let hash = match field(&f, "password") {
            "" => None,
            p => Some(passwords::hash_async(p.to_string()).await?),
        };
        let house = house_of(&f)?;
        let (actor, id) = (a.actor(), id.into_inner());
        state
            .db
            .run(move |c| {
                c.transaction(|c| {
                    api_users::update(c, &actor, id, &allow, &perms, hash.as_deref())?;
                    api_users::set_house(c, &actor, id, house)
                })
            })
            .await
    }
    .await;
    outcome(&state, &a, "API user saved.", r).await
}

async fn set_disabled(
    state: &AppState,
    a: &Admin,
    id: i64,
    disabled: bool,
) -> Result<HttpResponse, AppError> {
    let actor = a.actor();
    let r = state
        .db
        .run(move |c| api_users::set_disabled(c, &actor, id, disabled))
        .await;
    outcome(
        state,
        a,
        if disabled {
            "API user disabled."
        } else {
            "API user enabled."
        },
        r,
    )
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
