//! Business rules with no HTTP in them. Functions take a connection and run on a
//! blocking thread (the web layer calls them through `Database::run`).

pub mod api_users;
pub mod audit;
pub mod auth;
pub mod events;
pub mod imports;
pub mod inbox;
pub mod ip_allow;
pub mod passwords;
pub mod plugins;
pub mod throttle;
pub mod users;

use chrono::NaiveDateTime;

/// Who performed an action, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub label: String,
    pub ip: Option<String>,
}

impl Actor {
    /// An operator at the command line.
    pub fn cli() -> Self {
        Actor {
            user_id: None,
            label: "cli".into(),
            ip: None,
        }
    }
}

/// Now, in UTC, as stored in the database (whole microseconds, so both backends agree).
pub fn now() -> NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().naive_utc().trunc_subsecs(6)
}
