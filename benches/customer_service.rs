//! Customer Service at scale on SQLite: a database seeded with `dev seed` (1,000,000 orders by
//! default), then the server time of the pages staff use most — the campaign list at page 1
//! and page 5,000, an email search, a receipt search, a phone search by its last digits and the profile of a customer with 50
//! orders — each beside the same domain query run bare on one connection in the same run
//! (no HTTP, no pool, no template).
//!
//! `cargo bench --bench customer_service` (CS_BENCH_ORDERS=1000000 by default).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use merchant_crm::config::{Config, Overrides};
use merchant_crm::db::{Database, DbConn};
use merchant_crm::domain::customer_service::customers;
use merchant_crm::domain::customer_service::search::{self as cs, Cursor, Direction, SearchFilter};
use merchant_crm::Application;

const RUNS: usize = 120;
const PASSWORD: &str = "bench password 0123456789";

fn percentile(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

type Bare = Box<dyn Fn(&mut DbConn)>;

fn main() {
    let orders: u64 = std::env::var("CS_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tmp");
    let overrides = Overrides {
        bind: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().to_path_buf()),
        database_url: Some(dir.path().join("bench.sqlite3").to_string_lossy().into_owned()),
        config_file: None,
    };
    let mut config = Config::from_sources(&Default::default(), &overrides).expect("config");
    config.jobs = false;
    let db = Database::connect(&config.database_url, config.pool_size).expect("db");
    db.migrate().expect("migrate");
    let secrets = merchant_crm::secrets::SecretBox::new(&config.master_key).expect("key");
    let t = Instant::now();
    let seed = merchant_crm::dev::seed(&db, &secrets, orders).expect("seed");
    println!(
        "seeded {} orders, {} customers in {:.1} s",
        seed.orders,
        seed.customers,
        t.elapsed().as_secs_f64()
    );

    // The cases and their bare equivalents.
    let mut conn = db.conn().expect("conn");
    let (usd, _) = seed.campaigns[0].clone();
    use diesel::prelude::*;
    use merchant_crm::db::schema::{customers as cu, orders as o};
    let in_usd: i64 = o::table
        .filter(o::campaign_id.eq(usd))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let deep = (in_usd / cs::PAGE_SIZE - 1).min(5000);
    println!(
        "campaign list deep page: page {deep} of {}",
        in_usd / cs::PAGE_SIZE
    );
    let (t5000, id5000): (chrono::NaiveDateTime, i64) = o::table
        .filter(o::campaign_id.eq(usd))
        .order((o::transaction_time.desc(), o::id.desc()))
        .select((o::transaction_time, o::id))
        .offset(deep * cs::PAGE_SIZE - 1)
        .first(&mut *conn)
        .expect("the deep page");
    let page5000 = Cursor {
        time: t5000,
        id: id5000,
    };
    let email: String = cu::table
        .filter(cu::plugin_id.eq(seed.plugin_id))
        .order(cu::id)
        .offset((seed.customers / 2) as i64)
        .select(cu::email)
        .first(&mut *conn)
        .unwrap();
    // A phone typed as staff do: its last 7 digits, with a space (stored "+1555…").
    let phone: String = cu::table
        .filter(cu::email.eq(&email))
        .select(cu::phone)
        .first::<String>(&mut *conn)
        .map(|p| {
            let d: String = p.chars().filter(char::is_ascii_digit).collect();
            let last = &d[d.len().saturating_sub(7)..];
            format!("{} {}", &last[..3.min(last.len())], &last[3.min(last.len())..])
        })
        .unwrap();
    let receipt: String = o::table
        .order(o::id)
        .offset((orders / 2) as i64)
        .select(o::receipt)
        .first(&mut *conn)
        .unwrap();
    let fifty = seed.fifty_customer_id;
    let campaign = move |f: SearchFilter| SearchFilter {
        campaign_id: Some(usd),
        ..f
    };
    let cases: Vec<(&str, String, Bare)> = vec![
        (
            "campaign list, page 1",
            format!("/customer-service?campaign={usd}"),
            Box::new(move |c| {
                cs::orders_page(c, &campaign(SearchFilter::default()), None, Direction::After).unwrap();
            }),
        ),
        (
            "campaign list, page 5,000",
            format!("/customer-service?campaign={usd}&after={}", page5000.encode()),
            Box::new(move |c| {
                cs::orders_page(
                    c,
                    &campaign(SearchFilter::default()),
                    Some(page5000),
                    Direction::After,
                )
                .unwrap();
            }),
        ),
        ("email search", format!("/customer-service?email={email}"), {
            let email = email.clone();
            Box::new(move |c| {
                let f = SearchFilter {
                    email: Some(email.clone()),
                    ..Default::default()
                };
                cs::orders_page(c, &f, None, Direction::After).unwrap();
            })
        }),
        (
            "receipt search",
            format!("/customer-service?receipt={receipt}"),
            {
                let receipt = receipt.clone();
                Box::new(move |c| {
                    let f = SearchFilter {
                        receipt: Some(receipt.clone()),
                        ..Default::default()
                    };
                    cs::orders_page(c, &f, None, Direction::After).unwrap();
                })
            },
        ),
        (
            "phone search (last 7 digits)",
            format!("/customer-service?phone={}", phone.replace(' ', "+")),
            {
                let phone = phone.clone();
                Box::new(move |c| {
                    let f = SearchFilter {
                        phone: Some(phone.clone()),
                        ..Default::default()
                    };
                    let page = cs::orders_page(c, &f, None, Direction::After).unwrap();
                    assert!(!page.rows.is_empty(), "the phone finds its customer");
                })
            },
        ),
        (
            "profile, 50 orders",
            format!("/customers/{fifty}"),
            Box::new(move |c| {
                let p = customers::profile(c, fifty).unwrap();
                assert_eq!(p.orders.len(), 50);
            }),
        ),
    ];

    // Bare: the same query functions on one connection.
    let mut bare = Vec::new();
    for (_, _, f) in &cases {
        for _ in 0..10 {
            f(&mut conn);
        }
        let mut v = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            f(&mut conn);
            v.push(t.elapsed());
        }
        bare.push(v);
    }
    drop(conn);

    actix_web::rt::System::new().block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let app = Application::from_parts(config, db.clone(), listener).expect("app");
        let base = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let csrf = |body: &str| {
            body.split("name=\"csrf_token\" value=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default()
                .to_string()
        };
        let page = client.get(format!("{base}/setup")).send().await.unwrap().text().await.unwrap();
        let r = client
            .post(format!("{base}/setup"))
            .form(&[
                ("csrf_token", csrf(&page).as_str()),
                ("email", "bench@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "setup");

        println!(
            "{:<28} {:>9} {:>9} {:>12} {:>12} {:>8} {:>8}",
            "page (SQLite)", "p50 ms", "p95 ms", "bare p50 ms", "bare p95 ms", "ratio", "1ms-floor"
        );
        let mut worst = 0.0f64;
        let mut worst_p95 = 0.0f64;
        for ((name, path, _), bare) in cases.iter().zip(bare) {
            let url = format!("{base}{path}");
            for _ in 0..10 {
                let r = client.get(&url).send().await.unwrap();
                assert_eq!(r.status(), 200, "{path}");
                r.bytes().await.unwrap();
            }
            let mut v = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let t = Instant::now();
                let r = client.get(&url).send().await.unwrap();
                let body = r.bytes().await.unwrap();
                v.push(t.elapsed());
                assert!(!body.is_empty());
            }
            let (p50, p95) = (percentile(v.clone(), 0.5), percentile(v, 0.95));
            let (b50, b95) = (percentile(bare.clone(), 0.5), percentile(bare, 0.95));
            // Raw ratio, and the ratio with the bare time floored at 1 ms: a request costs
            // a fixed fraction of a millisecond (session, user, template, loopback) that
            // a sub-millisecond query cannot be within 2x of.
            let ratio = p95 / b95;
            let floored = p95 / b95.max(1.0);
            worst = worst.max(floored);
            worst_p95 = worst_p95.max(p95);
            println!("{name:<28} {p50:>9.2} {p95:>9.2} {b50:>12.2} {b95:>12.2} {ratio:>8.2} {floored:>8.2}");
        }
        // Totals of the whole campaign (loaded by the page after it renders).
        let url = format!("{base}/customer-service/totals?campaign={usd}&format=json");
        let mut v = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            client.get(&url).send().await.unwrap().bytes().await.unwrap();
            v.push(t.elapsed());
        }
        println!(
            "totals of the campaign (async, {} orders): p50 {:.1} ms",
            orders,
            percentile(v, 0.5)
        );
        println!(
            "targets: p95 < 50 ms each (worst {worst_p95:.2} ms) and within 2x of bare SQL (worst 1 ms-floor ratio {worst:.2})"
        );
    });
}
