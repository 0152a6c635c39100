//! API users: machine logins for the INS route and the fulfillment API, with an IP
//! allowlist and per-endpoint permissions. Authentication verifies the password with argon2
//! once and then remembers the success for a short time as an HMAC of (login, password,
//! stored hash) under a per-process key, so the hot INS route is not bounded by argon2 and a
//! changed password or a disabled user takes effect at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::json;
use sha2::Sha256;

use super::api_guard;
use super::ip_allow::{self, IpRanges};
use crate::db::models::ApiUser;
use crate::db::schema::api_users;
use crate::db::{Database, DbConn};
use crate::domain::{accounts::passwords, audit, Actor};
use crate::error::AppError;

/// What an API user may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `POST /clickbank/`: deliver ClickBank Instant Notifications.
    ImportOrder,
    /// `POST /api/fulfillment/update`: fulfillment houses post tracking and status.
    UpdateFulfillment,
}

pub const PERMISSIONS: &[Permission] = &[Permission::ImportOrder, Permission::UpdateFulfillment];

impl Permission {
    pub fn parse(s: &str) -> Result<Self, AppError> {
        match s.trim() {
            "import_order" => Ok(Permission::ImportOrder),
            "update_fulfillment" => Ok(Permission::UpdateFulfillment),
            other => Err(AppError::Validation(format!(
                "Unknown permission {other:?}: use import_order or update_fulfillment."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ImportOrder => "import_order",
            Permission::UpdateFulfillment => "update_fulfillment",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Permission::ImportOrder => "Receive ClickBank Instant Notifications (import_order)",
            Permission::UpdateFulfillment => "Post fulfillment updates (update_fulfillment)",
        }
    }
}

/// Parses and de-duplicates a permission list.
pub fn parse_permissions<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<Permission>, AppError> {
    let mut out: Vec<Permission> = Vec::new();
    for p in items
        .into_iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let p = Permission::parse(p)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(AppError::Validation(
            "Give the API user at least one permission.".into(),
        ));
    }
    Ok(out)
}

impl ApiUser {
    pub fn has(&self, p: Permission) -> bool {
        self.permissions.split(',').any(|s| s.trim() == p.as_str())
    }
}

pub fn validate_login_id(login: &str) -> Result<String, AppError> {
    let l = login.trim();
    let ok = (3..=64).contains(&l.len())
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(l.to_string())
    } else {
        Err(AppError::Validation(
            "The login id must be 3 to 64 letters, digits, '.', '_' or '-' (it goes into a URL).".into(),
        ))
    }
}

/// The fields of a new or edited API user (password already hashed).
pub struct ApiUserInput {
    pub login_id: String,
    pub allow_ips: String,
    pub permissions: Vec<Permission>,
}

impl ApiUserInput {
    pub fn new(login_id: &str, allow: &str, permissions: Vec<Permission>) -> Result<Self, AppError> {
        Ok(ApiUserInput {
            login_id: validate_login_id(login_id)?,
            allow_ips: ip_allow::format_allowlist(&ip_allow::parse_allowlist(allow)?),
            permissions,
        })
    }

    fn permissions_text(&self) -> String {
        self.permissions
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

pub fn list(conn: &mut DbConn) -> Result<Vec<ApiUser>, AppError> {
    Ok(api_users::table
        .select(ApiUser::as_select())
        .order(api_users::login_id.asc())
        .load(conn)?)
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<ApiUser, AppError> {
    Ok(api_users::table
        .find(id)
        .select(ApiUser::as_select())
        .first(conn)?)
}

pub fn find_by_login(conn: &mut DbConn, login: &str) -> Result<Option<ApiUser>, AppError> {
    Ok(api_users::table
        .filter(api_users::login_id.eq(login))
        .select(ApiUser::as_select())
        .first(conn)
        .optional()?)
}

pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    input: &ApiUserInput,
    password_hash: &str,
) -> Result<ApiUser, AppError> {
    conn.transaction(|conn| {
        if find_by_login(conn, &input.login_id)?.is_some() {
            return Err(AppError::Conflict(format!(
                "An API user {} already exists.",
                input.login_id
            )));
        }
        let now = crate::domain::now();
        diesel::insert_into(api_users::table)
            .values((
                api_users::login_id.eq(&input.login_id),
                api_users::password_hash.eq(password_hash),
                api_users::allow_ips.eq(&input.allow_ips),
                api_users::permissions.eq(input.permissions_text()),
                api_users::disabled.eq(false),
                api_users::created_at.eq(now),
                api_users::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "api_user.create",
            &input.login_id,
            json!({"allow_ips": input.allow_ips, "permissions": input.permissions_text()}),
        )?;
        find_by_login(conn, &input.login_id)?.ok_or(AppError::NotFound)
    })
}

/// Changes the allowlist and permissions (and the password when a new hash is given).
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    allow_ips: &str,
    permissions: &[Permission],
    new_password_hash: Option<&str>,
) -> Result<ApiUser, AppError> {
    let allow = ip_allow::format_allowlist(&ip_allow::parse_allowlist(allow_ips)?);
    let perms = permissions
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",");
    conn.transaction(|conn| {
        let before = find(conn, id)?;
        diesel::update(api_users::table.find(id))
            .set((
                api_users::allow_ips.eq(&allow),
                api_users::permissions.eq(&perms),
                api_users::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
        if let Some(h) = new_password_hash {
            diesel::update(api_users::table.find(id))
                .set(api_users::password_hash.eq(h))
                .execute(conn)?;
        }
        audit::record(
            conn,
            actor,
            "api_user.update",
            &before.login_id,
            json!({
                "before": {"allow_ips": before.allow_ips, "permissions": before.permissions},
                "after": {"allow_ips": allow, "permissions": perms},
                "password_changed": new_password_hash.is_some(),
            }),
        )?;
        find(conn, id)
    })
}

/// Ties an API user to the fulfillment house whose items it may update (None unties it).
pub fn set_house(conn: &mut DbConn, actor: &Actor, id: i64, house_id: Option<i64>) -> Result<(), AppError> {
    use crate::db::schema::fulfillment_houses;
    conn.transaction(|conn| {
        let before = find(conn, id)?;
        if before.house_id == house_id {
            return Ok(());
        }
        if let Some(h) = house_id {
            let exists: i64 = fulfillment_houses::table
                .filter(fulfillment_houses::id.eq(h))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(AppError::Validation(
                    "Choose a fulfillment house from the list.".into(),
                ));
            }
        }
        diesel::update(api_users::table.find(id))
            .set((
                api_users::house_id.eq(house_id),
                api_users::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "api_user.house",
            &before.login_id,
            json!({"before": before.house_id, "after": house_id}),
        )
    })
}

pub fn set_disabled(conn: &mut DbConn, actor: &Actor, id: i64, disabled: bool) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let u = find(conn, id)?;
        diesel::update(api_users::table.find(id))
            .set((
                api_users::disabled.eq(disabled),
                api_users::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
        let action = if disabled {
            "api_user.disable"
        } else {
            "api_user.enable"
        };
        audit::record(conn, actor, action, &u.login_id, json!({}))?;
        Ok(())
    })
}

/// Why an API call was refused: 401 for who, 403 for what or where.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiAuthError {
    #[error("unknown API user or wrong password")]
    BadCredentials,
    #[error("this API user lacks the {0} permission")]
    MissingPermission(&'static str),
    /// One fixed answer, given before the password is looked at.
    #[error("{}", api_guard::NOT_ALLOWED)]
    IpNotAllowed,
}

impl From<ApiAuthError> for AppError {
    fn from(e: ApiAuthError) -> Self {
        match e {
            ApiAuthError::BadCredentials => AppError::ApiUnauthorized(e.to_string()),
            other => AppError::Forbidden(other.to_string()),
        }
    }
}

const CACHE_TTL: Duration = Duration::from_secs(300);
const CACHE_MAX: usize = 10_000;

/// Checks API users' credentials: the allowlists first (in memory), then the throttle, then
/// argon2 under the process bound, remembering recent successes in memory.
pub struct ApiAuthenticator {
    process_key: [u8; 32],
    verified: Mutex<HashMap<[u8; 32], Instant>>,
    /// The union of the active API users' allowlists.
    pub union: std::sync::Arc<api_guard::AllowUnion>,
    throttle: api_guard::ApiThrottle,
}

impl Default for ApiAuthenticator {
    fn default() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        ApiAuthenticator {
            process_key: k,
            verified: Mutex::new(HashMap::new()),
            union: Default::default(),
            throttle: Default::default(),
        }
    }
}

impl ApiAuthenticator {
    fn tag(&self, login: &str, password: &str, stored_hash: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.process_key).expect("HMAC takes any key length");
        for part in [login, password, stored_hash] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    fn remembered(&self, tag: &[u8; 32]) -> bool {
        let map = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        map.get(tag).is_some_and(|t| t.elapsed() < CACHE_TTL)
    }

    fn remember(&self, tag: [u8; 32]) {
        let mut map = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_MAX {
            map.retain(|_, t| t.elapsed() < CACHE_TTL);
            if map.len() >= CACHE_MAX {
                map.clear();
            }
        }
        map.insert(tag, Instant::now());
    }

    /// Called after an API user was created, changed, disabled or enabled in this process:
    /// reloads the allowlist union now and forgets remembered successes.
    pub async fn changed(&self, db: &Database) -> Result<(), AppError> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.union.reload(db).await.map(|_| ())
    }

    /// Authenticates `login`/`password` calling from `ip` for `permission`. Outside every
    /// allowlist: 403 with no database look-up. Outside this user's allowlist: the same 403
    /// before the password is looked at. An unknown or disabled login and a wrong password
    /// cost the same one argon2 and get the same 401.
    pub async fn authenticate(
        &self,
        db: &Database,
        ranges: &IpRanges,
        login: &str,
        password: &str,
        ip: IpAddr,
        permission: Permission,
    ) -> Result<ApiUser, AppError> {
        if !self.union.allows(ip, ranges) {
            return Err(ApiAuthError::IpNotAllowed.into());
        }
        let l = login.to_string();
        let user = db.read(move |c| find_by_login(c, &l)).await?;
        // This user's allowlist before its password, so an outsider cannot test a guess.
        if let Some(u) = &user {
            if !ip_allow::allows(&u.allow_ips, ip, ranges) {
                return Err(ApiAuthError::IpNotAllowed.into());
            }
        }
        let user = user.filter(|u| !u.disabled);
        let hash = user.as_ref().map_or_else(
            || passwords::dummy_hash().to_string(),
            |u| u.password_hash.clone(),
        );
        let tag = self.tag(login, password, &hash);
        let uid = user.as_ref().map(|u| u.id);
        let waited_until = std::time::Instant::now() + api_guard::IN_FLIGHT_WAIT;
        // Verifications in flight reserve their attempts: when they alone fill the limit,
        // wait for them (the first right password settles and is remembered) rather than
        // answer 429 to a burst of right passwords.
        let attempt = loop {
            if user.is_some() && self.remembered(&tag) {
                break None;
            }
            match self.throttle.admit(uid, ip) {
                Ok(a) => break Some(a),
                Err(e) => {
                    if std::time::Instant::now() >= waited_until || !self.throttle.only_in_flight(uid, ip) {
                        return Err(e);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        };
        if let Some(attempt) = attempt {
            let ok = passwords::verify_async(password.to_string(), hash).await?;
            if !ok || user.is_none() {
                attempt.failed();
                return Err(ApiAuthError::BadCredentials.into());
            }
            attempt.succeeded();
            self.remember(tag);
        }
        let user = user.ok_or(ApiAuthError::BadCredentials)?;
        if !user.has(permission) {
            return Err(ApiAuthError::MissingPermission(permission.as_str()).into());
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse() {
        let p = parse_permissions(["import_order", "import_order,update_fulfillment"]).unwrap();
        assert_eq!(p, vec![Permission::ImportOrder, Permission::UpdateFulfillment]);
        assert!(parse_permissions(["admin"]).is_err());
        assert!(parse_permissions([""]).is_err());
    }

    #[test]
    fn login_ids_are_url_safe() {
        assert!(validate_login_id("clickbank-ins").is_ok());
        assert!(validate_login_id("a b").is_err());
        assert!(validate_login_id("x&y=1").is_err());
    }

    #[test]
    fn remembered_successes_are_bound_to_the_stored_hash() {
        let a = ApiAuthenticator::default();
        let t1 = a.tag("ins", "pw", "$argon2id$one");
        a.remember(t1);
        assert!(a.remembered(&t1));
        assert!(
            !a.remembered(&a.tag("ins", "pw", "$argon2id$two")),
            "a new password hash forgets"
        );
        assert!(!a.remembered(&a.tag("ins", "pw2", "$argon2id$one")));
    }
}
