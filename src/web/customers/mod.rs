//! Customer Service: the search (`/customer-service`), the customer profile
//! (`/customers/{id}`) and the actions staff take there.

pub mod actions;
pub mod profile;
pub mod search;

use chrono::{NaiveDate, NaiveDateTime, TimeZone};

/// A day typed in the portal's time zone, as the UTC instant it starts.
pub(crate) fn day_start_utc(tz: chrono_tz::Tz, day: NaiveDate) -> NaiveDateTime {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or(local)
}

/// A date field (`yyyy-mm-dd`); empty is none, anything else unreadable is an error.
pub(crate) fn parse_day(field: &str, text: &str) -> Result<Option<NaiveDate>, crate::error::AppError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map(Some).map_err(|_| {
        crate::error::AppError::Validation(format!("{field}: `{t}` is not a date (yyyy-mm-dd)."))
    })
}
