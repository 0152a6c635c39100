//! Integration tests of the portal. Every test gets its own app and database; the same
//! suite runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL. What the stories share is in
//! `support/`; `helpers` is the app builder's older name, kept for tests written against it.

mod address_to_clickbank;
mod api_users;
mod arrival_order;
mod auth;
mod browser;
mod cli;
mod csrf;
mod customer_service;
mod fulfillment;
mod health;
mod imports;
mod ins;
mod older_sales;
mod pages;
mod products;
mod rate_limit;
mod reason_labels;
mod reconciliation;
mod routes;
mod same_sku;
mod search_words;
mod security;
mod sessions;
mod stored_rows;
mod support;
mod users;

use support::app as helpers;
