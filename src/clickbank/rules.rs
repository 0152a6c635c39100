//! ClickBank's rules for subscription actions, in one place: the sandbox enforces them the way
//! ClickBank does, and the portal's forms check them before calling so staff get the answer
//! without a round trip. Dates are ClickBank's (US Pacific) calendar days. Also how a state
//! ClickBank states (its orders list's line status, its "already canceled") is weighed
//! against events.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::time::{pacific_date, pacific_midnight};

/// A pause may restart billing at most this many days from today.
pub const MAX_PAUSE_DAYS: i64 = 60;
/// A cancelled subscription can be reinstated within this many days of its cancellation.
pub const REINSTATE_WITHIN_DAYS: i64 = 60;

/// ClickBank's refusal says the subscription is cancelled already ("Subscription already
/// canceled"): a state to record, not only an error to show. A bare 403 says nothing of the
/// kind (ClickBank answers 403 for bad keys and rate limits too).
pub fn says_already_cancelled(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("already canceled") || t.contains("already cancelled")
}

/// A state read from the orders list is stamped this long before the reading: the reading
/// time is this server's clock while events carry ClickBank's, and an event of the same
/// moment may well come after the read. Any event from then on decides over the read (what
/// it sets agrees with the read for events the read already reflects); older ones do not.
pub const READ_MARGIN_SECS: i64 = 120;

/// The rank of a state read from the orders list: below every event of its (stamped) second.
pub const READ_RANK: i32 = 0;

/// ClickBank's "today".
pub fn today(now: DateTime<Utc>) -> NaiveDate {
    pacific_date(now)
}

/// `changeDate`: a future date.
pub fn check_change_date(date: NaiveDate, today: NaiveDate) -> Result<(), String> {
    if date <= today {
        return Err("changeDate must be a future date".into());
    }
    Ok(())
}

/// The restart dates a pause allows: from the next scheduled payment to 60 days from today.
pub fn pause_window(next_payment: NaiveDate, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (next_payment, today + Duration::days(MAX_PAUSE_DAYS))
}

/// `pause`: the restart date is not before the next payment and at most 60 days out.
pub fn check_pause(restart: NaiveDate, next_payment: NaiveDate, today: NaiveDate) -> Result<(), String> {
    let (first, last) = pause_window(next_payment, today);
    if restart < first {
        return Err(format!(
            "restartDate cannot be before the next scheduled payment ({first})"
        ));
    }
    if restart > last {
        return Err(format!(
            "restartDate must be at most {MAX_PAUSE_DAYS} days from today"
        ));
    }
    Ok(())
}

/// `reinstate`: only within 60 days of the cancellation.
pub fn check_reinstate(cancelled_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), String> {
    if cancelled_at.is_some_and(|c| now - c > Duration::days(REINSTATE_WITHIN_DAYS)) {
        return Err(format!(
            "Subscription can only be reinstated within {REINSTATE_WITHIN_DAYS} days of cancellation"
        ));
    }
    Ok(())
}

/// A payment moved to `date` keeps the time of day of the payment it replaces (noon Pacific
/// when there was none), as ClickBank does.
pub fn at_same_time_of_day(date: NaiveDate, like_time: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let midnight = pacific_midnight(date);
    match like_time {
        Some(t) => midnight + (t - pacific_midnight(pacific_date(t))),
        None => midnight + Duration::hours(12),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn pause_window_edges() {
        let today = d(2026, 1, 1);
        let next = d(2026, 1, 10);
        assert!(check_pause(d(2026, 1, 10), next, today).is_ok());
        assert!(check_pause(d(2026, 3, 2), next, today).is_ok());
        assert!(check_pause(d(2026, 1, 9), next, today)
            .unwrap_err()
            .contains("next scheduled payment"));
        assert!(check_pause(d(2026, 3, 3), next, today)
            .unwrap_err()
            .contains("60 days"));
    }

    #[test]
    fn change_date_must_be_future() {
        assert!(check_change_date(d(2026, 1, 1), d(2026, 1, 1)).is_err());
        assert!(check_change_date(d(2026, 1, 2), d(2026, 1, 1)).is_ok());
    }

    #[test]
    fn reinstate_within_sixty_days() {
        let now = Utc::now();
        assert!(check_reinstate(Some(now - Duration::days(59)), now).is_ok());
        assert!(check_reinstate(Some(now - Duration::days(61)), now).is_err());
        assert!(check_reinstate(None, now).is_ok());
    }
}
