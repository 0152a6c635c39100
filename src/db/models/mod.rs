//! Rows as they are stored.

mod audit;
mod user;

pub use audit::{AuditEntry, NewAuditEntry};
pub use user::{NewUser, User};

mod api_user;
pub use api_user::ApiUser;

mod customer;
pub use customer::{ShipRow, SHIP_COLUMNS};

mod plugin;
pub use plugin::Plugin;

mod inbound;
pub use inbound::{InboundNotification, InboxStatus};

mod order;
pub use order::{OrderShown, OrderStatus, PurchaseShown, PurchaseStatus};
mod import_task;
pub use import_task::{ImportTask, ImportTaskRun, TaskAction, TaskKind, TaskState};
mod product;
pub use product::{Campaign, CampaignProduct, FulfillmentHouse, HouseKind, Product, ProductCategory};
