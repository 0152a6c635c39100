use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::plugins;

/// A ClickBank data source (one vendor account). Keys are sealed with the master key.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = plugins)]
pub struct Plugin {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub site: String,
    pub dev_key_enc: Option<String>,
    pub api_key_enc: String,
    pub secret_key_enc: Option<String>,
    pub include_test: bool,
    pub send_confirmations: bool,
    pub unique_products: bool,
    pub clickbank_ships: bool,
    pub active: bool,
    pub last_connected_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The SHIPPED cut-off its initial import set: an item ships if and only if its own event
    /// (its sale or its rebill) is newer. None: every item ships.
    pub ship_cutoff_at: Option<NaiveDateTime>,
    /// ClickBank requests a day the look-ups of sales not seen yet may make.
    pub lookup_budget: i32,
}
