//! Fulfillment on SQLite:
//! 1. the CSV tracking import of 100,000 rows (every row checked, then all applied in one
//!    transaction) beside a baseline in the same run that parses the same file and applies
//!    the same updates with one prepared statement in one transaction (no checks);
//! 2. an export run of 50,000 HOLD items with bundling (two orders per customer within the
//!    bundle window, so 25,000 shipments) to a CSV drop folder, through the job's own code.
//!
//! `cargo bench --bench fulfillment_csv` (FULFILLMENT_BENCH_ROWS=100000, FULFILLMENT_BENCH_EXPORT=50000).

use std::time::Instant;

use diesel::prelude::*;
use merchant_crm::db::schema::fulfillments;
use merchant_crm::db::{Database, DbConn};
use merchant_crm::domain::context::JobContext;
use merchant_crm::domain::fulfillment::csv_import;
use merchant_crm::domain::fulfillment::export::{self, ExportContext};
use merchant_crm::domain::Actor;
use merchant_crm::secrets::SecretBox;

fn env_n(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn exec(conn: &mut DbConn, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// `n` orders `<prefix><i>` of one shippable product on `house`, two orders per customer
/// (customer ids from `first_customer`), 48 h and 47 h ago: all due, pairs bundle.
fn seed(conn: &mut DbConn, n: i64, prefix: &str, house: i64, product: i64, first_customer: i64) {
    let customers = n / 2 + 1;
    exec(
        conn,
        &format!(
            "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM seq WHERE n < {last}) \
             INSERT INTO customers (id, plugin_id, email, first_name, last_name, ship_address1, ship_city, \
             ship_postal_code, ship_country, created_at, updated_at) \
             SELECT {first_customer} + n, 1, '{prefix}' || n || '@example.com', 'Pat', 'Buyer', n || ' Main Street', \
             'Springfield', '62701', 'US', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM seq",
            last = customers - 1
        ),
    );
    exec(
        conn,
        &format!(
            "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM seq WHERE n < {last}) \
             INSERT INTO orders (plugin_id, campaign_id, customer_id, receipt, order_type, status, currency, \
             total_minor, transaction_time, created_at, updated_at) \
             SELECT 1, 1, {first_customer} + n / 2, '{prefix}' || n, 'SALE', 'COMPLETE', 'USD', 1999, \
             datetime('now', '-' || (48 - n % 2) || ' hours'), CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM seq",
            last = n - 1
        ),
    );
    exec(
        conn,
        &format!(
            "INSERT INTO order_items (order_id, product_id, item_no, title, line_item_type, quantity, amount_minor, \
             shippable, recurring) SELECT id, {product}, 'SKU{product}', 'Product', 'ORIGINAL', 1, 1999, 1, 0 \
             FROM orders WHERE receipt LIKE '{prefix}%'"
        ),
    );
    exec(
        conn,
        &format!(
            "INSERT INTO fulfillments (order_id, order_item_id, cycle, house_id, status, created_at, updated_at) \
             SELECT order_id, id, 1, {house}, 'HOLD', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM order_items \
             WHERE product_id = {product}"
        ),
    );
}

fn reset(conn: &mut DbConn) {
    exec(
        conn,
        "UPDATE fulfillments SET status = 'HOLD', tracking_number = NULL, carrier = NULL, method = NULL, \
         ship_date = NULL WHERE house_id = 1",
    );
}

/// The baseline: parse the same file, one prepared UPDATE per row by id, one transaction.
fn baseline(conn: &mut DbConn, bytes: &[u8]) -> usize {
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        let now = merchant_crm::domain::now();
        let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
        let mut n = 0;
        for rec in rdr.records() {
            let r = rec.expect("csv");
            let id: i64 = r[1].parse().expect("id");
            n += diesel::update(fulfillments::table.find(id))
                .set((
                    fulfillments::status.eq("SHIPPED"),
                    fulfillments::tracking_number.eq(&r[2]),
                    fulfillments::carrier.eq(&r[3]),
                    fulfillments::method.eq(&r[4]),
                    fulfillments::updated_at.eq(now),
                ))
                .execute(c)?;
        }
        Ok(n)
    })
    .expect("baseline")
}

fn main() {
    let rows = env_n("FULFILLMENT_BENCH_ROWS", 100_000);
    let export_n = env_n("FULFILLMENT_BENCH_EXPORT", 50_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let drop = dir.path().join("drop");
    std::fs::create_dir(&drop).unwrap();
    let db = Database::connect(dir.path().join("bench.sqlite3").to_str().unwrap(), 4).expect("db");
    db.migrate().expect("migrate");
    let mut conn = db.conn().expect("conn");
    let t = Instant::now();
    for sql in [
        "INSERT INTO plugins (name, site, api_key_enc, created_at, updated_at) VALUES ('Bench', 'BENCH', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)".to_string(),
        "INSERT INTO product_categories (name, created_at) VALUES ('Bench', CURRENT_TIMESTAMP)".to_string(),
        "INSERT INTO campaigns (plugin_id, currency, name, created_at) VALUES (1, 'USD', 'Bench_USD', CURRENT_TIMESTAMP)".to_string(),
        format!("INSERT INTO fulfillment_houses (name, kind, created_at, csv_folder, active) VALUES ('Drop', 'csv', CURRENT_TIMESTAMP, '{}', 1)", drop.display()),
        "INSERT INTO products (category_id, sku, title, shippable, fulfillment_house_id, created_at, updated_at) VALUES (1, 'SKU1', 'Mug', 1, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)".to_string(),
        "INSERT INTO products (category_id, sku, title, shippable, fulfillment_house_id, created_at, updated_at) VALUES (1, 'SKU2', 'Tee', 1, 2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)".to_string(),
    ] {
        exec(&mut conn, &sql);
    }
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        seed(c, rows, "R", 1, 1, 1);
        seed(c, export_n, "E", 2, 2, 1_000_000);
        Ok(())
    })
    .unwrap();
    exec(&mut conn, "ANALYZE");
    eprintln!(
        "seeded {rows} + {export_n} orders in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // The tracking file: orderId is the receipt, clientFulfillmentId the item.
    let ids: Vec<(i64, String)> = fulfillments::table
        .inner_join(merchant_crm::db::schema::orders::table)
        .filter(fulfillments::house_id.eq(1))
        .select((fulfillments::id, merchant_crm::db::schema::orders::receipt))
        .order(fulfillments::id.asc())
        .load(&mut *conn)
        .unwrap();
    let mut file = String::from("orderId,clientFulfillmentId,trackingNumber,carrier,method\n");
    for (id, receipt) in &ids {
        file.push_str(&format!("{receipt},{id},1Z{id:09},UPS,Ground\n"));
    }
    let bytes = file.into_bytes();
    let actor = Actor::cli();

    let (mut best_base, mut best_import) = (f64::MAX, f64::MAX);
    for _ in 0..2 {
        reset(&mut conn);
        let t = Instant::now();
        let n = baseline(&mut conn, &bytes);
        best_base = best_base.min(t.elapsed().as_secs_f64());
        assert_eq!(n as i64, rows);
        reset(&mut conn);
        let t = Instant::now();
        let report = csv_import::import(&mut conn, &actor, &bytes)
            .expect("import")
            .unwrap_or_else(|r| panic!("refused: {:?}", &r.errors[..r.errors.len().min(5)]));
        best_import = best_import.min(t.elapsed().as_secs_f64());
        assert_eq!(report.items as i64, rows);
    }
    let (import_rate, base_rate) = (rows as f64 / best_import, rows as f64 / best_base);
    println!(
        "fulfillment_csv (SQLite, {rows} tracking rows, {:.1} MiB): import {import_rate:.0} rows/s ({best_import:.2} s: check every row, then apply in one transaction) vs baseline {base_rate:.0} rows/s ({best_base:.2} s: parse + one prepared UPDATE per row, no checks); ratio {:.2}",
        bytes.len() as f64 / 1048576.0,
        import_rate / base_rate
    );
    drop_conn(conn);

    // The export run: 50,000 HOLD items, two per customer within the window.
    // The export never calls ClickBank: no API base is needed.
    let job = JobContext::new(db.clone(), SecretBox::new(&[7u8; 32]).unwrap(), "");
    let ctx = ExportContext::new(job, 60).unwrap();
    let summary = actix_web::rt::System::new().block_on(async move {
        let t = Instant::now();
        let s = export::run_house(&ctx, 2, "bench")
            .await
            .expect("export")
            .expect("lease");
        (s, t.elapsed().as_secs_f64())
    });
    let (s, secs) = summary;
    assert_eq!(s.items as i64, export_n);
    println!(
        "fulfillment_export (SQLite, {} HOLD items): {} shipments (bundled), {} failures, in {secs:.2} s ({:.0} items/s) to a CSV drop folder",
        s.items,
        s.shipments,
        s.failures,
        f64::from(s.items) / secs
    );
}

fn drop_conn(c: merchant_crm::db::PooledConn) {
    drop(c);
}
