//! Account executive pages.

pub mod api_users;
pub mod audit;
pub mod notifications;
pub mod plugins;
pub mod users;
