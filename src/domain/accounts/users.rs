//! Portal users (people who sign in): account executives (`admin`) and merchant staff
//! (`merchant`). Every change is audited in the same transaction.

use diesel::prelude::*;
use serde_json::json;

use crate::db::models::{NewUser, User};
use crate::db::schema::{app_settings, users};
use crate::db::DbConn;
use crate::domain::{audit, Actor};
use crate::error::AppError;

/// The two roles of the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Account executive: everything, including plugins, users and imports.
    Admin,
    /// Merchant staff: customer service, fulfillment, reports, products and campaigns.
    Merchant,
}

impl Role {
    pub fn parse(s: &str) -> Result<Self, AppError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "merchant" => Ok(Role::Merchant),
            other => Err(AppError::Validation(format!(
                "Unknown role {other:?}: use admin (account executive) or merchant (merchant staff)."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Merchant => "merchant",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Account executive",
            Role::Merchant => "Merchant staff",
        }
    }
}

impl User {
    /// The stored role; an unknown value (impossible through the CHECK constraint) is the
    /// least privileged one.
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Merchant)
    }
}

/// Normalises and checks an email address (trimmed, lower-case).
pub fn normalize_email(email: &str) -> Result<String, AppError> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && !e.contains(char::is_whitespace)
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if valid {
        Ok(e)
    } else {
        Err(AppError::Validation(format!(
            "{:?} is not a valid email address.",
            email.trim()
        )))
    }
}

pub fn count(conn: &mut DbConn) -> Result<i64, AppError> {
    Ok(users::table.count().get_result(conn)?)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<User>, AppError> {
    Ok(users::table
        .select(User::as_select())
        .order(users::email.asc())
        .load(conn)?)
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<User, AppError> {
    Ok(users::table.find(id).select(User::as_select()).first(conn)?)
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> Result<Option<User>, AppError> {
    Ok(users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Creates a user. `password_hash` comes from [`super::passwords::hash`] (done off this
/// thread's transaction); the email must be new.
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    email: &str,
    password_hash: &str,
    role: Role,
) -> Result<User, AppError> {
    let email = normalize_email(email)?;
    conn.transaction(|conn| {
        if find_by_email(conn, &email)?.is_some() {
            return Err(AppError::Conflict(format!(
                "A user with email {email} already exists."
            )));
        }
        insert_user(conn, &email, password_hash, role)?;
        let user = find_by_email(conn, &email)?.ok_or(AppError::NotFound)?;
        audit::record(conn, actor, "user.create", &email, json!({"role": role.as_str()}))?;
        Ok(user)
    })
}

fn insert_user(conn: &mut DbConn, email: &str, password_hash: &str, role: Role) -> Result<(), AppError> {
    let now = crate::domain::now();
    diesel::insert_into(users::table)
        .values(NewUser {
            email,
            password_hash,
            role: role.as_str(),
            disabled: false,
            created_at: now,
            updated_at: now,
        })
        .execute(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                AppError::Conflict(format!("A user with email {email} already exists."))
            }
            other => other.into(),
        })?;
    Ok(())
}

const SETUP_KEY: &str = "setup_completed";

/// True while the portal has no user and `/setup` may create the first account executive.
pub fn setup_open(conn: &mut DbConn) -> Result<bool, AppError> {
    let done: i64 = app_settings::table
        .filter(app_settings::key.eq(SETUP_KEY))
        .count()
        .get_result(conn)?;
    Ok(done == 0 && count(conn)? == 0)
}

/// Creates the first account executive. The `setup_completed` row's primary key makes a
/// second, concurrent setup fail even across processes.
pub fn complete_setup(
    conn: &mut DbConn,
    ip: Option<String>,
    email: &str,
    password_hash: &str,
) -> Result<User, AppError> {
    let email = normalize_email(email)?;
    conn.transaction(|conn| {
        if !setup_open(conn)? {
            return Err(AppError::NotFound);
        }
        diesel::insert_into(app_settings::table)
            .values((
                app_settings::key.eq(SETUP_KEY),
                app_settings::value.eq(&email),
                app_settings::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)
            .map_err(|_| AppError::NotFound)?;
        insert_user(conn, &email, password_hash, Role::Admin)?;
        let user = find_by_email(conn, &email)?.ok_or(AppError::NotFound)?;
        let actor = Actor {
            user_id: Some(user.id),
            label: email.clone(),
            ip,
        };
        audit::record(conn, &actor, "setup", &email, json!({"role": "admin"}))?;
        Ok(user)
    })
}

/// Changes a user's role. An account executive cannot demote themself, so a portal always
/// keeps at least the one doing the change.
pub fn set_role(conn: &mut DbConn, actor: &Actor, id: i64, role: Role) -> Result<User, AppError> {
    conn.transaction(|conn| {
        let user = find(conn, id)?;
        if actor.user_id == Some(id) && role != Role::Admin {
            return Err(AppError::Validation(
                "You cannot remove your own account executive role.".into(),
            ));
        }
        diesel::update(users::table.find(id))
            .set((
                users::role.eq(role.as_str()),
                users::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "user.role",
            &user.email,
            json!({"before": user.role, "after": role.as_str()}),
        )?;
        find(conn, id)
    })
}

/// Disables or re-enables a user. Disabling ends every session of the user for good (the
/// rows go and the session epoch moves on), so re-enabling revives no old cookie.
pub fn set_disabled(conn: &mut DbConn, actor: &Actor, id: i64, disabled: bool) -> Result<User, AppError> {
    conn.transaction(|conn| {
        let user = find(conn, id)?;
        if actor.user_id == Some(id) && disabled {
            return Err(AppError::Validation(
                "You cannot disable your own account.".into(),
            ));
        }
        diesel::update(users::table.find(id))
            .set((
                users::disabled.eq(disabled),
                users::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
        if disabled {
            diesel::update(users::table.find(id))
                .set(users::session_epoch.eq(users::session_epoch + 1))
                .execute(conn)?;
            super::sessions::end_all_of(conn, id)?;
        }
        let action = if disabled { "user.disable" } else { "user.enable" };
        audit::record(
            conn,
            actor,
            action,
            &user.email,
            json!({"before": {"disabled": user.disabled}, "after": {"disabled": disabled}}),
        )?;
        find(conn, id)
    })
}

/// Sets a new password hash (an admin's reset, or a user's own change).
pub fn set_password_hash(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    password_hash: &str,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let user = find(conn, id)?;
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(password_hash),
                users::session_epoch.eq(users::session_epoch + 1),
                users::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
        let action = if actor.user_id == Some(id) {
            "user.password_change"
        } else {
            "user.password_reset"
        };
        audit::record(conn, actor, action, &user.email, json!({}))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Jane@Example.COM ").unwrap(),
            "jane@example.com"
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "ja ne@example.com",
            "jane@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn roles_parse_and_unknown_is_refused() {
        assert_eq!(Role::parse("ADMIN").unwrap(), Role::Admin);
        assert_eq!(Role::parse("merchant").unwrap(), Role::Merchant);
        let err = Role::parse("owner").unwrap_err().to_string();
        assert!(err.contains("Unknown role"), "{err}");
    }
}
