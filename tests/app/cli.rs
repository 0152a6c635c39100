//! The `merchant-crm` command line, run as a process against a fresh database.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::fresh_database_url;

fn crm(dir: &std::path::Path, url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    crm_env(dir, url, args, stdin, &[])
}

fn crm_env(
    dir: &std::path::Path,
    url: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_merchant-crm"))
        .args(args)
        .envs(env.iter().copied())
        .env("MERCHANT_CRM_DATA_DIR", dir)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run merchant-crm");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn migrate_and_user_commands() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path());
    let (ok, out) = crm(dir.path(), &url, &["migrate"], None);
    assert!(ok && out.contains("applied"), "{out}");
    let (ok, out) = crm(dir.path(), &url, &["migrate"], None);
    assert!(ok && out.contains("up to date"), "{out}");

    let (ok, out) = crm(
        dir.path(),
        &url,
        &[
            "user",
            "create",
            "--email",
            "Boss@Example.com",
            "--role",
            "admin",
            "--password",
            "long enough secret",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("created boss@example.com (Account executive)"),
        "{out}"
    );
    let (ok, out) = crm(
        dir.path(),
        &url,
        &[
            "user",
            "create",
            "--email",
            "staff@example.com",
            "--role",
            "merchant",
            "--password-stdin",
        ],
        Some("stdin password 12\n"),
    );
    assert!(ok, "{out}");

    let (ok, out) = crm(
        dir.path(),
        &url,
        &[
            "user",
            "create",
            "--email",
            "boss@example.com",
            "--role",
            "admin",
            "--password",
            "long enough secret",
        ],
        None,
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = crm(
        dir.path(),
        &url,
        &[
            "user",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "admin",
            "--password",
            "short",
        ],
        None,
    );
    assert!(!ok && out.contains("at least 12 characters"), "{out}");
    let (ok, out) = crm(
        dir.path(),
        &url,
        &[
            "user",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "owner",
            "--password",
            "long enough secret",
        ],
        None,
    );
    assert!(!ok && out.contains("Unknown role"), "{out}");

    let (ok, out) = crm(dir.path(), &url, &["user", "list"], None);
    assert!(ok, "{out}");
    assert!(
        out.contains("boss@example.com")
            && out.contains("staff@example.com")
            && out.contains("Merchant staff"),
        "{out}"
    );
    assert!(!out.contains("x@example.com"));
}

#[test]
fn api_user_commands() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path());
    let (ok, out) = crm(
        dir.path(),
        &url,
        &[
            "api-user",
            "create",
            "--login-id",
            "ins",
            "--password",
            "ins password 1234",
            "--allow-ip",
            "127.0.0.1",
            "--allow-ip",
            "AWS",
            "--permission",
            "import_order",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("created API user ins (allow: 127.0.0.1 AWS; permissions: import_order)"),
        "{out}"
    );
    let (ok, out) = crm(
        dir.path(),
        &url,
        &[
            "api-user",
            "create",
            "--login-id",
            "x",
            "--password",
            "ins password 1234",
            "--allow-ip",
            "127.0.0.1",
            "--permission",
            "import_order",
        ],
        None,
    );
    assert!(!ok && out.contains("login id must be"), "{out}");
    let (ok, out) = crm(
        dir.path(),
        &url,
        &[
            "api-user",
            "create",
            "--login-id",
            "house",
            "--password",
            "ins password 1234",
            "--allow-ip",
            "127.0.0.1",
            "--permission",
            "ship_it",
        ],
        None,
    );
    assert!(!ok && out.contains("Unknown permission"), "{out}");
    // Tied to a fulfillment house: by name in any case; an unknown one creates nothing.
    let shipper = |login: &str, house: &str| {
        crm(
            dir.path(),
            &url,
            &[
                "api-user",
                "create",
                "--login-id",
                login,
                "--password",
                "ins password 1234",
                "--allow-ip",
                "127.0.0.1",
                "--permission",
                "update_fulfillment",
                "--house",
                house,
            ],
            None,
        )
    };
    let (ok, out) = shipper("ghost", "No Such House");
    assert!(!ok && out.contains("no fulfillment house is named"), "{out}");
    let (ok, out) = shipper("shipper", "clickbank");
    assert!(ok && out.contains("updates only ClickBank's items"), "{out}");
    let (ok, out) = crm(dir.path(), &url, &["api-user", "list"], None);
    assert!(
        ok && out.contains("ins") && out.contains("import_order") && !out.contains("house"),
        "{out}"
    );
    assert!(out.contains("shipper") && !out.contains("ghost"), "{out}");
}

/// Runs the command on a blocking thread so the in-process sandbox keeps answering.
async fn crm_async(
    dir: std::path::PathBuf,
    url: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> (bool, String) {
    actix_web::rt::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        crm_env(&dir, &url, &a, None, &e)
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn plugin_commands_check_keys_with_clickbank() {
    let sb = crate::support::clickbank::sandbox().await;
    let env = vec![("CLICKBANK_API_BASE".to_string(), sb.base_url())];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let url = fresh_database_url(dir.path());
    let run = |args: &[&str]| {
        crm_async(
            d.clone(),
            url.clone(),
            args.iter().map(|s| s.to_string()).collect(),
            env.clone(),
        )
    };
    let (ok, out) = run(&[
        "plugin",
        "create-clickbank",
        "--site",
        sb.site(),
        "--api-key",
        "API-WRONG",
    ])
    .await;
    assert!(!ok && out.contains("ClickBank refused the connection"), "{out}");
    let (ok, out) = run(&[
        "plugin",
        "create-clickbank",
        "--site",
        sb.site(),
        "--api-key",
        sb.api_key(),
        "--secret-key",
        sb.secret_key(),
        "--include-test-transactions",
    ])
    .await;
    assert!(
        ok && out.contains("activated plugin ClickBank") && out.contains("connected to ClickBank"),
        "{out}"
    );
    let (ok, out) = run(&[
        "plugin",
        "create-clickbank",
        "--name",
        "Offline",
        "--site",
        "OTHER",
        "--api-key",
        "API-X",
        "--no-connect",
    ])
    .await;
    assert!(ok && out.contains("keys not checked"), "{out}");
    let (ok, out) = run(&["plugin", "list"]).await;
    assert!(
        ok && out.contains("ClickBank") && out.contains(sb.site()) && out.contains("Offline"),
        "{out}"
    );
    assert!(!out.contains(sb.api_key()), "keys never printed");
}

#[test]
fn decrypt_ins_prints_the_notification_or_a_clear_reason() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("unused.sqlite3").to_string_lossy().into_owned();
    let vector = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ins_v6_test_vector.json"
    );
    let (ok, out) = crm(
        dir.path(),
        &url,
        &[
            "clickbank",
            "decrypt-ins",
            "--secret-key",
            "G3B7H7T87J2E0VFN",
            vector,
        ],
        None,
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("pretty JSON");
    assert_eq!(v["transactionType"], "SALE");
    assert_eq!(v["vendor"], "TestVendorNickname");
    assert_eq!(v["lineItems"][0]["productTitle"], "A passed in title");

    let (ok, out) = crm(
        dir.path(),
        &url,
        &["clickbank", "decrypt-ins", "--secret-key", "WRONGKEY", vector],
        None,
    );
    assert!(
        !ok && out.contains("wrong secret key or damaged notification"),
        "{out}"
    );
    let body = std::fs::read_to_string(vector)
        .unwrap()
        .replace("TTBFd1FUWkRNamxCUlE9PQ==", "c2hvcnQ=");
    let (ok, out) = crm(
        dir.path(),
        &url,
        &["clickbank", "decrypt-ins", "--secret-key", "G3B7H7T87J2E0VFN"],
        Some(&body),
    );
    assert!(!ok && out.contains("iv must decode to 16 bytes"), "{out}");
    let (ok, out) = crm(
        dir.path(),
        &url,
        &["clickbank", "decrypt-ins", "--secret-key", "X"],
        Some("{\"hello\":1}"),
    );
    assert!(!ok && out.contains("body is not an INS envelope"), "{out}");
}
