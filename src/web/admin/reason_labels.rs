//! Admin → Reason labels: the words the refund and cancellation forms show for ClickBank's
//! ticket reason codes. Only the codes our ClickBank reference documents have words of their
//! own; an account executive gives the others the label their ClickBank portal shows (audited).

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::domain::customer_service::reason_labels::{self, ReasonChoice, ReasonKind};
use crate::error::AppError;
use crate::web::extract::{Admin, AdminForm};
use crate::web::page::PageCtx;
use crate::web::{redirect, render};
use crate::AppState;

const PAGE: &str = "/admin/reason-labels";

#[derive(Template)]
#[template(path = "admin/reason_labels.html")]
struct LabelsPage {
    ctx: PageCtx,
    kinds: Vec<(ReasonKind, Vec<ReasonChoice>)>,
    max_chars: usize,
}

pub async fn list(state: web::Data<AppState>, a: Admin) -> Result<HttpResponse, AppError> {
    let kinds = state
        .db
        .read(|c| {
            ReasonKind::ALL
                .iter()
                .map(|&k| Ok((k, reason_labels::choices(c, k)?)))
                .collect::<Result<Vec<_>, AppError>>()
        })
        .await?;
    render(&LabelsPage {
        ctx: a.0.ctx,
        kinds,
        max_chars: reason_labels::MAX_LABEL_CHARS,
    })
}

#[derive(Deserialize)]
pub struct LabelForm {
    kind: ReasonKind,
    code: String,
    #[serde(default)]
    label: String,
}

pub async fn save(
    state: web::Data<AppState>,
    AdminForm(a, form): AdminForm<LabelForm>,
) -> Result<HttpResponse, AppError> {
    let LabelForm { kind, code, label } = form.into_inner();
    let actor = a.actor();
    let c2 = code.clone();
    let result = state
        .db
        .run(move |c| reason_labels::set(c, &actor, kind, &c2, &label))
        .await;
    match result {
        Ok(now) => a.flash("ok", format!("{code} now shows as \u{201c}{now}\u{201d}.")),
        Err(e) => a.flash_error(e)?,
    }
    Ok(redirect(PAGE))
}
