use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::api_users;

/// A machine login (ClickBank's INS, a fulfillment house). Cannot sign into the UI.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_users)]
pub struct ApiUser {
    pub id: i64,
    pub login_id: String,
    pub password_hash: String,
    pub allow_ips: String,
    pub permissions: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The fulfillment house whose items this user may update (None: not tied to one).
    pub house_id: Option<i64>,
}
