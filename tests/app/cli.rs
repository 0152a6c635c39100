//! The `merchant-crm` command line, run as a process against a fresh database.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::fresh_database_url;

fn crm(dir: &std::path::Path, url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_merchant-crm"))
        .args(args)
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
    let (ok, out) = crm(dir.path(), &url, &["api-user", "list"], None);
    assert!(
        ok && out.contains("ins") && out.contains("import_order") && !out.contains("house"),
        "{out}"
    );
}
