//! What goes to a house (shipments, their items and customer, the batch body) and what a
//! house answers.

use serde::{Deserialize, Serialize};

use crate::domain::fulfillment::ShipTo;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutItem {
    pub client_fulfillment_id: i64,
    pub order_id: String,
    pub sku: String,
    pub title: String,
    pub quantity: i32,
}

/// The customer of a shipment as sent to a house.
#[derive(Debug, Clone, Serialize)]
pub struct OutCustomer {
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// One shipment as sent to a house.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutShipment {
    pub shipment_id: String,
    pub reship: bool,
    pub retry: bool,
    pub customer: OutCustomer,
    pub ship_to: ShipTo,
    pub items: Vec<OutItem>,
}

/// The body POSTed to an HTTP house.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportBatch<'a> {
    pub house: &'a str,
    pub run_id: i64,
    pub shipments: &'a [OutShipment],
}

/// What an HTTP house answers (any 2xx; missing fields are fine).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HouseAnswer {
    #[serde(default)]
    pub shipments: Vec<AcceptedShipment>,
    #[serde(default)]
    pub errors: Vec<RejectedShipment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedShipment {
    pub shipment_id: String,
    /// The house's own id for the shipment.
    #[serde(default, alias = "houseId")]
    pub id: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedShipment {
    pub shipment_id: String,
    #[serde(default)]
    pub error: String,
}

/// The outcome of one shipment.
#[derive(Debug, Clone)]
pub enum Sent {
    Accepted { house_ref: Option<String> },
    Failed(String),
}
