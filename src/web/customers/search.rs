//! `/customer-service`: find anyone by email, name, phone, receipt, affiliate, statuses and
//! dates, in one campaign or all; orders or abandoned carts; keyset pages; totals per currency.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{day_start_utc, parse_day};
use crate::clickbank::format_minor;
use crate::db::models::{OrderShown, PurchaseShown};
use crate::domain::customer_service::search::{
    self as cs, CurrencyTotals, Cursor, Direction, OrderHit, Page, PartialHit, SearchFilter, Show,
    ORDER_STATUSES, PURCHASE_STATUSES,
};
use crate::error::AppError;
use crate::web::extract::Staff;
use crate::web::page::PageCtx;
use crate::web::{choice, render};
use crate::AppState;

/// The search form as it travels in the URL.
#[derive(Deserialize, Default, Clone)]
pub struct SearchQuery {
    #[serde(default)]
    campaign: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    receipt: String,
    #[serde(default)]
    affiliate: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    purchase: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    show: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    before: String,
    /// `csv`: the abandoned carts of the filter as a file.
    #[serde(default)]
    format: String,
}

impl SearchQuery {
    /// The query string of the filter (no cursor), for links.
    fn filter_query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("campaign", &self.campaign),
            ("email", &self.email),
            ("name", &self.name),
            ("phone", &self.phone),
            ("receipt", &self.receipt),
            ("affiliate", &self.affiliate),
            ("status", &self.status),
            ("purchase", &self.purchase),
            ("from", &self.from),
            ("to", &self.to),
            ("show", &self.show),
            ("sort", &self.sort),
        ] {
            if !v.trim().is_empty() {
                s.append_pair(k, v.trim());
            }
        }
        s.finish()
    }

    fn link(&self, path: &str, extra: Option<(&str, String)>) -> String {
        let mut q = self.filter_query();
        if let Some((k, v)) = extra {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(
                &url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(k, &v)
                    .finish(),
            );
        }
        if q.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{q}")
        }
    }

    fn filter(&self, tz: chrono_tz::Tz) -> Result<SearchFilter, AppError> {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let campaign_id = match self.campaign.trim() {
            "" => None,
            c => Some(
                c.parse::<i64>()
                    .map_err(|_| AppError::Validation("Choose a campaign from the list.".into()))?,
            ),
        };
        if let Some(p) = opt(&self.phone) {
            crate::domain::phone::search_prefix(&p)?;
        }
        let from = parse_day("From", &self.from)?;
        let to = parse_day("To", &self.to)?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(AppError::Validation(
                    "The date range ends before it starts.".into(),
                ));
            }
        }
        Ok(SearchFilter {
            campaign_id,
            email: opt(&self.email),
            name: opt(&self.name),
            phone: opt(&self.phone),
            receipt: opt(&self.receipt),
            affiliate: opt(&self.affiliate),
            order_status: choice(&self.status, "order status")?,
            purchase_status: choice(&self.purchase, "subscription status")?,
            from: from.map(|d| day_start_utc(tz, d)),
            until: to.map(|d| day_start_utc(tz, d + chrono::Duration::days(1))),
            show: if self.show == "partials" {
                Show::Partials
            } else {
                Show::Orders
            },
            oldest_first: self.sort == "oldest",
        })
    }

    fn cursor(&self) -> (Option<Cursor>, Direction) {
        match (Cursor::decode(&self.before), Cursor::decode(&self.after)) {
            (Some(c), _) => (Some(c), Direction::Before),
            (None, Some(c)) => (Some(c), Direction::After),
            _ => (None, Direction::After),
        }
    }
}

/// What the results area shows.
pub enum Results {
    Orders(Page<OrderHit>),
    Partials(Page<PartialHit>),
    /// The filter could not be read (the message is shown above the form).
    None,
}

#[derive(Template)]
#[template(path = "customers/search.html")]
struct SearchPage {
    ctx: PageCtx,
    q: SearchQuery,
    campaigns: Vec<(i64, String)>,
    order_statuses: &'static [OrderShown],
    purchase_statuses: &'static [PurchaseShown],
    results: Results,
    error: Option<String>,
    prev: Option<String>,
    next: Option<String>,
    totals_url: String,
    totals_json_url: String,
    first_page: bool,
    /// The abandoned carts of this filter as CSV.
    csv_url: String,
}

impl SearchPage {
    fn is_campaign(&self, id: &i64) -> bool {
        self.q.campaign.trim() == id.to_string()
    }
    fn item_not_sent(&self) -> &'static str {
        cs::ITEM_NOT_SENT
    }
}

/// The abandoned carts of the filter (every page) as a CSV download.
async fn carts_csv(state: &AppState, q: &SearchQuery, tz: chrono_tz::Tz) -> Result<HttpResponse, AppError> {
    let f = q.filter(tz)?;
    if f.show != Show::Partials {
        return Err(AppError::Validation(
            "The CSV export is of the abandoned carts: choose Show = Abandoned carts.".into(),
        ));
    }
    let body = state.db.read(move |c| cs::partials_csv(c, &f)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"abandoned-carts.csv\"",
        ))
        .body(body))
}

pub async fn page(
    state: web::Data<AppState>,
    s: Staff,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let ctx = s.0.ctx;
    if q.format == "csv" {
        return carts_csv(&state, &q, ctx.tz).await;
    }
    let filter = q.filter(ctx.tz);
    let (cursor, dir) = q.cursor();
    let error = filter.as_ref().err().map(|e| e.to_string());
    let (campaigns, results) = state
        .db
        .read(move |c| {
            let campaigns = cs::campaign_choices(c)?;
            let results = match filter {
                Ok(f) if f.show == Show::Partials => {
                    Results::Partials(cs::partials_page(c, &f, cursor, dir)?)
                }
                Ok(f) => Results::Orders(cs::orders_page(c, &f, cursor, dir)?),
                Err(_) => Results::None,
            };
            Ok((campaigns, results))
        })
        .await?;
    let (prev, next) = match &results {
        Results::Orders(p) => (p.prev, p.next),
        Results::Partials(p) => (p.prev, p.next),
        Results::None => (None, None),
    };
    render(&SearchPage {
        prev: prev.map(|c| q.link("/customer-service", Some(("before", c.encode())))),
        next: next.map(|c| q.link("/customer-service", Some(("after", c.encode())))),
        totals_url: q.link("/customer-service/totals", None),
        totals_json_url: q.link("/customer-service/totals", Some(("format", "json".into()))),
        first_page: cursor.is_none(),
        csv_url: q.link("/customer-service", Some(("format", "csv".into()))),
        ctx,
        campaigns,
        order_statuses: ORDER_STATUSES,
        purchase_statuses: PURCHASE_STATUSES,
        results,
        error,
        q,
    })
}

#[derive(Template)]
#[template(path = "customers/totals.html")]
struct TotalsPage {
    ctx: PageCtx,
    totals: Vec<TotalsRow>,
    back: String,
}

#[derive(serde::Serialize)]
struct TotalsRow {
    currency: String,
    orders: i64,
    revenue: String,
    refunded: String,
    net: String,
    /// The same amounts for the page (the JSON keeps the plain decimals above).
    #[serde(skip)]
    minor: [i64; 3],
}

impl From<CurrencyTotals> for TotalsRow {
    fn from(t: CurrencyTotals) -> Self {
        TotalsRow {
            orders: t.orders,
            revenue: format_minor(t.revenue_minor, &t.currency),
            refunded: format_minor(t.refunded_minor, &t.currency),
            net: format_minor(t.revenue_minor - t.refunded_minor, &t.currency),
            minor: [
                t.revenue_minor,
                t.refunded_minor,
                t.revenue_minor - t.refunded_minor,
            ],
            currency: t.currency,
        }
    }
}

async fn totals_for(
    state: &AppState,
    q: &SearchQuery,
    tz: chrono_tz::Tz,
) -> Result<Vec<TotalsRow>, AppError> {
    let f = q.filter(tz)?;
    let t = state.db.read(move |c| cs::totals(c, &f)).await?;
    Ok(t.into_iter().map(TotalsRow::from).collect())
}

/// Totals of the filter: an HTML page, or JSON for the search page's script (`?format=json`).
pub async fn totals(
    state: web::Data<AppState>,
    s: Staff,
    q: web::Query<SearchQuery>,
    format: web::Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let rows = totals_for(&state, &q, s.0.ctx.tz).await?;
    if format.format == "json" {
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "totals": rows })));
    }
    render(&TotalsPage {
        back: q.link("/customer-service", None),
        ctx: s.0.ctx,
        totals: rows,
    })
}

#[derive(Deserialize, Default)]
pub struct FormatQuery {
    #[serde(default)]
    format: String,
}
