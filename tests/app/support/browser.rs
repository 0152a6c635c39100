//! A real browser (Debian's chromium + chromedriver, headless) and the few steps every browser
//! test takes: wait for an element, fill, click, read.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn which(env: &str, default: &str) -> String {
    let path = std::env::var(env).unwrap_or_else(|_| default.to_string());
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} not found: install Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver, as .ci/run does) or set {env}"
    );
    path
}

pub async fn browser() -> Browser {
    let driver_path = which("CHROMEDRIVER", "/usr/bin/chromedriver");
    let chrome = which("CHROME_BIN", "/usr/bin/chromium");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new(driver_path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chrome,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    let mut last_err = String::new();
    for _ in 0..50 {
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Browser {
                    client,
                    driver,
                    _profile: profile,
                }
            }
            Err(e) => {
                last_err = e.to_string();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("could not start a browser session: {last_err}");
}

/// Waits for `css`; on a timeout the panic shows the page the browser is on.
pub async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    match c.wait().for_element(Locator::Css(css)).await {
        Ok(el) => el,
        Err(e) => panic!(
            "{css}: {e}\n--- page ---\n{}",
            c.source().await.unwrap_or_default()
        ),
    }
}

pub async fn fill(c: &Client, css: &str, text: &str) {
    let el = find(c, css).await;
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

pub async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap();
}

pub async fn text_of(c: &Client, css: &str) -> String {
    find(c, css).await.text().await.unwrap()
}
