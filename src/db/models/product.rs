use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{campaign_products, campaigns, fulfillment_houses, product_categories, products};
use crate::db::text::text_enum;
use crate::error::AppError;

text_enum! {
    /// How a fulfillment house receives its exports.
    pub enum HouseKind {
        /// The dummy house: ClickBank ships its items, they are never exported.
        ClickBank = "clickbank",
        HttpJson = "http",
        CsvDrop = "csv",
    }
}

impl HouseKind {
    /// The kinds staff may create.
    pub const CHOICES: [HouseKind; 2] = [HouseKind::HttpJson, HouseKind::CsvDrop];

    pub fn label(self) -> &'static str {
        match self {
            HouseKind::ClickBank => "ClickBank (ClickBank ships; never exported)",
            HouseKind::HttpJson => "HTTP JSON",
            HouseKind::CsvDrop => "CSV drop folder",
        }
    }

    /// The kind a form names.
    pub fn from_form(s: &str) -> Result<Self, AppError> {
        HouseKind::parse(s.trim()).ok_or_else(|| {
            AppError::Validation(format!(
                "Unknown kind of house {:?}: choose HTTP JSON or CSV drop folder.",
                s.trim()
            ))
        })
    }
}

/// A product as ClickBank knows it (SKU, title, price) plus what the merchant set.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = products)]
pub struct Product {
    pub id: i64,
    pub category_id: i64,
    /// ClickBank's SKU: never changed by the portal.
    pub sku: String,
    pub title: String,
    pub currency: Option<String>,
    pub msrp_minor: Option<i64>,
    pub cost_minor: Option<i64>,
    pub description: String,
    pub shippable: bool,
    pub recurring: bool,
    pub fulfillment_house_id: i64,
    pub fulfillment_type: String,
    pub delay_hours: i32,
    /// The merchant saved the edit form: description, shippable, cost, house, type and
    /// delay are theirs and imports leave them alone.
    pub merchant_edited: bool,
    /// The merchant changed the MSRP: imports no longer update it.
    pub msrp_by_merchant: bool,
    /// A recurring product's rebill frequency (ClickBank's pricing, or its first INS).
    pub rebill_frequency: Option<String>,
    /// Trial days of its ClickBank pricing (0: none): its first payment is a trial.
    pub trial_days: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = product_categories)]
pub struct ProductCategory {
    pub id: i64,
    pub name: String,
    pub plugin_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = fulfillment_houses)]
pub struct FulfillmentHouse {
    pub id: i64,
    pub name: String,
    pub kind: HouseKind,
    pub created_at: NaiveDateTime,
}

impl FulfillmentHouse {
    /// The dummy house of items ClickBank ships.
    pub fn is_clickbank(&self) -> bool {
        self.kind == HouseKind::ClickBank
    }
}

/// Orders are filed under a campaign: one per plugin and currency for ClickBank imports.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = campaigns)]
pub struct Campaign {
    pub id: i64,
    pub plugin_id: Option<i64>,
    pub currency: String,
    pub is_test: bool,
    pub name: String,
    /// Created by a ClickBank import: the name cannot be changed.
    pub name_locked: bool,
    pub bundle_window_hours: i32,
    pub created_at: NaiveDateTime,
}

/// A product of a campaign, as an offer or an upsale, in funnel order.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = campaign_products)]
pub struct CampaignProduct {
    pub id: i64,
    pub campaign_id: i64,
    pub product_id: i64,
    pub kind: String,
    pub position: i32,
    pub created_at: NaiveDateTime,
}
