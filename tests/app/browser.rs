//! A real browser (Debian's chromium + chromedriver, headless) clicking through the portal
//! as a new account executive would. `.ci/run` installs both; set CHROMEDRIVER / CHROME_BIN
//! to use other paths.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::helpers::TestApp;

// The browser and its helpers live in `support::browser`; re-exported under their old path
// (`crate::browser::…`) for tests written against it.
pub use crate::support::browser::{browser, click, fill, find, text_of};

async fn sign_out(c: &Client) {
    click(c, ".usermenu summary").await;
    click(c, "#logout").await;
    find(c, "#login-submit").await;
}

#[actix_web::test]
async fn setup_login_create_user_logout_in_a_real_browser() {
    let app = TestApp::spawn().await;
    let b = browser().await;
    let c = &b.client;

    c.goto(&app.url("/")).await.unwrap();
    // Not signed in and no users: the portal leads to setup.
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "input[name=email]", "exec@example.com").await;
    fill(c, "input[name=password]", "browser password 1").await;
    fill(c, "input[name=password_confirm]", "browser password 1").await;
    click(c, "#setup-submit").await;
    assert_eq!(text_of(c, "#whoami").await, "exec@example.com");

    sign_out(c).await;
    fill(c, "input[name=email]", "exec@example.com").await;
    fill(c, "input[name=password]", "not my password").await;
    click(c, "#login-submit").await;
    assert!(text_of(c, "#login-error")
        .await
        .contains("Wrong email or password"));

    fill(c, "input[name=email]", "exec@example.com").await;
    fill(c, "input[name=password]", "browser password 1").await;
    click(c, "#login-submit").await;
    assert_eq!(text_of(c, "#whoami").await, "exec@example.com");

    click(c, "a[href='/admin/users']").await;
    fill(c, "#create-user input[name=email]", "staff@example.com").await;
    fill(c, "#create-user input[name=password]", "staff password 123").await;
    click(c, "#create-user button[type=submit]").await;
    assert!(text_of(c, ".flash-ok")
        .await
        .contains("User staff@example.com created."));
    assert!(text_of(c, "#users").await.contains("staff@example.com"));

    sign_out(c).await;
    fill(c, "input[name=email]", "staff@example.com").await;
    fill(c, "input[name=password]", "staff password 123").await;
    click(c, "#login-submit").await;
    assert_eq!(text_of(c, "#whoami").await, "staff@example.com");
    assert!(
        c.find(Locator::Css("a[href='/admin/users']")).await.is_err(),
        "merchant staff see no admin menu"
    );
    sign_out(c).await;
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    b.client.clone().close().await.unwrap();
}

#[actix_web::test]
async fn activate_clickbank_with_wrong_then_right_keys_in_a_real_browser() {
    let sb = crate::support::clickbank::sandbox().await;
    let app = crate::support::clickbank::portal_for(&sb).await;
    let b = browser().await;
    let c = &b.client;
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "input[name=email]", crate::helpers::ADMIN_EMAIL).await;
    fill(c, "input[name=password]", crate::helpers::ADMIN_PASSWORD).await;
    click(c, "#login-submit").await;
    click(c, "a[href='/admin/plugins']").await;

    fill(c, "#activate-clickbank input[name=site]", sb.site()).await;
    fill(c, "#activate-clickbank input[name=api_key]", "API-NOT-MY-KEY").await;
    fill(c, "#activate-clickbank input[name=secret_key]", sb.secret_key()).await;
    click(c, "#connect").await;
    let err = text_of(c, "#activate-error").await;
    assert!(err.contains("ClickBank refused the connection"), "{err}");

    fill(c, "#activate-clickbank input[name=api_key]", sb.api_key()).await;
    click(c, "#connect").await;
    assert!(text_of(c, ".flash-ok")
        .await
        .contains("Connected to ClickBank and activated ClickBank"));
    let url = text_of(c, "#ins-url").await;
    assert!(
        url.contains("/clickbank/?loginId=clickbank-ins&password=YOUR_API_USER_PASSWORD"),
        "{url}"
    );
    b.client.clone().close().await.unwrap();
}

#[actix_web::test]
async fn an_initial_import_fills_its_progress_bar_in_a_real_browser() {
    let sb = crate::support::clickbank::sandbox().await;
    let app = crate::support::clickbank::portal_for(&sb).await;
    crate::support::clickbank::activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let b = browser().await;
    let c = &b.client;
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "input[name=email]", crate::helpers::ADMIN_EMAIL).await;
    fill(c, "input[name=password]", crate::helpers::ADMIN_PASSWORD).await;
    click(c, "#login-submit").await;
    click(c, "a[href='/admin/plugins']").await;
    click(c, "#plugins a").await;
    fill(c, "#initial-import input[name=days_back]", "30").await;
    click(c, "#start-import").await;
    find(c, "#task-progress").await;
    let mut last = String::new();
    for _ in 0..120 {
        last = text_of(c, "#task-percent").await;
        if last == "100%" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(last, "100%", "the bar reached the end while the page was open");
    assert_eq!(text_of(c, "#task-state").await, "done");
    let imported: i64 = text_of(c, "#task-imported").await.parse().unwrap();
    assert!(imported > 0);
    b.client.clone().close().await.unwrap();
}
