//! Admin → Plugins → Data Sources: activate ClickBank (keys checked against ClickBank
//! before anything is saved), edit, deactivate, the Instant Notification URL to paste into
//! ClickBank, and the plugin's latest notifications.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::db::models::{ApiUser, ImportTask, InboundNotification, Plugin, TaskState};
use crate::domain::accounts::api_users::{self, Permission};
use crate::domain::clickbank_budget;
use crate::domain::plugins::{self, PluginInput};
use crate::domain::sync::inbox::{self, InboxFilter};
use crate::domain::sync::{imports, sale_lookups};
use crate::error::AppError;
use crate::secrets::mask;
use crate::web::extract::{Admin, AdminForm};
use crate::web::page::PageCtx;
use crate::web::{redirect, render, render_status};
use crate::AppState;

#[derive(Deserialize, Default, Clone)]
pub struct PluginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    dev_key: String,
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    secret_key: String,
    include_test_transactions: Option<String>,
    send_order_confirmation_emails: Option<String>,
    unique_products: Option<String>,
    clickbank_ships: Option<String>,
}

impl PluginForm {
    fn input(&self) -> Result<PluginInput, AppError> {
        PluginInput::new(
            &self.name,
            &self.site,
            &self.dev_key,
            &self.api_key,
            &self.secret_key,
            self.include_test_transactions.is_some(),
            self.send_order_confirmation_emails.is_some(),
            self.unique_products.is_some(),
            self.clickbank_ships.is_some(),
        )
    }
}

#[derive(Template)]
#[template(path = "admin/plugins.html")]
struct PluginsPage {
    ctx: PageCtx,
    plugins: Vec<Plugin>,
    form: PluginForm,
    error: Option<String>,
}

pub async fn list(state: web::Data<AppState>, a: Admin) -> Result<HttpResponse, AppError> {
    let plugins = state.db.run(plugins::list).await?;
    let form = PluginForm {
        name: "ClickBank".into(),
        ..Default::default()
    };
    render(&PluginsPage {
        ctx: a.0.ctx,
        plugins,
        form,
        error: None,
    })
}

/// Activate: check the keys with ClickBank, then save. Nothing is saved when the check fails.
pub async fn activate(
    state: web::Data<AppState>,
    AdminForm(a, form): AdminForm<PluginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let result = async {
        let input = form.input()?;
        let api = plugins::client_for(&input.keys, &state.config.clickbank_api_base)?;
        plugins::connect_check(api.as_ref(), &input.site).await?;
        let (actor, secrets) = (a.actor(), state.secrets.clone());
        state
            .db
            .run(move |c| plugins::create(c, &actor, &secrets, &input, true))
            .await
    }
    .await;
    match result {
        Ok(p) => {
            a.flash("ok", format!("Connected to ClickBank and activated {}. Now paste the Instant Notification URL below into ClickBank.", p.name));
            Ok(redirect(&format!("/admin/plugins/{}", p.id)))
        }
        Err(e) if e.is_user_fixable() => {
            let plugins = state.db.run(plugins::list).await?;
            render_status(
                &PluginsPage {
                    ctx: a.0.ctx,
                    plugins,
                    form,
                    error: Some(e.to_string()),
                },
                StatusCode::BAD_REQUEST,
            )
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "admin/plugin.html")]
struct PluginPage {
    ctx: PageCtx,
    p: Plugin,
    masked_api: String,
    masked_dev: Option<String>,
    masked_secret: Option<String>,
    ins_users: Vec<ApiUser>,
    ins_url: Option<String>,
    chosen: String,
    recent: Vec<InboundNotification>,
    requests_today: i64,
    usage: clickbank_budget::Usage,
    lookups_waiting: sale_lookups::Waiting,
    /// The newest initial import (not cancelled): done, under way, or none yet.
    initial: Option<ImportTask>,
    error: Option<String>,
}

impl PluginPage {
    fn initial_done(&self) -> bool {
        self.initial.as_ref().is_some_and(|t| t.state == TaskState::Done)
    }

    fn initial_under_way(&self) -> bool {
        self.initial
            .as_ref()
            .is_some_and(|t| TaskState::UNDER_WAY.contains(&t.state))
    }
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    api_user: Option<String>,
}

async fn plugin_page(
    state: &AppState,
    a: Admin,
    id: i64,
    chosen: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (p, users, recent, (usage, lookups_waiting, initial)) = state
        .db
        .run(move |c| {
            let p = plugins::find(c, id)?;
            let users: Vec<ApiUser> = api_users::list(c)?
                .into_iter()
                .filter(|u| !u.disabled && u.has(Permission::ImportOrder))
                .collect();
            let (recent, _) = inbox::list(
                c,
                &InboxFilter {
                    plugin_id: Some(id),
                    limit: 10,
                    ..Default::default()
                },
            )?;
            let usage = clickbank_budget::today_usage(c, id)?;
            let waiting = sale_lookups::waiting(c, Some(id))?;
            let initial = imports::latest_initial(c, id)?;
            Ok((p, users, recent, (usage, waiting, initial)))
        })
        .await?;
    let keys = plugins::keys(&p, &state.secrets)?;
    let chosen = chosen
        .or_else(|| users.first().map(|u| u.login_id.clone()))
        .unwrap_or_default();
    let base = state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.config.bind));
    let ins_url = users.iter().find(|u| u.login_id == chosen).map(|u| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("loginId", &u.login_id)
            .finish();
        format!("{base}/clickbank/?{q}&password=YOUR_API_USER_PASSWORD")
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_status(
        &PluginPage {
            ctx: a.0.ctx,
            masked_api: mask(&keys.api_key),
            masked_dev: keys.dev_key.as_deref().map(mask),
            masked_secret: keys.secret_key.as_deref().map(mask),
            p,
            ins_users: users,
            ins_url,
            chosen,
            recent,
            requests_today: usage.total,
            usage,
            lookups_waiting,
            initial,
            error,
        },
        status,
    )
}

pub async fn show(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
    q: web::Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    plugin_page(&state, a, id.into_inner(), q.into_inner().api_user, None).await
}

/// Edit: empty key fields keep the stored keys; changed API/dev keys are checked first.
pub async fn update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    AdminForm(a, form): AdminForm<PluginForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let form = form.into_inner();
    let result = async {
        let current = state.db.run(move |c| plugins::find(c, id)).await?;
        let stored = plugins::keys(&current, &state.secrets)?;
        let pick = |typed: &str, kept: Option<String>| {
            if typed.trim().is_empty() {
                kept.unwrap_or_default()
            } else {
                typed.to_string()
            }
        };
        let merged = PluginForm {
            name: current.name.clone(),
            api_key: pick(&form.api_key, Some(stored.api_key.clone())),
            dev_key: pick(&form.dev_key, stored.dev_key.clone()),
            secret_key: pick(&form.secret_key, stored.secret_key.clone()),
            unique_products: current.unique_products.then(|| "on".into()),
            ..form.clone()
        };
        let input = merged.input()?;
        let api_changed = input.keys.api_key != stored.api_key
            || input.keys.dev_key != stored.dev_key
            || input.site != current.site;
        let keys_changed = api_changed || input.keys.secret_key != stored.secret_key;
        if api_changed {
            let api = plugins::client_for(&input.keys, &state.config.clickbank_api_base)?;
            plugins::connect_check(api.as_ref(), &input.site).await?;
        }
        let (actor, secrets) = (a.actor(), state.secrets.clone());
        state
            .db
            .run(move |c| plugins::update(c, &actor, &secrets, id, &input, keys_changed))
            .await
    }
    .await;
    match result {
        Ok(_) => {
            a.flash(
                "ok",
                "Plugin saved. Failed notifications can be reprocessed from Admin → Notifications.",
            );
            Ok(redirect(&format!("/admin/plugins/{id}")))
        }
        Err(e @ AppError::Validation(_)) => plugin_page(&state, a, id, None, Some(e.to_string())).await,
        Err(e) => Err(e),
    }
}

async fn set_active(state: &AppState, a: &Admin, id: i64, active: bool) -> Result<HttpResponse, AppError> {
    let actor = a.actor();
    state
        .db
        .run(move |c| plugins::set_active(c, &actor, id, active))
        .await?;
    a.flash(
        "ok",
        if active {
            "Plugin reactivated."
        } else {
            "Plugin deactivated: its notifications are refused until you reactivate it."
        },
    );
    Ok(redirect(&format!("/admin/plugins/{id}")))
}

pub async fn deactivate(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_active(&state, &a, id.into_inner(), false).await
}

pub async fn reactivate(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_active(&state, &a, id.into_inner(), true).await
}

#[derive(Deserialize)]
pub struct BudgetForm {
    #[serde(default)]
    lookup_budget: String,
}

/// Sets the plugin's daily budget of look-ups of sales not seen yet.
pub async fn set_lookup_budget(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    AdminForm(a, form): AdminForm<BudgetForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = a.actor();
    let result = match form.lookup_budget.trim().parse::<i64>() {
        Ok(n) => {
            state
                .db
                .run(move |c| plugins::set_lookup_budget(c, &actor, id, n))
                .await
        }
        Err(_) => Err(AppError::Validation(
            "The daily budget of look-ups is a whole number of requests.".into(),
        )),
    };
    a.flash_result(result, |_| "Daily budget of look-ups saved.".into())?;
    Ok(redirect(&format!("/admin/plugins/{id}#clickbank-budget")))
}

/// "Import products": queues a background product import and shows its progress.
pub async fn import_products(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = a.actor();
    let task = state
        .db
        .run(move |c| crate::domain::sync::imports::start_products(c, &actor, id))
        .await?;
    state.wake_jobs.notify_one();
    a.flash(
        "ok",
        "Product import started: it reads every product of this ClickBank account in the background.",
    );
    Ok(redirect(&format!("/admin/import-tasks/{}", task.id)))
}
