//! Customer Service: the search (`/customer-service`), the customer profile
//! (`/customers/{id}`) and the actions staff take there.

pub mod actions;
pub mod profile;
pub mod search;

use chrono::NaiveDate;

pub(crate) use crate::domain::day_start_utc;

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
