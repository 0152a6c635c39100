//! Account executive pages.

pub mod api_users;
pub mod audit;
pub mod imports;
pub mod notifications;
pub mod plugins;
pub mod users;
