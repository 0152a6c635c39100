//! Customer → Fulfillment: the list with filters and keyset pages, batch updates (with a
//! confirmation page that shows the count), the CSV export of the list, the CSV import, and
//! ship notices to ClickBank.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use super::{field, form_pairs};
use crate::domain::customer_service::shipping_address::from_csv::ADDRESS_HEADER;
use crate::domain::fulfillment::batch::{self, Action, Preview};
use crate::domain::fulfillment::csv_import::{
    self, ImportReport, LineError, RETURNS_HEADER, TRACKING_HEADER,
};
use crate::domain::fulfillment::list::{self, Choices, Filter, ItemPage, ItemRow};
use crate::domain::fulfillment::{address, rejected_lines, Status, MAX_CSV_BYTES};
use crate::error::AppError;
use crate::web::extract::Staff;
use crate::web::page::PageCtx;
use crate::web::{redirect, render, render_status};
use crate::AppState;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    house: String,
    #[serde(default)]
    campaign: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    receipt: String,
    before: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> Result<Filter, AppError> {
        Filter::parse(
            &self.status,
            &self.house,
            &self.campaign,
            &self.product,
            &self.from,
            &self.to,
            &self.receipt,
        )
    }
}

/// The filter from form pairs prefixed `f_` (the batch form repeats the list's filter).
fn filter_from_pairs(p: &[(String, String)]) -> Result<Filter, AppError> {
    Filter::parse(
        field(p, "f_status"),
        field(p, "f_house"),
        field(p, "f_campaign"),
        field(p, "f_product"),
        field(p, "f_from"),
        field(p, "f_to"),
        field(p, "f_receipt"),
    )
}

#[derive(Template)]
#[template(path = "fulfillment/items.html")]
struct ItemsPage {
    ctx: PageCtx,
    filter: Filter,
    page: ItemPage,
    choices: Choices,
    statuses: Vec<&'static str>,
    next: Option<String>,
    first: Option<String>,
    export_link: String,
    tracking_header: &'static str,
    returns_header: &'static str,
    max_mb: usize,
    /// Items that wait for a shipping address.
    needs_address: i64,
    /// Statuses the batch form may set.
    settable: Vec<&'static str>,
    /// The columns of a file of addresses.
    address_header: &'static str,
}

impl ItemsPage {
    /// The list shows only the items waiting for an address (the banner need not link to them).
    fn showing_needs_address(&self) -> bool {
        self.filter.status == Some(crate::domain::fulfillment::Status::NeedsAddress)
    }
    fn is_status(&self, s: &str) -> bool {
        self.filter.status.is_some_and(|f| f.as_str() == s)
    }
    fn is_house(&self, id: &i64) -> bool {
        self.filter.house_id == Some(*id)
    }
    fn is_campaign(&self, id: &i64) -> bool {
        self.filter.campaign_id == Some(*id)
    }
    fn is_product(&self, id: &i64) -> bool {
        self.filter.product_id == Some(*id)
    }
    fn date_from_text(&self) -> String {
        self.filter.from.map(|d| d.to_string()).unwrap_or_default()
    }
    fn to_text(&self) -> String {
        self.filter.to.map(|d| d.to_string()).unwrap_or_default()
    }
    fn receipt_text(&self) -> String {
        self.filter.receipt.clone().unwrap_or_default()
    }
    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        self.filter.pairs()
    }
    fn text<'a>(&self, v: &'a Option<String>) -> &'a str {
        ItemRow::text(v)
    }
    fn ship_date(&self, r: &ItemRow) -> String {
        r.ship_date.map(|d| d.to_string()).unwrap_or_default()
    }
}

fn link(filter: &Filter, before: Option<i64>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in filter.pairs() {
        s.append_pair(k, &v);
    }
    if let Some(b) = before {
        s.append_pair("before", &b.to_string());
    }
    let q = s.finish();
    if q.is_empty() {
        "/fulfillment".into()
    } else {
        format!("/fulfillment?{q}")
    }
}

pub async fn list(
    state: web::Data<AppState>,
    s: Staff,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = q.filter()?.in_zone(state.config.time_zone);
    let before = q.before.as_deref().and_then(|b| b.trim().parse::<i64>().ok());
    let f = filter.clone();
    let (page, choices, needs_address) = state
        .db
        .read(move |c| {
            Ok((
                list::page(c, &f, before)?,
                list::choices(c)?,
                address::waiting_count(c)?,
            ))
        })
        .await?;
    let next = page.next_before.map(|b| link(&filter, Some(b)));
    let first = before.map(|_| link(&filter, None));
    let export_link = format!("/fulfillment/export.csv?{}", filter.query_string());
    render(&ItemsPage {
        ctx: s.0.ctx,
        statuses: Status::ALL.iter().map(|s| s.as_str()).collect(),
        settable: Status::settable(),
        filter,
        page,
        choices,
        next,
        first,
        export_link,
        tracking_header: TRACKING_HEADER,
        returns_header: RETURNS_HEADER,
        max_mb: MAX_CSV_BYTES / 1024 / 1024,
        needs_address,
        address_header: ADDRESS_HEADER,
    })
}

#[derive(Template)]
#[template(path = "fulfillment/confirm.html")]
struct ConfirmPage {
    ctx: PageCtx,
    preview: Preview,
    /// Every field to send again with `confirm=yes`.
    hidden: Vec<(String, String)>,
    scope_text: String,
    back: String,
}

/// Batch update: the first POST shows the count and asks to confirm; the second (with
/// `confirm=yes` and the count the user saw) applies, all or nothing.
pub async fn batch(state: web::Data<AppState>, s: Staff, body: web::Bytes) -> Result<HttpResponse, AppError> {
    let pairs = form_pairs(&body);
    let filter = filter_from_pairs(&pairs)?.in_zone(state.config.time_zone);
    let back = link(&filter, None);
    let action = match Action::parse(
        field(&pairs, "action"),
        field(&pairs, "house_id"),
        field(&pairs, "status"),
    ) {
        Ok(a) => a,
        Err(AppError::Validation(m)) => {
            s.flash("error", m);
            return Ok(redirect(&back));
        }
        Err(e) => return Err(e),
    };
    let by_filter = field(&pairs, "scope") == "filter";
    let selected: Vec<i64> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect();
    if !by_filter && selected.is_empty() {
        s.flash(
            "error",
            "Select items first, or choose \"everything matching the filter\".",
        );
        return Ok(redirect(&back));
    }
    let scope_text = if by_filter {
        if filter.is_empty() {
            "every item (no filter)".to_string()
        } else {
            format!("every item matching the filter {}", filter.query_string())
        }
    } else {
        format!("{} selected item(s)", selected.len())
    };
    let f = filter.clone();
    let ids = if by_filter {
        state.db.read(move |c| list::matching_ids(c, &f)).await?
    } else {
        selected
    };
    if field(&pairs, "confirm") == "yes" {
        // The list may have changed since the count was shown: apply only what was confirmed.
        let seen: usize = field(&pairs, "count").parse().unwrap_or(usize::MAX);
        if seen != ids.len() {
            s.flash(
                "error",
                format!(
                    "Nothing was changed: {} items match now, not the {seen} you confirmed. Check and confirm again.",
                    ids.len()
                ),
            );
            return Ok(redirect(&back));
        }
        let actor = s.actor();
        let scope = scope_text.clone();
        let result = state
            .db
            .run(move |c| batch::apply(c, &actor, &ids, action, &scope))
            .await;
        s.flash_result(result, |n| format!("Updated {n} item(s)."))?;
        return Ok(redirect(&back));
    }
    let i = ids.clone();
    let preview = state.db.read(move |c| batch::preview(c, &i, action)).await?;
    let mut hidden: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| k != "csrf_token" && k != "confirm" && k != "count")
        .collect();
    hidden.push(("count".into(), preview.count.to_string()));
    hidden.push(("confirm".into(), "yes".into()));
    render(&ConfirmPage {
        ctx: s.0.ctx,
        preview,
        hidden,
        scope_text,
        back,
    })
}

pub async fn export_csv(
    state: web::Data<AppState>,
    _s: Staff,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = q.filter()?.in_zone(state.config.time_zone);
    let body = state
        .db
        .read(move |c| list::to_csv(&list::all(c, &filter)?))
        .await?;
    let name = format!("fulfillment-{}.csv", crate::domain::now().format("%Y%m%d-%H%M"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body))
}

#[derive(Template)]
#[template(path = "fulfillment/import_result.html")]
pub(super) struct ImportResultPage {
    ctx: PageCtx,
    /// The first [`rejected_lines::SHOWN`] bad lines.
    errors: Vec<LineError>,
    /// Every bad line, and how many the page leaves out.
    total: usize,
    more: usize,
    /// The whole list as CSV, when the page leaves some out.
    download: Option<String>,
    file_name: String,
}

impl ImportResultPage {
    pub(super) fn new(
        ctx: PageCtx,
        data_dir: &std::path::Path,
        mut errors: Vec<LineError>,
        file_name: String,
    ) -> Self {
        let total = errors.len();
        let more = total.saturating_sub(rejected_lines::SHOWN);
        let download = if more > 0 {
            match rejected_lines::save(data_dir, &errors) {
                Ok(token) => Some(format!("/fulfillment/import/rejected/{token}")),
                Err(e) => {
                    tracing::error!(error = %e, "could not keep the full list of bad lines");
                    None
                }
            }
        } else {
            None
        };
        errors.truncate(rejected_lines::SHOWN);
        ImportResultPage {
            ctx,
            errors,
            total,
            more,
            download,
            file_name,
        }
    }
}

/// The full list of a refused upload's bad lines, as CSV.
pub async fn rejected_csv(
    state: web::Data<AppState>,
    _s: Staff,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let path = rejected_lines::find(&state.config.data_dir, &token).ok_or(AppError::NotFound)?;
    let body = web::block(move || std::fs::read(path))
        .await
        .map_err(|e| AppError::Internal(format!("reading a list of bad lines: {e}")))?
        .map_err(|e| AppError::Internal(format!("reading a list of bad lines: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"bad-lines.csv\"",
        ))
        .body(body))
}

/// Reads the uploaded file (the first file field), at most [`MAX_CSV_BYTES`].
pub(super) async fn read_upload(mut mp: Multipart) -> Result<(String, Vec<u8>), AppError> {
    while let Some(field) = mp.next().await {
        let mut field =
            field.map_err(|e| AppError::Validation(format!("The upload could not be read: {e}")))?;
        let name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_string));
        let Some(name) = name else {
            // Drain non-file fields.
            while let Some(chunk) = field.next().await {
                chunk.map_err(|e| AppError::Validation(format!("The upload could not be read: {e}")))?;
            }
            continue;
        };
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| AppError::Validation(format!("The upload could not be read: {e}")))?;
            if data.len() + chunk.len() > MAX_CSV_BYTES {
                return Err(AppError::PayloadTooLarge(format!(
                    "The file is larger than {} MB. Split it into smaller files and upload them one by one.",
                    MAX_CSV_BYTES / 1024 / 1024
                )));
            }
            data.extend_from_slice(&chunk);
        }
        if name.trim().is_empty() && data.is_empty() {
            return Err(AppError::Validation("Choose a CSV file to upload.".into()));
        }
        return Ok((name, data));
    }
    Err(AppError::Validation("Choose a CSV file to upload.".into()))
}

/// CSV import (multipart; the CSRF token travels in the form's query string).
pub async fn import(state: web::Data<AppState>, s: Staff, mp: Multipart) -> Result<HttpResponse, AppError> {
    let (file_name, data) = read_upload(mp).await?;
    let actor = s.actor();
    // One file is parsed and checked at a time: a file's rows take many times its size while
    // they are checked, so two large uploads at once would add up.
    let turn = csv_import::one_file_at_a_time().await;
    // Parsed off the async workers and before the SQLite writer turn; only the check against
    // the database and the writes take the turn.
    let parsed = web::block(move || csv_import::parse_file(&data))
        .await
        .map_err(|e| AppError::Internal(format!("parsing an upload: {e}")))?;
    let outcome = match parsed {
        Ok(file) => state.db.run(move |c| csv_import::apply(c, &actor, file)).await?,
        Err(rejected) => Err(rejected),
    };
    drop(turn);
    match outcome {
        Ok(r) if r.to_cancel.is_empty() => {
            s.flash("ok", report_text(&r));
            Ok(redirect("/fulfillment"))
        }
        Ok(r) => {
            // Applied and committed: now ask ClickBank to cancel each running subscription of a
            // CANCELLED item (a cancel ticket; the purchase turns CANCELLED with ClickBank's
            // CANCEL-REBILL, and the customer's profile says "Cancellation requested" until then).
            let ctx = state.service_context();
            let actor = s.actor();
            let mut cancels = Vec::with_capacity(r.to_cancel.len());
            for (purchase, receipt) in &r.to_cancel {
                let outcome = match crate::domain::customer_service::actions::request_cancel(
                    &ctx,
                    &actor,
                    *purchase,
                    CANCEL_REASON,
                )
                .await
                {
                    Ok(req) => match (&req.ticket_id, &req.error) {
                        (Some(t), _) => CancelOutcome {
                            ok: true,
                            text: format!("cancellation requested from ClickBank (ticket {t})"),
                        },
                        (None, Some(e)) => CancelOutcome {
                            ok: false,
                            text: format!("ClickBank refused: {e}"),
                        },
                        (None, None) => CancelOutcome {
                            ok: false,
                            text: format!("cancellation request {}", req.status),
                        },
                    },
                    Err(e) => CancelOutcome {
                        ok: false,
                        text: e.to_string(),
                    },
                };
                cancels.push((*purchase, receipt.clone(), outcome));
            }
            render(&ImportDonePage {
                ctx: s.0.ctx,
                summary: report_text(&r),
                cancels,
            })
        }
        Err(rejected) => render_status(
            &ImportResultPage::new(s.0.ctx, &state.config.data_dir, rejected.errors, file_name),
            StatusCode::BAD_REQUEST,
        ),
    }
}

/// The reason given to ClickBank when a returns file cancels an item of a subscription.
const CANCEL_REASON: &str = "ticket.type.cancel.1";

struct CancelOutcome {
    ok: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "fulfillment/import_done.html")]
struct ImportDonePage {
    ctx: PageCtx,
    summary: String,
    /// (purchase, receipt, what ClickBank said).
    cancels: Vec<(i64, String, CancelOutcome)>,
}

fn report_text(r: &ImportReport) -> String {
    let mut t = format!(
        "Imported the {} file: {} row(s), {} item(s) updated.",
        r.kind.label(),
        r.rows,
        r.items
    );
    if r.skipped > 0 {
        t.push_str(&format!(
            " {} row(s) without a tracking number were left alone.",
            r.skipped
        ));
    }
    t
}

pub async fn ship_notice(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let result = crate::domain::fulfillment::updates::send_ship_notice(
        &state.job_context(),
        &s.actor(),
        id.into_inner(),
    )
    .await;
    let back = match &result {
        Ok(receipt) => format!(
            "/fulfillment?receipt={}",
            url::form_urlencoded::byte_serialize(receipt.as_bytes()).collect::<String>()
        ),
        Err(_) => "/fulfillment".to_string(),
    };
    s.flash_result(result, |r| {
        format!("Ship notice for order {r} sent to ClickBank.")
    })?;
    Ok(redirect(&back))
}
