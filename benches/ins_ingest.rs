//! INS ingest over HTTP on SQLite: encrypted SALE notifications POSTed to a running portal
//! (auth, raw store, decrypt, apply) by concurrent clients on the same machine, beside a
//! baseline endpoint in the same run that only stores the raw body in the same kind of
//! database. Prints notifications/s and p50/p99 latency for both, and the ratio.
//!
//! `cargo bench --bench ins_ingest` (INS_BENCH_N=5000 INS_BENCH_CONCURRENCY=16 by default).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use merchant_crm::clickbank::{Sandbox, SandboxConfig, TransactionType};
use merchant_crm::config::{Config, Overrides};
use merchant_crm::db::Database;
use merchant_crm::domain::{accounts::api_users, accounts::passwords, plugins, sync::inbox, Actor};
use merchant_crm::Application;

const LOGIN: &str = "bench-ins";
const PASSWORD: &str = "bench password 0123456789";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Run {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

async fn blast(url: String, bodies: Vec<String>, concurrency: usize) -> Run {
    let client = reqwest::Client::new();
    let chunks: Vec<Vec<String>> = {
        let mut c: Vec<Vec<String>> = vec![Vec::new(); concurrency];
        for (i, b) in bodies.into_iter().enumerate() {
            c[i % concurrency].push(b);
        }
        c
    };
    let start = Instant::now();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (client, url) = (client.clone(), url.clone());
            actix_web::rt::spawn(async move {
                let mut lat = Vec::with_capacity(chunk.len());
                for body in chunk {
                    let t = Instant::now();
                    let r = client.post(&url).body(body).send().await.expect("post");
                    assert!(r.status().is_success(), "status {}", r.status());
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let elapsed = start.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Run {
        rate: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn fresh_config(dir: &std::path::Path) -> Config {
    let overrides = Overrides {
        bind: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        database_url: Some(dir.join("bench.sqlite3").to_string_lossy().into_owned()),
        config_file: None,
    };
    Config::from_sources(&Default::default(), &overrides).expect("config")
}

fn main() {
    let n = env_usize("INS_BENCH_N", 5000);
    let concurrency = env_usize("INS_BENCH_CONCURRENCY", 16);
    actix_web::rt::System::new().block_on(async move {
        let sb = Sandbox::start(SandboxConfig { bind: "127.0.0.1:0".parse().unwrap(), orders: 50, ..Default::default() })
            .expect("sandbox");
        let bodies: Vec<String> =
            (0..n).map(|_| sb.encrypt(&sb.create_event(&TransactionType::Sale).plaintext)).collect();

        // The portal.
        let dir = tempfile::tempdir().expect("tmp");
        let config = fresh_config(dir.path());
        let db = Database::connect(&config.database_url, config.pool_size).expect("db");
        db.migrate().expect("migrate");
        let secrets = merchant_crm::secrets::SecretBox::new(&config.master_key).expect("key");
        let input = plugins::PluginInput::basic("ClickBank", sb.site(), sb.api_key(), sb.secret_key())
            .expect("plugin");
        let hash = passwords::hash(PASSWORD).expect("hash");
        let api = api_users::ApiUserInput::new(LOGIN, "127.0.0.1", vec![api_users::Permission::ImportOrder]).expect("api user");
        {
            let mut c = db.conn().expect("conn");
            plugins::create(&mut c, &Actor::cli(), &secrets, &input, false).expect("create plugin");
            api_users::create(&mut c, &Actor::cli(), &api, &hash).expect("create api user");
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let app = Application::from_parts(config, db.clone(), listener).expect("app");
        let url = format!("http://127.0.0.1:{}/clickbank/?loginId={LOGIN}&password={}", app.port(), PASSWORD.replace(' ', "%20"));
        actix_web::rt::spawn(app.run_until_stopped());

        // The baseline: store the raw body only, same database engine and pool size.
        let bdir = tempfile::tempdir().expect("tmp");
        let bconfig = fresh_config(bdir.path());
        let bdb = Database::connect(&bconfig.database_url, bconfig.pool_size).expect("db");
        bdb.migrate().expect("migrate");
        let data = web::Data::new(bdb.clone());
        let blistener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let bport = blistener.local_addr().expect("addr").port();
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route(
                "/store",
                web::post().to(|db: web::Data<Database>, body: web::Bytes| async move {
                    let text = String::from_utf8_lossy(&body).into_owned();
                    db.run(move |c| inbox::store(c, "127.0.0.1", None, &text)).await.map(|_| HttpResponse::Ok().body("OK"))
                }),
            )
        })
        .listen(blistener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);

        // Warm up both, then measure.
        let warm: Vec<String> = bodies.iter().take(50).cloned().collect();
        blast(format!("http://127.0.0.1:{bport}/store"), warm.clone(), 4).await;
        let base = blast(format!("http://127.0.0.1:{bport}/store"), bodies.clone(), concurrency).await;
        let started = Instant::now();
        let real = blast(url, bodies, concurrency).await;
        // Acceptance is what ClickBank waits for; applying happens right behind it. Measure
        // until every notification is applied, too.
        loop {
            let backlog = db.read(inbox::backlog).await.expect("backlog");
            if backlog == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let applied_rate = n as f64 / started.elapsed().as_secs_f64();

        let orders = db.run(|c| {
            use diesel::prelude::*;
            Ok(merchant_crm::db::schema::orders::table.count().get_result::<i64>(c)?)
        })
        .await
        .expect("count");
        if orders as usize != n {
            let reasons = db
                .run(|c| {
                    use diesel::prelude::*;
                    use merchant_crm::db::schema::inbound_notifications as i;
                    Ok(i::table
                        .filter(i::status.ne("processed"))
                        .select((i::status, i::error))
                        .limit(5)
                        .load::<(String, Option<String>)>(c)?)
                })
                .await
                .expect("reasons");
            panic!("{orders} orders from {n} SALEs; not processed: {reasons:?}");
        }
        println!(
            "ins_ingest (SQLite, {n} SALEs, {concurrency} clients): {:.0} notifications/s accepted p50 {:.1} ms p99 {:.1} ms \
             vs baseline (store raw body only) {:.0}/s p50 {:.1} ms p99 {:.1} ms; ratio {:.2}; \
             all applied (orders created) at {:.0}/s end to end",
            real.rate,
            real.p50.as_secs_f64() * 1e3,
            real.p99.as_secs_f64() * 1e3,
            base.rate,
            base.p50.as_secs_f64() * 1e3,
            base.p99.as_secs_f64() * 1e3,
            real.rate / base.rate,
            applied_rate
        );
    });
}
