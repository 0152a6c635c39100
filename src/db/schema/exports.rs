//! Fulfillment (issue 7): export runs and the shipments they sent.

use super::fulfillment_houses;

diesel::table! {
    fulfillment_export_runs (id) {
        id -> BigInt,
        house_id -> BigInt,
        runner -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        items -> Integer,
        shipments -> Integer,
        failures -> Integer,
        outcome -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    shipments (id) {
        id -> BigInt,
        shipment_id -> Text,
        house_id -> BigInt,
        run_id -> BigInt,
        customer_id -> BigInt,
        items -> Integer,
        status -> Text,
        attempts -> Integer,
        house_ref -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(fulfillment_export_runs -> fulfillment_houses (house_id));
diesel::joinable!(shipments -> fulfillment_export_runs (run_id));
diesel::allow_tables_to_appear_in_same_query!(fulfillment_export_runs, shipments, fulfillment_houses);
