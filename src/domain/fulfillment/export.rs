//! The export job, one run per real house (never the dummy ClickBank house):
//!
//! 1. claim the house's lease (`locked_until`, `locked_by`: one conditional UPDATE, so two
//!    portal processes never export the same house at once);
//! 2. retry: shipments that failed once go again under the same shipment id, their items
//!    RECYCLED; a second failure leaves them FAILED for a human;
//! 3. take the HOLD items whose product delay has passed, bundle them (same customer, same
//!    normalized address, order times within the first order's campaign bundle window) and
//!    mark each item with its one shipment id before anything is sent: an item is never in
//!    two live shipments. An item that was at a house before (moved back to HOLD on purpose)
//!    is a reship and goes out alone under a suffixed id (`<first id>-R1`, `-R2`, ...);
//! 4. send (one signed JSON POST per batch to an HTTP house, or one CSV file in a drop
//!    folder); items become PENDING on success, FAILED with the house's reason otherwise;
//!    The lease is renewed after every batch; a run that lost it sends nothing more.
//! 5. record the run (items, shipments, failures) and release the lease.
//!
//! A run that stops between 4 and 5 (a crash) leaves shipments "sending": the next run marks
//! their items FAILED for a human (the house may have them), never sends them again itself.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::batch::CHUNK;
use super::houses::{self, House, HouseKeys, HouseKind};
use super::{address_key, sign, ShipTo, API_KEY_HEADER, MAX_BUNDLE_WINDOW_HOURS, SIGNATURE_HEADER};
use crate::db::schema::{
    campaigns, customers, fulfillment_export_runs as runs, fulfillment_houses, fulfillments, order_items,
    orders, products, shipments,
};
use crate::db::{Database, DbConn};
use crate::error::AppError;
use crate::secrets::SecretBox;

/// How long a run may hold a house before another process may take it over.
pub const LEASE_SECONDS: i64 = 600;
/// Shipments per POST to an HTTP house.
pub const HTTP_BATCH: usize = 200;
/// Why items of an interrupted run wait for a human.
pub const INTERRUPTED: &str = "the export stopped while this shipment was being sent: check with the house \
     whether it arrived, then mark the items or move them back to HOLD to send again";
/// The status of items claimed by a run while they are being sent: not HOLD, so a refund, a
/// batch update or a CSV import cannot cancel or move them mid-send.
pub const IN_FLIGHT: &str = "PENDING_SHIPMENT";
/// Statuses an item of a shipment being sent may have (RECYCLED: an export retry; HOLD: items
/// claimed before claims moved them to [`IN_FLIGHT`]).
const SENDING_STATUSES: [&str; 3] = [IN_FLIGHT, "RECYCLED", "HOLD"];
/// What an item accepted by the house while its order was fully refunded says.
pub const REFUNDED_IN_FLIGHT: &str = "the order was refunded while this item was being sent: \
     ask the house to stop the shipment, then cancel the item";
/// Longest reason kept from a house's answer.
const MAX_REASON: usize = 500;

/// What the export job needs.
#[derive(Clone)]
pub struct ExportContext {
    pub db: Database,
    pub secrets: SecretBox,
    pub http: reqwest::Client,
    /// Minutes between two runs of a house.
    pub interval_minutes: i64,
    /// When set, a CSV drop folder outside it is never written (see
    /// [`houses::check_folder`]).
    pub export_root: Option<std::path::PathBuf>,
}

impl ExportContext {
    pub fn new(db: Database, secrets: SecretBox, interval_minutes: i64) -> Result<Self, AppError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| AppError::Internal(format!("HTTP client: {e}")))?;
        Ok(ExportContext {
            db,
            secrets,
            http,
            interval_minutes,
            export_root: None,
        })
    }

    /// CSV drop folders must lie under `root`.
    pub fn with_export_root(mut self, root: std::path::PathBuf) -> Self {
        self.export_root = Some(root);
        self
    }
}

/// One item as sent to a house.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutItem {
    pub client_fulfillment_id: i64,
    pub order_id: String,
    pub sku: String,
    pub title: String,
    pub quantity: i32,
}

/// The customer of a shipment as sent to a house.
#[derive(Debug, Clone, Serialize)]
pub struct OutCustomer {
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// One shipment as sent to a house.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutShipment {
    pub shipment_id: String,
    pub reship: bool,
    pub retry: bool,
    pub customer: OutCustomer,
    pub ship_to: ShipTo,
    pub items: Vec<OutItem>,
}

/// The body POSTed to an HTTP house.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportBatch<'a> {
    pub house: &'a str,
    pub run_id: i64,
    pub shipments: &'a [OutShipment],
}

/// What an HTTP house answers (any 2xx; missing fields are fine).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HouseAnswer {
    #[serde(default)]
    pub shipments: Vec<AcceptedShipment>,
    #[serde(default)]
    pub errors: Vec<RejectedShipment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedShipment {
    pub shipment_id: String,
    /// The house's own id for the shipment.
    #[serde(default, alias = "houseId")]
    pub id: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedShipment {
    pub shipment_id: String,
    #[serde(default)]
    pub error: String,
}

/// The outcome of one shipment.
#[derive(Debug, Clone)]
pub enum Sent {
    Accepted { house_ref: Option<String> },
    Failed(String),
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub run_id: i64,
    pub house_id: i64,
    pub items: i32,
    pub shipments: i32,
    pub failures: i32,
    pub outcome: String,
}

/// Real, active houses whose next run is due and whose lease is free.
pub fn due_houses(conn: &mut DbConn) -> Result<Vec<i64>, AppError> {
    let now = crate::domain::now();
    Ok(fulfillment_houses::table
        .filter(fulfillment_houses::kind.ne("clickbank"))
        .filter(fulfillment_houses::active.eq(true))
        .filter(
            fulfillment_houses::next_export_at
                .is_null()
                .or(fulfillment_houses::next_export_at.le(now)),
        )
        .filter(
            fulfillment_houses::locked_until
                .is_null()
                .or(fulfillment_houses::locked_until.lt(now)),
        )
        .select(fulfillment_houses::id)
        .order(fulfillment_houses::id.asc())
        .load(conn)?)
}

/// Claims house `id` for `runner`: one conditional UPDATE, atomic on both backends.
pub fn claim(conn: &mut DbConn, id: i64, runner: &str) -> Result<bool, AppError> {
    let now = crate::domain::now();
    let n = diesel::update(
        fulfillment_houses::table
            .find(id)
            .filter(fulfillment_houses::kind.ne("clickbank"))
            .filter(
                fulfillment_houses::locked_until
                    .is_null()
                    .or(fulfillment_houses::locked_until.lt(now)),
            ),
    )
    .set((
        fulfillment_houses::locked_by.eq(Some(runner)),
        fulfillment_houses::locked_until.eq(Some(now + chrono::Duration::seconds(LEASE_SECONDS))),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Renews `runner`'s lease on house `id` for another [`LEASE_SECONDS`]; false when the lease
/// is no longer ours (it expired and another process took the house over).
pub fn renew(conn: &mut DbConn, id: i64, runner: &str) -> Result<bool, AppError> {
    let now = crate::domain::now();
    let n = diesel::update(
        fulfillment_houses::table
            .find(id)
            .filter(fulfillment_houses::locked_by.eq(runner))
            .filter(fulfillment_houses::locked_until.ge(now)),
    )
    .set(fulfillment_houses::locked_until.eq(Some(now + chrono::Duration::seconds(LEASE_SECONDS))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Why shipments were not sent after the run lost its lease.
pub const LEASE_LOST: &str =
    "not sent: this export run lost the house's lease (it ran too long); the next run sends it";

/// Releases our own lease and sets the next run.
fn release(conn: &mut DbConn, id: i64, runner: &str, interval_minutes: i64) -> Result<(), AppError> {
    let next = crate::domain::now() + chrono::Duration::minutes(interval_minutes);
    diesel::update(
        fulfillment_houses::table
            .find(id)
            .filter(fulfillment_houses::locked_by.eq(runner)),
    )
    .set((
        fulfillment_houses::locked_until.eq(None::<NaiveDateTime>),
        fulfillment_houses::locked_by.eq(None::<String>),
        fulfillment_houses::next_export_at.eq(Some(next)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Asks for a run of `id` (or of every house) at the next scheduler tick.
pub fn request_now(conn: &mut DbConn, id: Option<i64>) -> Result<usize, AppError> {
    let now = crate::domain::now();
    let mut q = diesel::update(fulfillment_houses::table.filter(fulfillment_houses::kind.ne("clickbank")))
        .into_boxed();
    if let Some(id) = id {
        q = q.filter(fulfillment_houses::id.eq(id));
    }
    Ok(q.set(fulfillment_houses::next_export_at.eq(Some(now)))
        .execute(conn)?)
}

/// Runs every due house once.
pub async fn run_due(ctx: &ExportContext, runner: &str) -> Vec<Result<RunSummary, AppError>> {
    let due = match ctx.db.read(due_houses).await {
        Ok(d) => d,
        Err(e) => return vec![Err(e)],
    };
    let mut out = Vec::new();
    for id in due {
        match run_house(ctx, id, runner).await {
            Ok(Some(s)) => out.push(Ok(s)),
            Ok(None) => {}
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

/// Claims and runs house `id`; `None` when another process holds it.
pub async fn run_house(ctx: &ExportContext, id: i64, runner: &str) -> Result<Option<RunSummary>, AppError> {
    let r = runner.to_string();
    if !ctx.db.run(move |c| claim(c, id, &r)).await? {
        return Ok(None);
    }
    let result = run_claimed(ctx, id, runner).await;
    let r = runner.to_string();
    let interval = ctx.interval_minutes;
    ctx.db.run(move |c| release(c, id, &r, interval)).await?;
    result.map(Some)
}

async fn run_claimed(ctx: &ExportContext, id: i64, runner: &str) -> Result<RunSummary, AppError> {
    let house = ctx.db.read(move |c| houses::find(c, id)).await?;
    let keys = houses::keys(&house, &ctx.secrets)?;
    let r = runner.to_string();
    let (run_id, out) = ctx
        .db
        .run(move |c| {
            c.transaction(|c| {
                let run_id: i64 = diesel::insert_into(runs::table)
                    .values((
                        runs::house_id.eq(id),
                        runs::runner.eq(&r),
                        runs::started_at.eq(crate::domain::now()),
                    ))
                    .returning(runs::id)
                    .get_result(c)?;
                let out = prepare(c, id, run_id, crate::domain::now())?;
                Ok((run_id, out))
            })
        })
        .await?;
    let results = send(ctx, &house, &keys, run_id, &out, runner).await;
    ctx.db
        .run(move |c| c.transaction(|c| record(c, id, run_id, &out, &results)))
        .await
}

/// One HOLD or retried item with what a house needs.
#[derive(Debug, Clone, Queryable)]
struct DueItem {
    id: i64,
    shipment_id: Option<String>,
    ship_to: Option<String>,
    receipt: String,
    order_time: NaiveDateTime,
    customer_id: i64,
    window_hours: i32,
    delay_hours: i32,
    sku: String,
    title: String,
    quantity: i32,
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
    ship_first_name: String,
    ship_last_name: String,
    ship_address1: String,
    ship_address2: String,
    ship_city: String,
    ship_state: String,
    ship_postal_code: String,
    ship_country: String,
    cycle: i32,
    created_at: NaiveDateTime,
}

impl DueItem {
    /// When the item came to be: the order's time, or the rebill's for later cycles of a
    /// subscription. Delays and bundle windows count from here.
    fn time(&self) -> NaiveDateTime {
        if self.cycle > 1 {
            self.created_at
        } else {
            self.order_time
        }
    }

    fn ship_to(&self) -> ShipTo {
        if let Some(s) = self.ship_to.as_deref().and_then(ShipTo::from_json) {
            return s;
        }
        // Items from before addresses were kept per item: the customer's address.
        let first = if self.ship_first_name.is_empty() {
            &self.first_name
        } else {
            &self.ship_first_name
        };
        let last = if self.ship_last_name.is_empty() {
            &self.last_name
        } else {
            &self.ship_last_name
        };
        ShipTo {
            name: format!("{first} {last}").trim().to_string(),
            address1: self.ship_address1.clone(),
            address2: self.ship_address2.clone(),
            city: self.ship_city.clone(),
            state: self.ship_state.clone(),
            postal_code: self.ship_postal_code.clone(),
            country: self.ship_country.clone(),
        }
    }

    fn out_item(&self) -> OutItem {
        OutItem {
            client_fulfillment_id: self.id,
            order_id: self.receipt.clone(),
            sku: self.sku.clone(),
            title: self.title.clone(),
            quantity: self.quantity,
        }
    }

    fn customer(&self) -> OutCustomer {
        OutCustomer {
            name: format!("{} {}", self.first_name, self.last_name)
                .trim()
                .to_string(),
            email: self.email.clone(),
            phone: self.phone.clone(),
        }
    }
}

macro_rules! due_query {
    () => {
        fulfillments::table
            .inner_join(
                orders::table
                    .inner_join(customers::table)
                    .inner_join(campaigns::table),
            )
            .inner_join(order_items::table.inner_join(products::table))
            .select((
                fulfillments::id,
                fulfillments::shipment_id,
                fulfillments::ship_to,
                orders::receipt,
                orders::transaction_time,
                orders::customer_id,
                campaigns::bundle_window_hours,
                products::delay_hours,
                order_items::item_no,
                order_items::title,
                order_items::quantity,
                customers::first_name,
                customers::last_name,
                customers::email,
                customers::phone,
                customers::ship_first_name,
                customers::ship_last_name,
                customers::ship_address1,
                customers::ship_address2,
                customers::ship_city,
                customers::ship_state,
                customers::ship_postal_code,
                customers::ship_country,
                fulfillments::cycle,
                fulfillments::created_at,
            ))
    };
}

/// The base of a shipment id (without a reship suffix).
fn base_id(id: &str) -> &str {
    match id.rfind("-R") {
        Some(i) if id[i + 2..].chars().all(|c| c.is_ascii_digit()) && i + 2 < id.len() => &id[..i],
        _ => id,
    }
}

/// Picks and claims what this run sends (in the caller's transaction).
fn prepare(
    conn: &mut DbConn,
    house: i64,
    run_id: i64,
    now: NaiveDateTime,
) -> Result<Vec<OutShipment>, AppError> {
    let mut out = Vec::new();

    // 0. A run that stopped between sending and recording (a crash) left shipments
    //    "sending": the house may have them. Never send them again by ourselves. Only runs
    //    whose lease expired are stuck: this run holds the house's lease, and a live run renews
    //    its lease after every batch, so any other run of this house still "sending" lost it.
    let stuck: Vec<String> = shipments::table
        .filter(shipments::house_id.eq(house))
        .filter(shipments::status.eq("sending"))
        .filter(shipments::run_id.ne(run_id))
        .select(shipments::shipment_id)
        .load(conn)?;
    for chunk in stuck.chunks(CHUNK) {
        diesel::update(
            fulfillments::table
                .filter(fulfillments::shipment_id.eq_any(chunk))
                .filter(fulfillments::status.eq_any(SENDING_STATUSES)),
        )
        .set((
            fulfillments::status.eq("FAILED"),
            fulfillments::attempts.eq(2),
            fulfillments::last_error.eq(Some(INTERRUPTED)),
            fulfillments::updated_at.eq(now),
        ))
        .execute(conn)?;
        diesel::update(shipments::table.filter(shipments::shipment_id.eq_any(chunk)))
            .set((
                shipments::status.eq("interrupted"),
                shipments::error.eq(Some(INTERRUPTED)),
                shipments::updated_at.eq(now),
            ))
            .execute(conn)?;
    }

    // 1. Shipments that failed once go again, same id, their items RECYCLED.
    let failed: Vec<String> = shipments::table
        .filter(shipments::house_id.eq(house))
        .filter(shipments::status.eq("failed"))
        .filter(shipments::attempts.eq(1))
        .select(shipments::shipment_id)
        .load(conn)?;
    for sid in failed {
        let items: Vec<DueItem> = due_query!()
            .filter(fulfillments::shipment_id.eq(&sid))
            .filter(fulfillments::status.eq("FAILED"))
            .filter(fulfillments::house_id.eq(house))
            .order(fulfillments::id.asc())
            .load(conn)?;
        if items.is_empty() {
            // A human moved or cancelled its items: nothing to retry.
            diesel::update(shipments::table.filter(shipments::shipment_id.eq(&sid)))
                .set((shipments::status.eq("superseded"), shipments::updated_at.eq(now)))
                .execute(conn)?;
            continue;
        }
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        diesel::update(fulfillments::table.filter(fulfillments::id.eq_any(&ids)))
            .set((
                fulfillments::status.eq("RECYCLED"),
                fulfillments::export_run_id.eq(Some(run_id)),
                fulfillments::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::update(shipments::table.filter(shipments::shipment_id.eq(&sid)))
            .set((
                shipments::status.eq("sending"),
                shipments::attempts.eq(2),
                shipments::run_id.eq(run_id),
                shipments::items.eq(ids.len() as i32),
                shipments::updated_at.eq(now),
            ))
            .execute(conn)?;
        out.push(shipment(sid, false, true, &items));
    }

    // 2. HOLD items whose delay has passed, never of a refunded order.
    let hold: Vec<DueItem> = due_query!()
        .filter(fulfillments::house_id.eq(house))
        .filter(fulfillments::status.eq("HOLD"))
        .filter(orders::status.ne("REFUNDED"))
        .order((orders::transaction_time.asc(), fulfillments::id.asc()))
        .load(conn)?;
    let due: Vec<DueItem> = hold
        .into_iter()
        .filter(|i| i.time() + chrono::Duration::hours(i64::from(i.delay_hours.max(0))) <= now)
        .collect();

    // 3. Bundles: reships alone per former shipment; the rest by customer, address, window.
    let mut reships: BTreeMap<String, Vec<DueItem>> = BTreeMap::new();
    let mut groups: HashMap<(i64, String), Vec<DueItem>> = HashMap::new();
    let mut group_order: Vec<(i64, String)> = Vec::new();
    let mut due = due;
    due.sort_by_key(|i| (i.time(), i.id));
    for item in due {
        if let Some(prev) = item.shipment_id.clone() {
            reships.entry(base_id(&prev).to_string()).or_default().push(item);
        } else {
            let key = (item.customer_id, address_key(&item.ship_to()));
            let entry = groups.entry(key.clone()).or_default();
            if entry.is_empty() {
                group_order.push(key);
            }
            entry.push(item);
        }
    }
    let mut planned: Vec<(String, bool, Vec<DueItem>)> = Vec::new();
    for key in group_order {
        let items = groups.remove(&key).unwrap_or_default();
        let mut bundle: Vec<DueItem> = Vec::new();
        let mut end = now;
        for item in items {
            if !bundle.is_empty() && item.time() > end {
                let b = std::mem::take(&mut bundle);
                planned.push((format!("{}-{}", b[0].receipt, b[0].id), false, b));
            }
            if bundle.is_empty() {
                let window = item.window_hours.clamp(0, MAX_BUNDLE_WINDOW_HOURS);
                end = item.time() + chrono::Duration::hours(i64::from(window));
            }
            bundle.push(item);
        }
        if !bundle.is_empty() {
            planned.push((format!("{}-{}", bundle[0].receipt, bundle[0].id), false, bundle));
        }
    }
    for (base, items) in reships {
        let pattern = format!("{}-R%", crate::domain::audit::escape_like(&base));
        let earlier: i64 = shipments::table
            .filter(shipments::shipment_id.like(pattern).escape('\\'))
            .count()
            .get_result(conn)?;
        planned.push((format!("{base}-R{}", earlier + 1), true, items));
    }

    // 4. Claim: each item gets its one shipment id before anything is sent.
    let mut rows = Vec::with_capacity(planned.len());
    for (sid, _, items) in &planned {
        rows.push((
            shipments::shipment_id.eq(sid.clone()),
            shipments::house_id.eq(house),
            shipments::run_id.eq(run_id),
            shipments::customer_id.eq(items[0].customer_id),
            shipments::items.eq(items.len() as i32),
            shipments::status.eq("sending"),
            shipments::attempts.eq(1),
            shipments::created_at.eq(now),
            shipments::updated_at.eq(now),
        ));
    }
    // One row at a time: batch inserts are not available through the multi-backend connection.
    for row in rows {
        diesel::insert_into(shipments::table).values(row).execute(conn)?;
    }
    for (sid, reship, items) in planned {
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        let n = diesel::update(
            fulfillments::table
                .filter(fulfillments::id.eq_any(&ids))
                .filter(fulfillments::status.eq("HOLD")),
        )
        .set((
            fulfillments::status.eq(IN_FLIGHT),
            fulfillments::shipment_id.eq(Some(&sid)),
            fulfillments::export_run_id.eq(Some(run_id)),
            fulfillments::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n != ids.len() {
            return Err(AppError::Conflict(format!(
                "items of shipment {sid} changed while the export was prepared; the run starts again later"
            )));
        }
        out.push(shipment(sid, reship, false, &items));
    }
    Ok(out)
}

fn shipment(shipment_id: String, reship: bool, retry: bool, items: &[DueItem]) -> OutShipment {
    let first = &items[0];
    OutShipment {
        shipment_id,
        reship,
        retry,
        customer: first.customer(),
        ship_to: first.ship_to(),
        items: items.iter().map(DueItem::out_item).collect(),
    }
}

fn reason(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > MAX_REASON {
        format!("{}…", s.chars().take(MAX_REASON).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Sends `out` to the house; one outcome per shipment id.
async fn send(
    ctx: &ExportContext,
    house: &House,
    keys: &HouseKeys,
    run_id: i64,
    out: &[OutShipment],
    runner: &str,
) -> HashMap<String, Sent> {
    let mut results = HashMap::new();
    if out.is_empty() {
        return results;
    }
    match house.kind() {
        HouseKind::HttpJson => {
            let mut lease = true;
            for batch in out.chunks(HTTP_BATCH) {
                if !lease {
                    // Another process may run this house now: send nothing more.
                    for s in batch {
                        results.insert(s.shipment_id.clone(), Sent::Failed(LEASE_LOST.into()));
                    }
                    continue;
                }
                let got = send_http(ctx, house, keys, run_id, batch).await;
                results.extend(got);
                // Keep the house while sending: a long run must not let another take it over.
                let (id, r) = (house.id, runner.to_string());
                lease = ctx.db.run(move |c| renew(c, id, &r)).await.unwrap_or(false);
            }
        }
        HouseKind::CsvDrop => {
            let folder = house.csv_folder.clone();
            let name = house.id;
            let rows = out.to_vec();
            let root = ctx.export_root.clone();
            let written = tokio::task::spawn_blocking(move || {
                if let Some(root) = &root {
                    houses::check_folder(&folder, root).map_err(|e| e.to_string())?;
                }
                write_csv(&folder, name, run_id, &rows)
            })
            .await
            .map_err(|e| format!("the CSV writer stopped: {e}"))
            .and_then(|r| r);
            for s in out {
                results.insert(
                    s.shipment_id.clone(),
                    match &written {
                        Ok(file) => Sent::Accepted {
                            house_ref: Some(file.clone()),
                        },
                        Err(e) => Sent::Failed(e.clone()),
                    },
                );
            }
        }
        HouseKind::ClickBank => {
            for s in out {
                results.insert(
                    s.shipment_id.clone(),
                    Sent::Failed("the ClickBank house is never exported".into()),
                );
            }
        }
    }
    results
}

async fn send_http(
    ctx: &ExportContext,
    house: &House,
    keys: &HouseKeys,
    run_id: i64,
    batch: &[OutShipment],
) -> HashMap<String, Sent> {
    let fail_all = |why: String| -> HashMap<String, Sent> {
        batch
            .iter()
            .map(|s| (s.shipment_id.clone(), Sent::Failed(why.clone())))
            .collect()
    };
    let body = match serde_json::to_vec(&ExportBatch {
        house: &house.name,
        run_id,
        shipments: batch,
    }) {
        Ok(b) => b,
        Err(e) => return fail_all(format!("cannot encode the batch: {e}")),
    };
    let signature = sign(&keys.signing_secret, &body);
    let resp = ctx
        .http
        .post(&house.endpoint)
        .header("content-type", "application/json")
        .header(API_KEY_HEADER, &keys.api_key)
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        // reqwest's error text names the URL, never the headers.
        Err(e) => return fail_all(reason(&format!("the house did not answer: {e}"))),
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return fail_all(reason(&format!("the house answered {status}: {text}")));
    }
    let answer: HouseAnswer = serde_json::from_str(&text).unwrap_or_default();
    let mut refs: HashMap<String, Option<String>> = HashMap::new();
    for a in answer.shipments {
        let r = a.id.map(|v| match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        });
        refs.insert(a.shipment_id, r);
    }
    let mut errors: HashMap<String, String> = HashMap::new();
    for e in answer.errors {
        let why = if e.error.trim().is_empty() {
            "refused by the house".to_string()
        } else {
            reason(&e.error)
        };
        errors.insert(e.shipment_id, why);
    }
    batch
        .iter()
        .map(|s| {
            let sent = match errors.remove(&s.shipment_id) {
                Some(why) => Sent::Failed(why),
                None => Sent::Accepted {
                    house_ref: refs.remove(&s.shipment_id).flatten(),
                },
            };
            (s.shipment_id.clone(), sent)
        })
        .collect()
}

/// The columns of a CSV drop file.
pub const DROP_HEADER: [&str; 15] = [
    "shipmentId",
    "clientFulfillmentId",
    "orderId",
    "sku",
    "title",
    "quantity",
    "name",
    "address1",
    "address2",
    "city",
    "state",
    "postalCode",
    "country",
    "email",
    "phone",
];

/// Writes one file for the run (under a temporary name, then renamed, so the house never
/// reads half a file); returns its name.
fn write_csv(folder: &str, house: i64, run_id: i64, out: &[OutShipment]) -> Result<String, String> {
    let dir = std::path::Path::new(folder);
    if !dir.is_dir() {
        return Err(format!(
            "the drop folder {folder} does not exist or is not a folder"
        ));
    }
    let name = format!("merchant-crm-house{house}-run{run_id}.csv");
    let tmp = dir.join(format!(".{name}.part"));
    let write = || -> Result<(), String> {
        let file = std::fs::File::create(&tmp).map_err(|e| format!("cannot write in {folder}: {e}"))?;
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
        let err = |e: csv::Error| format!("cannot write in {folder}: {e}");
        w.write_record(DROP_HEADER).map_err(err)?;
        for s in out {
            for i in &s.items {
                // A house's system reads this file, not a spreadsheet: values go as they are
                // (a phone number "+1 555…" must reach the house unchanged).
                w.write_record([
                    s.shipment_id.as_str(),
                    &i.client_fulfillment_id.to_string(),
                    &i.order_id,
                    &i.sku,
                    &i.title,
                    &i.quantity.to_string(),
                    &s.ship_to.name,
                    &s.ship_to.address1,
                    &s.ship_to.address2,
                    &s.ship_to.city,
                    &s.ship_to.state,
                    &s.ship_to.postal_code,
                    &s.ship_to.country,
                    &s.customer.email,
                    &s.customer.phone,
                ])
                .map_err(err)?;
            }
        }
        w.flush().map_err(|e| format!("cannot write in {folder}: {e}"))?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dir.join(&name)).map_err(|e| format!("cannot write in {folder}: {e}"))?;
    Ok(name)
}

/// Stores the outcome of every shipment and finishes the run.
fn record(
    conn: &mut DbConn,
    house: i64,
    run_id: i64,
    out: &[OutShipment],
    results: &HashMap<String, Sent>,
) -> Result<RunSummary, AppError> {
    let now = crate::domain::now();
    let mut ok_ids: Vec<&str> = Vec::new();
    let (mut items, mut failures, mut first_error) = (0i32, 0i32, None::<String>);
    let mut refunded_in_flight = 0i32;
    for s in out {
        items += s.items.len() as i32;
        let sent = results
            .get(&s.shipment_id)
            .cloned()
            .unwrap_or_else(|| Sent::Failed("no answer for this shipment".into()));
        match sent {
            Sent::Accepted { house_ref } => {
                ok_ids.push(&s.shipment_id);
                if house_ref.is_some() {
                    diesel::update(shipments::table.filter(shipments::shipment_id.eq(&s.shipment_id)))
                        .set(shipments::house_ref.eq(house_ref))
                        .execute(conn)?;
                }
            }
            Sent::Failed(why) => {
                failures += 1;
                first_error.get_or_insert_with(|| why.clone());
                let attempts = if s.retry { 2 } else { 1 };
                diesel::update(
                    shipments::table
                        .filter(shipments::shipment_id.eq(&s.shipment_id))
                        .filter(shipments::status.eq("sending")),
                )
                .set((
                    shipments::status.eq("failed"),
                    shipments::error.eq(Some(&why)),
                    shipments::updated_at.eq(now),
                ))
                .execute(conn)?;
                // Nothing reached the house: items of an order refunded meanwhile are cancelled
                // now, as the refund would have done.
                let refunded = orders::table
                    .filter(orders::status.eq("REFUNDED"))
                    .select(orders::id);
                diesel::update(
                    fulfillments::table
                        .filter(fulfillments::shipment_id.eq(&s.shipment_id))
                        .filter(fulfillments::export_run_id.eq(run_id))
                        .filter(fulfillments::status.eq_any(SENDING_STATUSES))
                        .filter(fulfillments::order_id.eq_any(refunded)),
                )
                .set((
                    fulfillments::status.eq("CANCELLED"),
                    fulfillments::last_error.eq(Some(&why)),
                    fulfillments::updated_at.eq(now),
                ))
                .execute(conn)?;
                diesel::update(
                    fulfillments::table
                        .filter(fulfillments::shipment_id.eq(&s.shipment_id))
                        .filter(fulfillments::export_run_id.eq(run_id))
                        .filter(fulfillments::status.eq_any(SENDING_STATUSES)),
                )
                .set((
                    fulfillments::status.eq("FAILED"),
                    fulfillments::attempts.eq(attempts),
                    fulfillments::last_error.eq(Some(&why)),
                    fulfillments::updated_at.eq(now),
                ))
                .execute(conn)?;
            }
        }
    }
    for chunk in ok_ids.chunks(CHUNK) {
        diesel::update(
            shipments::table
                .filter(shipments::shipment_id.eq_any(chunk))
                .filter(shipments::status.eq("sending")),
        )
        .set((shipments::status.eq("sent"), shipments::updated_at.eq(now)))
        .execute(conn)?;
        diesel::update(
            fulfillments::table
                .filter(fulfillments::shipment_id.eq_any(chunk))
                .filter(fulfillments::export_run_id.eq(run_id))
                .filter(fulfillments::status.eq_any(SENDING_STATUSES)),
        )
        .set((
            fulfillments::status.eq("PENDING"),
            fulfillments::exported_at.eq(Some(now)),
            fulfillments::last_error.eq(None::<String>),
            fulfillments::updated_at.eq(now),
        ))
        .execute(conn)?;
        // The house has them, but the order was fully refunded while they were being sent:
        // flag them for a human (the run says so too).
        let refunded = orders::table
            .filter(orders::status.eq("REFUNDED"))
            .select(orders::id);
        refunded_in_flight += diesel::update(
            fulfillments::table
                .filter(fulfillments::shipment_id.eq_any(chunk))
                .filter(fulfillments::export_run_id.eq(run_id))
                .filter(fulfillments::status.eq("PENDING"))
                .filter(fulfillments::order_id.eq_any(refunded)),
        )
        .set(fulfillments::last_error.eq(Some(REFUNDED_IN_FLIGHT)))
        .execute(conn)? as i32;
    }
    if refunded_in_flight > 0 {
        first_error = Some(format!(
            "{refunded_in_flight} item(s) reached the house although their order was refunded while \
             they were being sent: ask the house to stop them (their items say so){}",
            first_error.map(|e| format!("; {e}")).unwrap_or_default()
        ));
    }
    let count = out.len() as i32;
    let outcome = if count == 0 {
        "nothing to export"
    } else if refunded_in_flight > 0 {
        "needs attention"
    } else if failures == 0 {
        "ok"
    } else if failures == count {
        "failed"
    } else {
        "partly failed"
    };
    diesel::update(runs::table.find(run_id))
        .set((
            runs::finished_at.eq(Some(now)),
            runs::items.eq(items),
            runs::shipments.eq(count),
            runs::failures.eq(failures),
            runs::outcome.eq(Some(outcome)),
            runs::error.eq(first_error),
        ))
        .execute(conn)?;
    Ok(RunSummary {
        run_id,
        house_id: house,
        items,
        shipments: count,
        failures,
        outcome: outcome.to_string(),
    })
}

/// Sets a campaign's bundle window (0 to [`MAX_BUNDLE_WINDOW_HOURS`]); audited.
pub fn set_bundle_window(
    conn: &mut DbConn,
    actor: &crate::domain::Actor,
    campaign: i64,
    hours: &str,
) -> Result<i32, AppError> {
    let h: i32 = hours
        .trim()
        .parse()
        .ok()
        .filter(|h| (0..=MAX_BUNDLE_WINDOW_HOURS).contains(h))
        .ok_or_else(|| {
            AppError::Validation(format!(
                "The bundle window is a whole number of hours from 0 to {MAX_BUNDLE_WINDOW_HOURS}."
            ))
        })?;
    conn.transaction(|conn| {
        let n = diesel::update(campaigns::table.find(campaign))
            .set(campaigns::bundle_window_hours.eq(h))
            .execute(conn)?;
        if n == 0 {
            return Err(AppError::NotFound);
        }
        crate::domain::audit::record(
            conn,
            actor,
            "campaign.bundle_window",
            &format!("campaign:{campaign}"),
            serde_json::json!({"hours": h}),
        )?;
        Ok(h)
    })
}

/// A run as the runs page shows it.
#[derive(Debug, Clone, Queryable)]
pub struct RunRow {
    pub id: i64,
    pub house_id: i64,
    pub runner: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub items: i32,
    pub shipments: i32,
    pub failures: i32,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub house: String,
}

macro_rules! run_columns {
    () => {
        (
            runs::id,
            runs::house_id,
            runs::runner,
            runs::started_at,
            runs::finished_at,
            runs::items,
            runs::shipments,
            runs::failures,
            runs::outcome,
            runs::error,
            fulfillment_houses::name,
        )
    };
}

/// The latest runs, newest first.
pub fn recent_runs(conn: &mut DbConn, limit: i64) -> Result<Vec<RunRow>, AppError> {
    Ok(runs::table
        .inner_join(fulfillment_houses::table)
        .select(run_columns!())
        .order(runs::id.desc())
        .limit(limit)
        .load(conn)?)
}

pub fn find_run(conn: &mut DbConn, id: i64) -> Result<RunRow, AppError> {
    Ok(runs::table
        .inner_join(fulfillment_houses::table)
        .filter(runs::id.eq(id))
        .select(run_columns!())
        .first(conn)?)
}

/// A shipment of a run.
#[derive(Debug, Clone, Queryable)]
pub struct ShipmentRow {
    pub shipment_id: String,
    pub customer_id: i64,
    pub items: i32,
    pub status: String,
    pub attempts: i32,
    pub house_ref: Option<String>,
    pub error: Option<String>,
}

pub fn run_shipments(conn: &mut DbConn, run_id: i64) -> Result<Vec<ShipmentRow>, AppError> {
    Ok(shipments::table
        .filter(shipments::run_id.eq(run_id))
        .select((
            shipments::shipment_id,
            shipments::customer_id,
            shipments::items,
            shipments::status,
            shipments::attempts,
            shipments::house_ref,
            shipments::error,
        ))
        .order((shipments::status.asc(), shipments::id.asc()))
        .limit(2000)
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::base_id;

    #[test]
    fn reship_suffixes_come_off_the_base() {
        assert_eq!(base_id("ABC123-42"), "ABC123-42");
        assert_eq!(base_id("ABC123-42-R1"), "ABC123-42");
        assert_eq!(base_id("ABC123-42-R12"), "ABC123-42");
        assert_eq!(base_id("AB-RX"), "AB-RX");
        assert_eq!(base_id("AB-R"), "AB-R");
    }
}
