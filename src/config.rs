//! Configuration: command-line flags, then environment, then an optional `KEY=VALUE` file,
//! then defaults. Validated once at start and passed around as data (no globals).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::RngCore;

use crate::error::AppError;

/// Everything the portal needs to start, already validated.
#[derive(Clone)]
pub struct Config {
    pub bind: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub secure_cookies: bool,
    pub session_key: Vec<u8>,
    pub public_url: Option<String>,
    pub trust_proxy: bool,
    pub pool_size: u32,
    pub time_zone: chrono_tz::Tz,
    pub master_key: Vec<u8>,
    /// Run the import scheduler in this process (`serve --no-jobs` turns it off).
    pub jobs: bool,
    /// Seconds between scheduler ticks (60; tests use less).
    pub scheduler_tick_secs: u64,
    /// Minutes between continuous order imports of a plugin.
    pub import_interval_minutes: i32,
    /// Minutes between two fulfillment exports of a house.
    pub export_interval_minutes: i32,
    /// ClickBank REST base URL (the sandbox's in demos and tests).
    pub clickbank_api_base: String,
    /// The folder under which CSV drop houses' folders must lie.
    pub export_root: PathBuf,
    pub ip_ranges: crate::domain::accounts::ip_allow::IpRanges,
    /// Seconds a session may be idle, and may live at all (enforced on the server).
    pub session_idle_secs: u64,
    pub session_absolute_secs: u64,
}

impl std::fmt::Debug for Config {
    // Hand-written so the session key can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("database", &redact_url(&self.database_url))
            .field("secure_cookies", &self.secure_cookies)
            .field("public_url", &self.public_url)
            .field("trust_proxy", &self.trust_proxy)
            .field("pool_size", &self.pool_size)
            .field("time_zone", &self.time_zone)
            .field("clickbank_api_base", &self.clickbank_api_base)
            .field("export_root", &self.export_root)
            .field("ip_ranges", &self.ip_ranges.loaded())
            .finish_non_exhaustive()
    }
}

/// Values given on the command line; they win over the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub config_file: Option<PathBuf>,
}

/// The settings table shown in README.md: (variable, default, meaning).
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "MERCHANT_CRM_BIND",
        "127.0.0.1:8080",
        "address:port the portal listens on",
    ),
    (
        "MERCHANT_CRM_DATA_DIR",
        "./data",
        "data folder (SQLite file, generated keys)",
    ),
    (
        "DATABASE_URL",
        "<data dir>/merchant-crm.sqlite3",
        "postgres://... for PostgreSQL, else a SQLite path",
    ),
    (
        "MERCHANT_CRM_SECURE_COOKIES",
        "0",
        "1 behind TLS: session cookie gets Secure",
    ),
    (
        "MERCHANT_CRM_SESSION_KEY",
        "generated into <data dir>/session.key",
        "base64 of >= 64 bytes; same on every process behind a load balancer",
    ),
    (
        "MERCHANT_CRM_PUBLIC_URL",
        "http://<bind>",
        "public base URL (used for URLs given to ClickBank)",
    ),
    (
        "MERCHANT_CRM_TRUST_PROXY",
        "0",
        "1: take the client IP from X-Forwarded-For (only behind your own proxy)",
    ),
    (
        "MERCHANT_CRM_POOL_SIZE",
        "8 (SQLite) / 16 (PostgreSQL)",
        "database connections per process",
    ),
    (
        "MERCHANT_CRM_TIME_ZONE",
        "UTC",
        "IANA zone used to display times, e.g. America/Los_Angeles",
    ),
    (
        "MERCHANT_CRM_EXPORT_ROOT",
        "<data dir>/exports",
        "CSV drop houses' folders must lie under this folder",
    ),
    (
        "MERCHANT_CRM_SESSION_IDLE_SECS",
        "7200",
        "a session unused this long ends (server-side)",
    ),
    (
        "MERCHANT_CRM_SESSION_ABSOLUTE_SECS",
        "43200",
        "a session ends this long after sign-in, however active",
    ),
    (
        "MERCHANT_CRM_CONFIG",
        "none",
        "optional file of KEY=VALUE lines with any of these settings",
    ),
];

impl Config {
    /// The server-side session timeouts.
    pub fn session_timeouts(&self) -> crate::domain::accounts::sessions::Timeouts {
        crate::domain::accounts::sessions::Timeouts {
            idle: chrono::Duration::seconds(self.session_idle_secs as i64),
            absolute: chrono::Duration::seconds(self.session_absolute_secs as i64),
        }
    }

    /// Loads from the process environment and the command line.
    pub fn load(overrides: &Overrides) -> Result<Self, AppError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::from_sources(&env, overrides)
    }

    /// Loads from an explicit environment map (tests pass their own).
    pub fn from_sources(env: &HashMap<String, String>, overrides: &Overrides) -> Result<Self, AppError> {
        let file_path = overrides
            .config_file
            .clone()
            .or_else(|| env.get("MERCHANT_CRM_CONFIG").map(PathBuf::from));
        let file = match file_path {
            Some(p) => read_config_file(&p)?,
            None => HashMap::new(),
        };
        let get = |key: &str| -> Option<String> {
            env.get(key)
                .or_else(|| file.get(key))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let bind = overrides
            .bind
            .clone()
            .or_else(|| get("MERCHANT_CRM_BIND"))
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        if bind.parse::<std::net::SocketAddr>().is_err() && !bind.contains(':') {
            return Err(AppError::Config(format!(
                "MERCHANT_CRM_BIND must be address:port, got {bind:?}"
            )));
        }
        let data_dir = overrides
            .data_dir
            .clone()
            .or_else(|| get("MERCHANT_CRM_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = overrides
            .database_url
            .clone()
            .or_else(|| get("DATABASE_URL"))
            .unwrap_or_else(|| {
                data_dir
                    .join("merchant-crm.sqlite3")
                    .to_string_lossy()
                    .into_owned()
            });
        let backend = crate::db::Backend::from_url(&database_url)?;
        let secure_cookies = parse_flag("MERCHANT_CRM_SECURE_COOKIES", get("MERCHANT_CRM_SECURE_COOKIES"))?;
        let trust_proxy = parse_flag("MERCHANT_CRM_TRUST_PROXY", get("MERCHANT_CRM_TRUST_PROXY"))?;
        let pool_size = match get("MERCHANT_CRM_POOL_SIZE") {
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| {
                    AppError::Config(format!("MERCHANT_CRM_POOL_SIZE must be 1..256, got {v:?}"))
                })?,
            None => match backend {
                crate::db::Backend::Sqlite => 8,
                crate::db::Backend::Postgres => 16,
            },
        };
        let time_zone = match get("MERCHANT_CRM_TIME_ZONE") {
            Some(v) => v.parse::<chrono_tz::Tz>().map_err(|_| {
                AppError::Config(format!(
                    "MERCHANT_CRM_TIME_ZONE must be an IANA zone like America/Los_Angeles, got {v:?}"
                ))
            })?,
            None => chrono_tz::UTC,
        };
        let public_url = get("MERCHANT_CRM_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string());
        if let Some(u) = &public_url {
            url::Url::parse(u).map_err(|e| {
                AppError::Config(format!("MERCHANT_CRM_PUBLIC_URL is not a URL ({e}): {u:?}"))
            })?;
        }
        let session_key = match get("MERCHANT_CRM_SESSION_KEY") {
            Some(v) => decode_key("MERCHANT_CRM_SESSION_KEY", &v, 64)?,
            None => load_or_create_key(&data_dir, "session.key", 64)?,
        };
        let master_key = match get("MERCHANT_CRM_MASTER_KEY") {
            Some(v) => decode_key("MERCHANT_CRM_MASTER_KEY", &v, 32)?,
            None => load_or_create_key(&data_dir, "master.key", 32)?,
        };
        if master_key.len() != 32 {
            return Err(AppError::Config(
                "MERCHANT_CRM_MASTER_KEY must decode to exactly 32 bytes".into(),
            ));
        }
        let clickbank_api_base = get("CLICKBANK_API_BASE")
            .unwrap_or_else(|| crate::clickbank::DEFAULT_BASE_URL.to_string())
            .trim_end_matches('/')
            .to_string();
        url::Url::parse(&clickbank_api_base)
            .map_err(|e| AppError::Config(format!("CLICKBANK_API_BASE is not a URL ({e})")))?;
        let jobs = !parse_flag("MERCHANT_CRM_NO_JOBS", get("MERCHANT_CRM_NO_JOBS"))?;
        let number = |name: &str, default: u64, max: u64| -> Result<u64, AppError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| AppError::Config(format!("{name} must be 1..{max}, got {v:?}"))),
            }
        };
        let scheduler_tick_secs = number("MERCHANT_CRM_SCHEDULER_TICK_SECS", 60, 3600)?;
        let import_interval_minutes = number("MERCHANT_CRM_IMPORT_INTERVAL_MINUTES", 15, 1440)? as i32;
        let export_interval_minutes = number("MERCHANT_CRM_EXPORT_INTERVAL_MINUTES", 60, 10080)? as i32;
        let export_root = get("MERCHANT_CRM_EXPORT_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("exports"));
        let export_root = if export_root.is_absolute() {
            export_root
        } else {
            std::env::current_dir()
                .map_err(|e| AppError::Config(format!("cannot read the current folder: {e}")))?
                .join(export_root)
        };
        let session_idle_secs = number("MERCHANT_CRM_SESSION_IDLE_SECS", 7200, 86400 * 30)?;
        let session_absolute_secs = number("MERCHANT_CRM_SESSION_ABSOLUTE_SECS", 43200, 86400 * 90)?;
        let ip_ranges = crate::domain::accounts::ip_allow::IpRanges::load(get)?;
        Ok(Config {
            session_idle_secs,
            session_absolute_secs,
            export_root,
            master_key,
            clickbank_api_base,
            jobs,
            scheduler_tick_secs,
            import_interval_minutes,
            export_interval_minutes,
            ip_ranges,
            bind,
            data_dir,
            database_url,
            secure_cookies,
            session_key,
            public_url,
            trust_proxy,
            pool_size,
            time_zone,
        })
    }
}

fn parse_flag(name: &str, value: Option<String>) -> Result<bool, AppError> {
    match value.as_deref() {
        None | Some("0") | Some("false") | Some("no") | Some("off") => Ok(false),
        Some("1") | Some("true") | Some("yes") | Some("on") => Ok(true),
        Some(other) => Err(AppError::Config(format!("{name} must be 1 or 0, got {other:?}"))),
    }
}

fn read_config_file(path: &Path) -> Result<HashMap<String, String>, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AppError::Config(format!("cannot read config file {}: {e}", path.display())))?;
    let mut map = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| {
            AppError::Config(format!("{} line {}: expected KEY=VALUE", path.display(), n + 1))
        })?;
        map.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
    }
    Ok(map)
}

fn decode_key(name: &str, value: &str, min_len: usize) -> Result<Vec<u8>, AppError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| AppError::Config(format!("{name} must be base64")))?;
    if bytes.len() < min_len {
        return Err(AppError::Config(format!(
            "{name} must decode to at least {min_len} bytes, got {}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Reads a random key from `data_dir/name`, creating it (mode 0600) on first use.
pub fn load_or_create_key(data_dir: &Path, name: &str, len: usize) -> Result<Vec<u8>, AppError> {
    let path = data_dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            crate::private_files::tighten(&path)?;
            decode_key(&path.display().to_string(), &text, len)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                AppError::Config(format!("cannot create data dir {}: {e}", data_dir.display()))
            })?;
            let mut key = vec![0u8; len];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let text = base64::engine::general_purpose::STANDARD.encode(&key);
            write_private(&path, text.as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(AppError::Config(format!("cannot read {}: {e}", path.display()))),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| AppError::Config(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(bytes)
        .map_err(|e| AppError::Config(format!("cannot write {}: {e}", path.display())))
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_use_sqlite_in_the_data_dir_and_generate_a_session_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[("MERCHANT_CRM_DATA_DIR", dir.path().to_str().unwrap())]);
        let a = Config::from_sources(&e, &Overrides::default()).unwrap();
        assert_eq!(a.bind, "127.0.0.1:8080");
        assert!(a.database_url.ends_with("merchant-crm.sqlite3"));
        assert_eq!(a.session_key.len(), 64);
        let b = Config::from_sources(&e, &Overrides::default()).unwrap();
        assert_eq!(a.session_key, b.session_key, "key is generated once and reused");
    }

    #[test]
    fn command_line_wins_over_environment_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("crm.env");
        std::fs::write(
            &file,
            "MERCHANT_CRM_BIND=127.0.0.1:7000\nMERCHANT_CRM_TIME_ZONE=Europe/Paris\n",
        )
        .unwrap();
        let e = env(&[
            ("MERCHANT_CRM_DATA_DIR", dir.path().to_str().unwrap()),
            ("MERCHANT_CRM_BIND", "127.0.0.1:7001"),
        ]);
        let o = Overrides {
            bind: Some("127.0.0.1:7002".into()),
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let c = Config::from_sources(&e, &o).unwrap();
        assert_eq!(c.bind, "127.0.0.1:7002");
        assert_eq!(
            c.time_zone,
            chrono_tz::Europe::Paris,
            "file value used when env is silent"
        );
        let c = Config::from_sources(
            &e,
            &Overrides {
                config_file: Some(file),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.bind, "127.0.0.1:7001", "env wins over the file");
    }

    #[test]
    fn bad_values_are_rejected_with_the_setting_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        for (k, v) in [
            ("MERCHANT_CRM_SECURE_COOKIES", "maybe"),
            ("MERCHANT_CRM_TIME_ZONE", "Mars/Base"),
            ("MERCHANT_CRM_POOL_SIZE", "0"),
            ("DATABASE_URL", "mysql://x"),
            ("MERCHANT_CRM_SESSION_KEY", "c2hvcnQ="),
        ] {
            let err = Config::from_sources(
                &env(&[("MERCHANT_CRM_DATA_DIR", d), (k, v)]),
                &Overrides::default(),
            )
            .err()
            .unwrap_or_else(|| panic!("{k}={v} accepted"));
            let msg = err.to_string();
            assert!(
                msg.contains(k.trim_start_matches("MERCHANT_CRM_")) || msg.contains("DATABASE_URL"),
                "{msg}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[
            ("MERCHANT_CRM_DATA_DIR", dir.path().to_str().unwrap()),
            ("DATABASE_URL", "postgres://crm:hunter2@db/crm"),
        ]);
        let c = Config::from_sources(&e, &Overrides::default()).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("session_key"), "{shown}");
    }
}
