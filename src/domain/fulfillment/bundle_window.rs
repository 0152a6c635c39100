//! A campaign's bundle window: how long after a first order the export waits to ship the
//! customer's later orders in the same parcel.

use diesel::prelude::*;

use super::MAX_BUNDLE_WINDOW_HOURS;
use crate::db::schema::campaigns;
use crate::db::DbConn;
use crate::error::AppError;

/// Sets a campaign's bundle window (0 to [`MAX_BUNDLE_WINDOW_HOURS`]); audited.
pub fn set(
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
