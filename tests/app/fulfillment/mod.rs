//! Fulfillment end to end, one file per story: houses, the export job (HTTP house on wiremock,
//! CSV drop folder), delays, bundling, retries, reships, refunds before export, batch updates, CSV
//! imports and exports, the house update API and ship notices. Orders come in through the one
//! domain function (`events::apply`), as INS and imports bring them; the fixtures are in
//! `support::fulfillment`.

mod address_csv;
mod addresses;
mod batches;
mod csv_import;
mod export;
mod export_recovery;
mod house_api;
mod houses_and_list;
