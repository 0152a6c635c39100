use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::inbound_notifications;
use crate::db::text::text_enum;

text_enum! {
    /// What became of an INS delivery: stored raw (`received`), taken by a worker
    /// (`processing`), then applied (`processed`), already seen (`duplicate`), waiting for its
    /// sale (`waiting`), logged only (`ignored`: TEST, test transactions when not included,
    /// informational types) or `failed` with the reason, to be reprocessed.
    pub enum InboxStatus {
        Received = "received",
        Processing = "processing",
        Processed = "processed",
        Duplicate = "duplicate",
        Waiting = "waiting",
        Ignored = "ignored",
        Failed = "failed",
    }
}

/// One INS delivery as it arrived, and what became of it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inbound_notifications)]
pub struct InboundNotification {
    pub id: i64,
    pub received_at: NaiveDateTime,
    pub source_ip: String,
    pub api_user_id: Option<i64>,
    pub body: String,
    pub status: InboxStatus,
    pub error: Option<String>,
    pub plugin_id: Option<i64>,
    pub transaction_type: Option<String>,
    pub receipt: Option<String>,
    pub vendor: Option<String>,
    pub payload: Option<String>,
    pub attempts: i32,
    pub processed_at: Option<NaiveDateTime>,
}
