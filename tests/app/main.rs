//! Integration tests of the portal. Every test gets its own app and database; the same
//! suite runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

mod api_users;
mod auth;
mod browser;
mod cli;
mod csrf;
mod customer_service;
mod fulfillment;
mod health;
mod helpers;
mod imports;
mod ins;
mod products;
mod stored_rows;
mod users;
