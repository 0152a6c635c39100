//! The sandbox HTTP server: ClickBank's REST endpoints and auth; the faults module's
//! decision is applied in front of every call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpRequest, HttpResponse};

use super::faults::Faults;
use super::model::{RecordedShipNotice, SbEvent, SbTicket};
use super::render;
use super::state::{bad_request, forbidden, ApiError, Params, State};
use crate::clickbank::ins::InsEncoder;
use crate::clickbank::time::parse_date;

/// Text of a 403 caused by the rate limiter (recognised by the client).
pub(crate) const RATE_LIMIT_TEXT: &str = "Too many requests: rate limit exceeded. Slow down and retry later.";
/// Text of a 403 without credentials.
pub(crate) const MISSING_AUTH_TEXT: &str =
    "Missing Authorization header. Send your API key (or DEV-key:API-key) in the Authorization header.";
/// Text of a 403 with wrong credentials.
pub(crate) const BAD_AUTH_TEXT: &str =
    "Invalid API credentials: the API key or developer key is not valid for this account.";

/// Everything the server, the scheduler and the handle share.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub faults: Mutex<Faults>,
    pub requests: AtomicU64,
    pub wake: tokio::sync::Notify,
    pub api_key: String,
    pub dev_key: Option<String>,
    pub encoder: InsEncoder,
    pub http: reqwest::Client,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn auth_ok(&self, value: &str) -> bool {
        let value = value.trim();
        if value == self.api_key {
            return true;
        }
        match value.split_once(':') {
            Some((dev, api)) => {
                api.trim() == self.api_key && self.dev_key.as_deref().is_none_or(|d| d == dev.trim())
            }
            None => false,
        }
    }
}

type Data = web::Data<Shared>;

fn text(status: u16, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("text/plain; charset=utf-8")
        .body(body.into())
}

fn api_error(e: ApiError) -> HttpResponse {
    text(e.status, e.text)
}

fn json(body: String, more: bool) -> HttpResponse {
    let status = if more {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body)
}

fn answer(r: Result<HttpResponse, ApiError>) -> HttpResponse {
    r.unwrap_or_else(api_error)
}

fn page_of(req: &HttpRequest) -> Result<u32, ApiError> {
    match req.headers().get("Page") {
        None => Ok(1),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|p| *p >= 1)
            .ok_or_else(|| bad_request("Invalid Page header: expected a page number from 1")),
    }
}

/// Auth, Accept, Content-Length and fault injection in front of every API call.
async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(shared) = req.app_data::<Data>().cloned() else {
        return Ok(req.into_response(text(500, "sandbox state missing")));
    };
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let decision = shared.faults().decide();
    if decision.rate_limited {
        return Ok(req.into_response(text(403, RATE_LIMIT_TEXT)));
    }
    match req.headers().get(header::AUTHORIZATION).map(HeaderValue::to_str) {
        None => return Ok(req.into_response(text(403, MISSING_AUTH_TEXT))),
        Some(Ok(v)) if shared.auth_ok(v) => {}
        Some(_) => return Ok(req.into_response(text(403, BAD_AUTH_TEXT))),
    }
    let accepts_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !accepts_json {
        return Ok(req.into_response(text(
            406,
            "Not Acceptable: send Accept: application/json (this sandbox does not serve XML)",
        )));
    }
    let method = req.method().clone();
    if (method == actix_web::http::Method::POST || method == actix_web::http::Method::PUT)
        && !req.headers().contains_key(header::CONTENT_LENGTH)
        && !req.headers().contains_key(header::TRANSFER_ENCODING)
    {
        return Ok(req.into_response(text(411, "Length Required")));
    }
    if decision.fail {
        return Ok(req.into_response(text(
            503,
            "Service Temporarily Unavailable (sandbox fault injection)",
        )));
    }
    let res = next.call(req).await?;
    if !decision.delay.is_zero() {
        actix_web::rt::time::sleep(decision.delay).await;
    }
    Ok(res.map_into_boxed_body())
}

async fn list_orders(data: Data, req: HttpRequest, q: web::Query<Params>) -> HttpResponse {
    answer((|| {
        let page = page_of(&req)?;
        let mut st = data.lock();
        let hits = st.query(&q)?;
        let (start, end, more) = st.page_bounds(hits.len(), page);
        let events: Vec<&SbEvent> = hits[start..end].iter().map(|&i| &st.events[i]).collect();
        Ok(json(render::rest_orders(&st, &events, None), more))
    })())
}

async fn count_orders(data: Data, q: web::Query<Params>) -> HttpResponse {
    answer((|| {
        let mut st = data.lock();
        let hits = st.query(&q)?;
        Ok(HttpResponse::Ok()
            .content_type("text/plain")
            .body(hits.len().to_string()))
    })())
}

fn receipt_events<'a>(st: &'a State, receipt: &str) -> Vec<&'a SbEvent> {
    st.events
        .iter()
        .filter(|e| {
            e.listed()
                && e.receipt
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(receipt))
        })
        .collect()
}

async fn get_order(data: Data, path: web::Path<String>, q: web::Query<Params>) -> HttpResponse {
    let receipt = path.into_inner();
    answer((|| {
        let st = data.lock();
        let events = receipt_events(&st, &receipt);
        if events.is_empty() {
            return Err(forbidden(format!("Order not found: {receipt}")));
        }
        let sku = q.get("sku").map(|s| s.trim()).filter(|s| !s.is_empty());
        let events: Vec<&SbEvent> = match sku {
            Some(sku) => {
                let with: Vec<&SbEvent> = events
                    .into_iter()
                    .filter(|e| {
                        e.lines
                            .iter()
                            .any(|l| st.products[l.product].sku.eq_ignore_ascii_case(sku))
                    })
                    .collect();
                if with.is_empty() {
                    return Err(forbidden(format!("Item {sku} not found on order {receipt}")));
                }
                with
            }
            None => {
                let multi = st
                    .receipts
                    .get(&receipt.to_ascii_uppercase())
                    .is_some_and(|r| r.sale_lines.len() > 1);
                if multi {
                    return Err(bad_request(
                        "sku is required for an order with more than one item",
                    ));
                }
                events
            }
        };
        Ok(json(render::rest_orders(&st, &events, sku), false))
    })())
}

async fn head_order(data: Data, path: web::Path<String>, q: web::Query<Params>) -> HttpResponse {
    let st = data.lock();
    let sku = q.get("sku").map(|s| s.trim()).filter(|s| !s.is_empty());
    if st.subscription_active(&path, sku) {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::Forbidden().finish()
    }
}

async fn upsells(data: Data, path: web::Path<String>) -> HttpResponse {
    let receipt = path.into_inner().to_ascii_uppercase();
    answer((|| {
        let st = data.lock();
        let info = st
            .receipts
            .get(&receipt)
            .ok_or_else(|| forbidden(format!("Order not found: {receipt}")))?;
        let events: Vec<&SbEvent> = st
            .events
            .iter()
            .filter(|e| {
                e.listed()
                    && e.upsell_original.as_deref() == Some(receipt.as_str())
                    && e.receipt.as_ref().is_some_and(|r| info.upsells.contains(r))
            })
            .collect();
        Ok(json(render::rest_orders(&st, &events, None), false))
    })())
}

async fn order_action(data: Data, path: web::Path<(String, String)>, q: web::Query<Params>) -> HttpResponse {
    let (receipt, action) = path.into_inner();
    let result = {
        let mut st = data.lock();
        match action.as_str() {
            "changeDate" => st.change_date(&receipt, &q),
            "pause" => st.pause(&receipt, &q),
            "reinstate" => st.reinstate(&receipt, &q).map(|_| ()),
            "extend" => st.extend(&receipt, &q),
            "changeProduct" => st.change_product(&receipt, &q).map(|_| ()),
            "changeAddress" => st.change_address(&receipt, &q),
            other => Err(ApiError {
                status: 404,
                text: format!("Unknown action: {other}"),
            }),
        }
    };
    data.wake.notify_one();
    match result {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => api_error(e),
    }
}

fn check_site(st: &State, q: &Params) -> Result<(), ApiError> {
    let site = q
        .get("site")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: site"))?;
    if site.eq_ignore_ascii_case(&st.vendor) {
        Ok(())
    } else {
        Err(forbidden(format!("Not authorized for site {site}")))
    }
}

async fn list_products(data: Data, req: HttpRequest, q: web::Query<Params>) -> HttpResponse {
    answer((|| {
        let page = page_of(&req)?;
        let st = data.lock();
        check_site(&st, &q)?;
        let kind = q.get("type").map(|s| s.trim().to_ascii_uppercase());
        let products: Vec<_> = st
            .products
            .iter()
            .filter(|p| match kind.as_deref() {
                None | Some("") => true,
                Some("STANDARD") => p.plan.is_none(),
                Some("RECURRING") => p.plan.is_some(),
                Some(_) => false,
            })
            .collect();
        if let Some(k) = kind
            .as_deref()
            .filter(|k| !["", "STANDARD", "RECURRING"].contains(k))
        {
            return Err(bad_request(format!("Invalid type: {k}")));
        }
        let size = st.settings.products_page_size.max(1);
        let start = (page as usize - 1).saturating_mul(size).min(products.len());
        let end = (start + size).min(products.len());
        Ok(json(
            render::rest_products(&st, &products[start..end]),
            end < products.len(),
        ))
    })())
}

async fn get_product(data: Data, path: web::Path<String>, q: web::Query<Params>) -> HttpResponse {
    answer((|| {
        let st = data.lock();
        check_site(&st, &q)?;
        let i = st
            .product_index(&path)
            .ok_or_else(|| forbidden(format!("Product not found: {}", path.as_str())))?;
        Ok(json(render::rest_one_product(&st, &st.products[i]), false))
    })())
}

async fn list_tickets(data: Data, req: HttpRequest, q: web::Query<Params>) -> HttpResponse {
    answer((|| {
        let page = page_of(&req)?;
        let st = data.lock();
        let get = |k: &str| q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
        let (receipt, status, kind) = (get("receipt"), get("status"), get("type"));
        let tickets: Vec<&SbTicket> = st
            .tickets
            .iter()
            .filter(|t| receipt.is_none_or(|r| t.receipt.eq_ignore_ascii_case(r)))
            .filter(|t| status.is_none_or(|s| t.status.as_str().eq_ignore_ascii_case(s)))
            .filter(|t| kind.is_none_or(|k| t.ticket_type.as_str().eq_ignore_ascii_case(k)))
            .collect();
        let size = 100;
        let start = (page as usize - 1).saturating_mul(size).min(tickets.len());
        let end = (start + size).min(tickets.len());
        Ok(json(
            render::rest_tickets(&st, &tickets[start..end]),
            end < tickets.len(),
        ))
    })())
}

async fn refund_amounts(data: Data, path: web::Path<String>, q: web::Query<Params>) -> HttpResponse {
    answer((|| {
        let st = data.lock();
        let (cur, rt, subtotal, tax, shipping, total) = st.refund_preview(&path, &q)?;
        Ok(json(
            render::rest_refund_amounts(cur, rt.as_str(), subtotal, tax, shipping, total),
            false,
        ))
    })())
}

async fn get_ticket(data: Data, path: web::Path<String>) -> HttpResponse {
    answer((|| {
        let st = data.lock();
        let i = st.ticket_index(&path)?;
        Ok(json(render::rest_tickets(&st, &[&st.tickets[i]]), false))
    })())
}

async fn update_ticket(data: Data, path: web::Path<String>, q: web::Query<Params>) -> HttpResponse {
    let r = (|| {
        let mut st = data.lock();
        let i = st.update_ticket(&path, &q)?;
        Ok(json(render::rest_tickets(&st, &[&st.tickets[i]]), false))
    })();
    data.wake.notify_one();
    answer(r)
}

async fn create_ticket(data: Data, path: web::Path<String>, q: web::Query<Params>) -> HttpResponse {
    let r = (|| {
        let mut st = data.lock();
        let id = st.create_ticket(&path, &q)?;
        let i = st.ticket_index(&id.to_string())?;
        Ok(json(render::rest_tickets(&st, &[&st.tickets[i]]), false))
    })();
    data.wake.notify_one();
    answer(r)
}

async fn ship_notice(data: Data, path: web::Path<String>, q: web::Query<Params>) -> HttpResponse {
    answer((|| {
        let get = |k: &str| q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
        let need = |k: &str| get(k).ok_or_else(|| bad_request(format!("Missing required parameter: {k}")));
        let date = need("date")?;
        parse_date(date).map_err(|_| bad_request(format!("Invalid date: {date} (expected yyyy-mm-dd)")))?;
        let carrier = need("carrier")?;
        let tracking = need("tracking")?;
        let receipt = path.to_ascii_uppercase();
        let mut st = data.lock();
        let info = st
            .receipts
            .get(&receipt)
            .ok_or_else(|| forbidden(format!("Order not found: {receipt}")))?;
        if !info.has_physical(&st.products) {
            return Err(forbidden("Order has no physical products"));
        }
        st.ship_notices.push(RecordedShipNotice {
            receipt,
            date: date.to_string(),
            carrier: carrier.to_string(),
            tracking: tracking.to_string(),
            item: get("item").map(str::to_string),
        });
        Ok(HttpResponse::NoContent().finish())
    })())
}

async fn not_found() -> HttpResponse {
    text(404, "Not Found")
}

/// The route table of the sandbox API (mounted under `/rest/1.3`).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/rest/1.3")
            .wrap(from_fn(gate))
            .route("/orders2/list", web::get().to(list_orders))
            .route("/orders2/count", web::get().to(count_orders))
            .route("/orders2/{receipt}/upsells", web::get().to(upsells))
            .route("/orders2/{receipt}/{action}", web::post().to(order_action))
            .route("/orders2/{receipt}", web::get().to(get_order))
            .route("/orders2/{receipt}", web::head().to(head_order))
            .route("/products/list", web::get().to(list_products))
            .route("/products/{sku}", web::get().to(get_product))
            .route("/tickets/list", web::get().to(list_tickets))
            .route("/tickets/refundAmounts/{receipt}", web::get().to(refund_amounts))
            .route("/tickets/{id}", web::get().to(get_ticket))
            .route("/tickets/{id}", web::put().to(update_ticket))
            .route("/tickets/{receipt}", web::post().to(create_ticket))
            .route("/shipping/shipnotice/{receipt}", web::post().to(ship_notice))
            .default_service(web::to(not_found)),
    )
    .default_service(web::to(not_found));
}

/// A ticket in the typed form the client returns.
pub(crate) fn typed_ticket(st: &State, t: &SbTicket) -> crate::clickbank::types::Ticket {
    let body = render::rest_tickets(st, &[t]);
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(rename = "ticketData")]
        ticket: crate::clickbank::types::Ticket,
    }
    match serde_json::from_str::<Body>(&body) {
        Ok(b) => b.ticket,
        Err(_) => crate::clickbank::types::Ticket {
            ticket_id: t.id.to_string(),
            receipt: Some(t.receipt.clone()),
            status: Some(t.status.clone()),
            ticket_type: Some(t.ticket_type.clone()),
            opened_date: Some(t.opened),
            closed_date: t.closed,
            description: Some(t.reason.clone()),
            refund_type: t.refund_type.clone(),
            refund_amount: None,
            product_item_no: t.sku.clone(),
            customer_first_name: None,
            customer_last_name: None,
            email: None,
            update_time: Some(t.updated),
            comments: Vec::new(),
        },
    }
}
