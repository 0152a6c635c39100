//! Updates that houses post (`POST /api/fulfillment/update`, an API user with the
//! `update_fulfillment` permission), and ship notices sent to ClickBank.
//!
//! A house names an item by our `clientFulfillmentId` (sent in every export) or by the
//! `shipmentId` (every item of that shipment). All updates of one call are checked first and
//! applied together, or none.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Status;
use crate::clickbank::ShipNotice;
use crate::db::schema::fulfillments;
use crate::db::DbConn;
use crate::domain::clickbank_budget::{self, Purpose};
use crate::domain::context::JobContext;
use crate::domain::{audit, plugins, Actor};
use crate::error::AppError;

/// One update as a house posts it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HouseUpdate {
    #[serde(default)]
    pub client_fulfillment_id: Option<i64>,
    #[serde(default)]
    pub shipment_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub ship_date: Option<String>,
    #[serde(default)]
    pub rma_number: Option<String>,
}

/// The body: `{"updates": [...]}` or one update object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum UpdateBody {
    Many { updates: Vec<HouseUpdate> },
    One(HouseUpdate),
}

impl UpdateBody {
    pub fn into_vec(self) -> Vec<HouseUpdate> {
        match self {
            UpdateBody::Many { updates } => updates,
            UpdateBody::One(u) => vec![u],
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UpdateError {
    pub index: usize,
    pub error: String,
}

/// The answer to a house.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UpdateAnswer {
    pub applied: usize,
    pub errors: Vec<UpdateError>,
}

fn clean(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Checks and applies `updates` from API user `who`.
/// Applies a house's updates. `house` is the house the API user is tied to: items of other
/// houses are refused (None: an API user not tied to a house may update any item).
pub fn apply(
    conn: &mut DbConn,
    who: &str,
    house: Option<i64>,
    updates: &[HouseUpdate],
) -> Result<UpdateAnswer, AppError> {
    if updates.is_empty() || updates.len() > 10_000 {
        return Err(AppError::Validation("send 1 to 10000 updates".into()));
    }
    conn.transaction(|conn| {
        let mut errors = Vec::new();
        // (item, its status now, the new status, the update, its ship date)
        type Planned<'a> = (i64, Status, Option<Status>, &'a HouseUpdate, Option<NaiveDate>);
        let mut plan: Vec<Planned> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (index, u) in updates.iter().enumerate() {
            let mut fail = |e: String| errors.push(UpdateError { index, error: e });
            let to = match clean(&u.status).map(|s| Status::parse(&s)).transpose() {
                Ok(s) => s,
                Err(e) => {
                    fail(e.to_string());
                    continue;
                }
            };
            let date = match clean(&u.ship_date) {
                None => None,
                Some(d) => match NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
                    Ok(d) => Some(d),
                    Err(_) => {
                        fail(format!("shipDate {d:?} must look like 2026-11-25"));
                        continue;
                    }
                },
            };
            let found: Vec<(i64, String, i64)> = match (u.client_fulfillment_id, clean(&u.shipment_id)) {
                (Some(id), _) => fulfillments::table
                    .filter(fulfillments::id.eq(id))
                    .select((fulfillments::id, fulfillments::status, fulfillments::house_id))
                    .load(conn)?,
                (None, Some(sid)) => fulfillments::table
                    .filter(fulfillments::shipment_id.eq(sid))
                    .select((fulfillments::id, fulfillments::status, fulfillments::house_id))
                    .load(conn)?,
                (None, None) => {
                    fail("name the item: clientFulfillmentId or shipmentId".into());
                    continue;
                }
            };
            if found.is_empty() {
                fail("no such item or shipment".into());
                continue;
            }
            if let Some(h) = house {
                if let Some((id, _, _)) = found.iter().find(|(_, _, at)| *at != h) {
                    fail(format!("item {id} is not at your fulfillment house"));
                    continue;
                }
            }
            let items: Vec<(i64, String)> = found.into_iter().map(|(id, s, _)| (id, s)).collect();
            for (id, status) in items {
                let from = Status::parse(&status)?;
                if let Some(to) = to {
                    if !from.can_move_to(to) {
                        fail(format!("item {id} is {from}; it cannot become {to}"));
                        continue;
                    }
                }
                if !seen.insert(id) {
                    fail(format!("item {id} is updated twice in this call"));
                    continue;
                }
                plan.push((id, from, to, u, date));
            }
        }
        if !errors.is_empty() {
            return Ok(UpdateAnswer { applied: 0, errors });
        }
        let now = crate::domain::now();
        for (id, from, to, u, date) in &plan {
            let target = fulfillments::table
                .filter(fulfillments::id.eq(*id))
                .filter(fulfillments::status.eq(from.as_str()));
            let to = to.unwrap_or(*from);
            let n = diesel::update(target)
                .set((
                    fulfillments::status.eq(to.as_str()),
                    fulfillments::updated_at.eq(now),
                ))
                .execute(conn)?;
            if n != 1 {
                return Err(AppError::Conflict(format!(
                    "item {id} changed meanwhile; send the updates again"
                )));
            }
            let t = fulfillments::table.find(*id);
            if let Some(v) = clean(&u.tracking_number) {
                diesel::update(t)
                    .set(fulfillments::tracking_number.eq(Some(v)))
                    .execute(conn)?;
            }
            if let Some(v) = clean(&u.carrier) {
                diesel::update(t)
                    .set(fulfillments::carrier.eq(Some(v)))
                    .execute(conn)?;
            }
            if let Some(v) = clean(&u.method) {
                diesel::update(t)
                    .set(fulfillments::method.eq(Some(v)))
                    .execute(conn)?;
            }
            if let Some(v) = clean(&u.rma_number) {
                diesel::update(t)
                    .set(fulfillments::rma_number.eq(Some(v)))
                    .execute(conn)?;
            }
            if date.is_some() {
                diesel::update(t)
                    .set(fulfillments::ship_date.eq(*date))
                    .execute(conn)?;
            } else if to == Status::Shipped {
                diesel::update(t.filter(fulfillments::ship_date.is_null()))
                    .set(fulfillments::ship_date.eq(Some(now.date())))
                    .execute(conn)?;
            }
        }
        let actor = Actor {
            user_id: None,
            label: format!("api:{who}"),
            ip: None,
        };
        audit::record(
            conn,
            &actor,
            "fulfillment.house_update",
            "fulfillments",
            serde_json::json!({"items": plan.len(),
                               "ids": plan.iter().take(100).map(|p| p.0).collect::<Vec<_>>()}),
        )?;
        Ok(UpdateAnswer {
            applied: plan.len(),
            errors: Vec::new(),
        })
    })
}

/// Sends the tracking of item `id` to ClickBank as a ship notice, through the client trait
/// (the sandbox records it), and notes when it was sent.
pub async fn send_ship_notice(ctx: &JobContext, actor: &Actor, id: i64) -> Result<String, AppError> {
    let db = &ctx.db;
    let (item, plugin) = db
        .read(move |c| {
            let item = super::list::item(c, id)?;
            let plugin = plugins::find(c, item.plugin_id)?;
            Ok((item, plugin))
        })
        .await?;
    let tracking = item
        .tracking_number
        .clone()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| AppError::Validation("This item has no tracking number to send yet.".into()))?;
    let keys = plugins::keys(&plugin, &ctx.secrets)?;
    let api = plugins::client_sharing(&keys, &ctx.api_base, ctx.limiter(plugin.id))?;
    let notice = ShipNotice {
        date: item.ship_date.unwrap_or_else(|| crate::domain::now().date()),
        carrier: item.carrier.clone().unwrap_or_default(),
        tracking,
        sku: Some(item.sku.clone()),
    };
    // Claim the item first (one conditional UPDATE): a double click or a second tab finds it
    // claimed and sends nothing.
    let claimed_at = crate::domain::now();
    let claimed = db
        .run(move |c| {
            Ok(diesel::update(
                fulfillments::table
                    .find(id)
                    .filter(fulfillments::ship_notice_at.is_null()),
            )
            .set(fulfillments::ship_notice_at.eq(Some(claimed_at)))
            .execute(c)?)
        })
        .await?;
    if claimed != 1 {
        return Err(AppError::Conflict(
            "The ship notice of this item was sent already (or is being sent right now).".into(),
        ));
    }
    let sent = api.ship_notice(&item.receipt, &notice).await;
    clickbank_budget::count_sent(db, plugin.id, Purpose::Notice, api.as_ref()).await;
    if let Err(e) = sent {
        // Not sent: release the claim so it can be tried again.
        let released = db
            .run(move |c| {
                Ok(diesel::update(
                    fulfillments::table
                        .find(id)
                        .filter(fulfillments::ship_notice_at.eq(Some(claimed_at))),
                )
                .set(fulfillments::ship_notice_at.eq(None::<chrono::NaiveDateTime>))
                .execute(c)?)
            })
            .await;
        if let Err(r) = released {
            tracing::warn!("could not release the ship notice claim of item {id}: {r}");
        }
        return Err(AppError::Validation(format!(
            "ClickBank refused the ship notice: {e}"
        )));
    }
    let actor = actor.clone();
    let receipt = item.receipt.clone();
    db.run(move |c| {
        audit::record(
            c,
            &actor,
            "fulfillment.ship_notice",
            &format!("fulfillment:{id}"),
            serde_json::json!({"receipt": receipt, "tracking": notice.tracking, "carrier": notice.carrier}),
        )
    })
    .await?;
    Ok(item.receipt)
}
