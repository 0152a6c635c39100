//! The context every page template receives (`ctx`): who is signed in, the CSRF token for
//! forms, flash messages, the display time zone and the current path for the navigation.

use chrono::NaiveDateTime;

use super::session::Flash;
use crate::domain::accounts::users::Role;

#[derive(Debug, Clone)]
pub struct PageUser {
    pub id: i64,
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct PageCtx {
    pub user: Option<PageUser>,
    pub csrf: String,
    pub flashes: Vec<Flash>,
    pub tz: chrono_tz::Tz,
    pub path: String,
}

/// One entry of the main navigation.
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    /// Only account executives see it.
    pub admin_only: bool,
    /// False for sections that later releases add: shown greyed, not linked.
    pub ready: bool,
    /// Other paths that belong to the section (a customer's profile to Customer Service).
    pub also: &'static [&'static str],
}

const fn item(label: &'static str, href: &'static str, admin_only: bool, ready: bool) -> NavItem {
    NavItem {
        label,
        href,
        admin_only,
        ready,
        also: &[],
    }
}

/// The sections of the product, in menu order.
#[rustfmt::skip]
pub const NAV: &[NavItem] = &[
    item("Dashboard", "/", false, true),
    NavItem { also: &["/customers/"], ..item("Customer Service", "/customer-service", false, true) },
    item("Fulfillment", "/fulfillment", false, true),
    item("Products", "/crm/products", false, true),
    item("Campaigns", "/crm/campaigns", false, true),
    item("Fulfillment houses", "/crm/fulfillment-houses", false, true),
    item("Reports", "/reports", false, false),
    item("Plugins", "/admin/plugins", true, true),
    item("Notifications", "/admin/notifications", true, true),
    item("Import tasks", "/admin/import-tasks", true, true),
    item("Reconciliation", "/admin/reconciliation", true, true),
    item("Users", "/admin/users", true, true),
    item("Sign-in locks", "/admin/locks", true, true),
    item("Reason labels", "/admin/reason-labels", true, true),
    item("Audit log", "/admin/audit", true, true),
];

impl PageCtx {
    /// For pages rendered without a session (error pages).
    pub fn anonymous() -> Self {
        PageCtx {
            user: None,
            csrf: String::new(),
            flashes: Vec::new(),
            tz: chrono_tz::UTC,
            path: String::new(),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.role == Role::Admin)
    }

    /// The menu entries this user may see.
    pub fn nav(&self) -> Vec<&'static NavItem> {
        if self.user.is_none() {
            return Vec::new();
        }
        NAV.iter().filter(|n| !n.admin_only || self.is_admin()).collect()
    }

    pub fn is_current(&self, item: &NavItem) -> bool {
        if item.href == "/" {
            self.path == "/"
        } else {
            self.path.starts_with(item.href) || item.also.iter().any(|p| self.path.starts_with(p))
        }
    }

    /// A stored UTC time shown in the portal's time zone.
    pub fn time(&self, t: &NaiveDateTime) -> String {
        t.and_utc()
            .with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    pub fn time_opt(&self, t: &Option<NaiveDateTime>) -> String {
        t.as_ref().map(|t| self.time(t)).unwrap_or_else(|| "never".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_at(path: &str) -> Vec<&'static str> {
        let ctx = PageCtx {
            path: path.to_string(),
            ..PageCtx::anonymous()
        };
        NAV.iter()
            .filter(|n| ctx.is_current(n))
            .map(|n| n.label)
            .collect()
    }

    #[test]
    fn one_section_is_current_for_each_page() {
        assert_eq!(current_at("/"), ["Dashboard"]);
        assert_eq!(current_at("/customer-service"), ["Customer Service"]);
        assert_eq!(current_at("/customers/42"), ["Customer Service"]);
        assert_eq!(current_at("/fulfillment/items"), ["Fulfillment"]);
        assert_eq!(current_at("/crm/fulfillment-houses/3"), ["Fulfillment houses"]);
        assert_eq!(current_at("/admin/import-tasks/7"), ["Import tasks"]);
    }
}
