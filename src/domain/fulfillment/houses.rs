//! Fulfillment houses: the dummy `ClickBank` house (ClickBank ships; never exported), houses
//! that take a signed HTTP JSON POST, and houses that read a CSV file from a drop folder.
//! The API key and the signing secret are sealed at rest and never shown again.

use std::path::{Component, Path};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{fulfillment_houses, products};
use crate::db::DbConn;
use crate::domain::{audit, Actor};
use crate::error::AppError;
use crate::secrets::SecretBox;

pub use crate::db::models::HouseKind;

/// A house as stored.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = fulfillment_houses)]
pub struct House {
    pub id: i64,
    pub name: String,
    pub kind: HouseKind,
    pub created_at: NaiveDateTime,
    pub endpoint: String,
    pub api_key_enc: Option<String>,
    pub signing_secret_enc: Option<String>,
    pub csv_folder: String,
    pub active: bool,
    pub next_export_at: Option<NaiveDateTime>,
    pub locked_until: Option<NaiveDateTime>,
    pub locked_by: Option<String>,
}

impl House {
    pub fn kind(&self) -> HouseKind {
        self.kind
    }

    pub fn kind_label(&self) -> &'static str {
        self.kind().label()
    }

    /// Exports go to an HTTP endpoint.
    pub fn is_http(&self) -> bool {
        self.kind() == HouseKind::HttpJson
    }

    /// Exports go to a CSV drop folder.
    pub fn is_csv(&self) -> bool {
        self.kind() == HouseKind::CsvDrop
    }

    /// The dummy house: its items are never exported.
    pub fn is_dummy(&self) -> bool {
        self.kind() == HouseKind::ClickBank
    }

    pub fn has_api_key(&self) -> bool {
        self.api_key_enc.is_some()
    }

    pub fn has_secret(&self) -> bool {
        self.signing_secret_enc.is_some()
    }
}

/// The form of a house (the secrets are only written when given).
#[derive(Debug, Clone, Default)]
pub struct HouseInput {
    pub name: String,
    pub kind: String,
    pub endpoint: String,
    pub api_key: String,
    pub signing_secret: String,
    pub csv_folder: String,
    pub active: bool,
}

struct Checked {
    name: String,
    kind: HouseKind,
    endpoint: String,
    csv_folder: String,
}

/// A CSV drop folder must be an absolute path under `root` (`MERCHANT_CRM_EXPORT_ROOT`),
/// without `..`, and, when it exists, must not lead outside `root` through a link.
pub fn check_folder(folder: &str, root: &Path) -> Result<(), AppError> {
    let outside = || {
        AppError::Validation(format!(
            "A CSV drop folder must be an absolute path under {} (MERCHANT_CRM_EXPORT_ROOT), for example {}.",
            root.display(),
            root.join("house-name").display()
        ))
    };
    let p = Path::new(folder);
    if folder.is_empty()
        || !p.is_absolute()
        || p.components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || !p.starts_with(root)
        || p == root
    {
        return Err(outside());
    }
    if let (Ok(real), Ok(real_root)) = (p.canonicalize(), root.canonicalize()) {
        if !real.starts_with(&real_root) || real == real_root {
            return Err(outside());
        }
    }
    Ok(())
}

fn check(input: &HouseInput, existing: Option<&House>, export_root: &Path) -> Result<Checked, AppError> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::Validation(
            "A house needs a name of 1 to 100 characters.".into(),
        ));
    }
    let kind = match existing {
        Some(h) => h.kind(),
        None => HouseKind::from_form(&input.kind)?,
    };
    if kind == HouseKind::ClickBank && existing.is_none() {
        return Err(AppError::Validation(
            "There is one ClickBank house already; choose HTTP JSON or CSV drop folder.".into(),
        ));
    }
    let endpoint = input.endpoint.trim().to_string();
    let csv_folder = input.csv_folder.trim().to_string();
    match kind {
        HouseKind::HttpJson => {
            let u = url::Url::parse(&endpoint).map_err(|_| {
                AppError::Validation("The endpoint must be a full http:// or https:// address.".into())
            })?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(AppError::Validation(
                    "The endpoint must be a full http:// or https:// address.".into(),
                ));
            }
            // The stored key and secret go wherever the endpoint points: a new address needs
            // both typed again by whoever changes it.
            if let Some(h) = existing {
                if h.endpoint.trim() != endpoint
                    && (input.api_key.trim().is_empty() || input.signing_secret.trim().is_empty())
                {
                    return Err(AppError::Validation(
                        "A new endpoint needs the API key and the signing secret entered again (they are sent \
                         to the new address)."
                            .into(),
                    ));
                }
            }
            let has_key = !input.api_key.trim().is_empty() || existing.is_some_and(House::has_api_key);
            let has_secret =
                !input.signing_secret.trim().is_empty() || existing.is_some_and(House::has_secret);
            if !has_key || !has_secret {
                return Err(AppError::Validation(
                    "An HTTP JSON house needs its API key and a signing secret (the house checks the \
                     X-Signature header with it)."
                        .into(),
                ));
            }
        }
        HouseKind::CsvDrop => check_folder(&csv_folder, export_root)?,
        HouseKind::ClickBank => {}
    }
    Ok(Checked {
        name,
        kind,
        endpoint,
        csv_folder,
    })
}

pub fn list(conn: &mut DbConn) -> Result<Vec<House>, AppError> {
    Ok(fulfillment_houses::table
        .select(House::as_select())
        .order((fulfillment_houses::name.asc(), fulfillment_houses::id.asc()))
        .load(conn)?)
}

/// The house named `name` (any case) or numbered `name`, for the command line.
pub fn find_by_name_or_id(conn: &mut DbConn, name: &str) -> Result<House, AppError> {
    let name = name.trim();
    let found = list(conn)?
        .into_iter()
        .find(|h| h.name.eq_ignore_ascii_case(name) || h.id.to_string() == name);
    found.ok_or_else(|| {
        AppError::Validation(format!(
            "no fulfillment house is named or numbered {name:?} (see CRM → Fulfillment houses)"
        ))
    })
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<House, AppError> {
    Ok(fulfillment_houses::table
        .find(id)
        .select(House::as_select())
        .first(conn)?)
}

fn name_taken(conn: &mut DbConn, name: &str, except: Option<i64>) -> Result<bool, AppError> {
    let mut q = fulfillment_houses::table
        .filter(fulfillment_houses::name.eq(name))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(fulfillment_houses::id.ne(id));
    }
    Ok(q.count().get_result::<i64>(conn)? > 0)
}

pub fn create(
    conn: &mut DbConn,
    secrets: &SecretBox,
    actor: &Actor,
    input: &HouseInput,
    export_root: &Path,
) -> Result<House, AppError> {
    let c = check(input, None, export_root)?;
    conn.transaction(|conn| {
        if name_taken(conn, &c.name, None)? {
            return Err(AppError::Conflict(format!(
                "A house named {} exists already.",
                c.name
            )));
        }
        let seal = |v: &str| -> Result<Option<String>, AppError> {
            let v = v.trim();
            if v.is_empty() {
                Ok(None)
            } else {
                secrets.seal(v).map(Some)
            }
        };
        let id: i64 = diesel::insert_into(fulfillment_houses::table)
            .values((
                fulfillment_houses::name.eq(&c.name),
                fulfillment_houses::kind.eq(c.kind),
                fulfillment_houses::created_at.eq(crate::domain::now()),
                fulfillment_houses::endpoint.eq(&c.endpoint),
                fulfillment_houses::api_key_enc.eq(seal(&input.api_key)?),
                fulfillment_houses::signing_secret_enc.eq(seal(&input.signing_secret)?),
                fulfillment_houses::csv_folder.eq(&c.csv_folder),
                fulfillment_houses::active.eq(input.active),
            ))
            .returning(fulfillment_houses::id)
            .get_result(conn)?;
        audit::record(
            conn,
            actor,
            "fulfillment_house.create",
            &format!("fulfillment_house:{id}"),
            serde_json::json!({"name": c.name, "kind": c.kind.as_str()}),
        )?;
        find(conn, id)
    })
}

pub fn update(
    conn: &mut DbConn,
    secrets: &SecretBox,
    actor: &Actor,
    id: i64,
    input: &HouseInput,
    export_root: &Path,
) -> Result<House, AppError> {
    conn.transaction(|conn| {
        let existing = find(conn, id)?;
        let c = check(input, Some(&existing), export_root)?;
        if name_taken(conn, &c.name, Some(id))? {
            return Err(AppError::Conflict(format!(
                "A house named {} exists already.",
                c.name
            )));
        }
        diesel::update(fulfillment_houses::table.find(id))
            .set((
                fulfillment_houses::name.eq(&c.name),
                fulfillment_houses::endpoint.eq(&c.endpoint),
                fulfillment_houses::csv_folder.eq(&c.csv_folder),
                fulfillment_houses::active.eq(input.active || existing.is_dummy()),
            ))
            .execute(conn)?;
        let key_changed = !input.api_key.trim().is_empty();
        let secret_changed = !input.signing_secret.trim().is_empty();
        if key_changed {
            diesel::update(fulfillment_houses::table.find(id))
                .set(fulfillment_houses::api_key_enc.eq(Some(secrets.seal(input.api_key.trim())?)))
                .execute(conn)?;
        }
        if secret_changed {
            diesel::update(fulfillment_houses::table.find(id))
                .set(
                    fulfillment_houses::signing_secret_enc
                        .eq(Some(secrets.seal(input.signing_secret.trim())?)),
                )
                .execute(conn)?;
        }
        audit::record(
            conn,
            actor,
            "fulfillment_house.update",
            &format!("fulfillment_house:{id}"),
            serde_json::json!({"name": c.name, "active": input.active,
                               "api_key_changed": key_changed, "secret_changed": secret_changed}),
        )?;
        find(conn, id)
    })
}

/// "Assign to all products": every product ships from `id` from now on (items already
/// created keep their house; move those with a batch update). Returns how many changed.
pub fn assign_to_all_products(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<usize, AppError> {
    conn.transaction(|conn| {
        let h = find(conn, id)?;
        let n = diesel::update(products::table.filter(products::fulfillment_house_id.ne(id)))
            .set((
                products::fulfillment_house_id.eq(id),
                products::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "fulfillment_house.assign_all",
            &format!("fulfillment_house:{id}"),
            serde_json::json!({"name": h.name, "products": n}),
        )?;
        Ok(n)
    })
}

/// The clear keys of a house, held only while exporting.
pub struct HouseKeys {
    pub api_key: String,
    pub signing_secret: String,
}

impl std::fmt::Debug for HouseKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HouseKeys(..)")
    }
}

pub fn keys(h: &House, secrets: &SecretBox) -> Result<HouseKeys, AppError> {
    let open = |v: &Option<String>| -> Result<String, AppError> {
        v.as_deref()
            .map(|s| secrets.open(s))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(HouseKeys {
        api_key: open(&h.api_key_enc)?,
        signing_secret: open(&h.signing_secret_enc)?,
    })
}
