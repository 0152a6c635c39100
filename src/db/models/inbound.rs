use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::inbound_notifications;

/// One INS delivery as it arrived, and what became of it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inbound_notifications)]
pub struct InboundNotification {
    pub id: i64,
    pub received_at: NaiveDateTime,
    pub source_ip: String,
    pub api_user_id: Option<i64>,
    pub body: String,
    pub status: String,
    pub error: Option<String>,
    pub plugin_id: Option<i64>,
    pub transaction_type: Option<String>,
    pub receipt: Option<String>,
    pub vendor: Option<String>,
    pub payload: Option<String>,
    pub attempts: i32,
    pub processed_at: Option<NaiveDateTime>,
}
