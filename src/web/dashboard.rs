use actix_web::{web, HttpResponse};
use askama::Template;

use super::extract::Staff;
use super::page::PageCtx;
use super::render;
use crate::db::models::AuditEntry;
use crate::domain::accounts::users;
use crate::domain::audit::{self, AuditFilter};
use crate::domain::clickbank_budget::clickbank_today;
use crate::domain::sync::reconcile::{self, DayRow, NIGHTLY_DAYS};
use crate::domain::sync::sale_lookups;
use crate::error::AppError;
use crate::AppState;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    ctx: PageCtx,
    role_label: &'static str,
    last_login: String,
    user_count: i64,
    recent: Vec<AuditEntry>,
    waiting: sale_lookups::Waiting,
    /// Days of the last nightly window where the CRM differs from ClickBank (account
    /// executives only), with the plugin's name.
    red_days: Vec<(DayRow, String)>,
}

impl DashboardPage {
    fn nightly_days(&self) -> i64 {
        NIGHTLY_DAYS
    }
}

/// The landing page after sign-in: who you are and the latest activity (all of it for
/// account executives, one's own for merchant staff).
pub async fn show(state: web::Data<AppState>, s: Staff) -> Result<HttpResponse, AppError> {
    let is_admin = s.ctx.is_admin();
    let email = s.user.email.clone();
    let (user_count, mut recent, waiting, red_days) = state
        .db
        .run(move |conn| {
            let filter = AuditFilter {
                actor: (!is_admin).then_some(email),
                ..Default::default()
            };
            Ok((
                users::count(conn)?,
                audit::list(conn, &filter)?.0,
                sale_lookups::waiting(conn, None)?,
                if is_admin {
                    reconcile::red_days(conn, clickbank_today() - chrono::Duration::days(NIGHTLY_DAYS))?
                } else {
                    Vec::new()
                },
            ))
        })
        .await?;
    recent.truncate(10);
    render(&DashboardPage {
        role_label: s.user.role().label(),
        last_login: s.ctx.time_opt(&s.user.last_login_at),
        user_count,
        recent,
        waiting,
        red_days,
        ctx: s.0.ctx,
    })
}
