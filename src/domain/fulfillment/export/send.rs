//! Sending a run's shipments: signed JSON POSTs in batches to an HTTP house (renewing the
//! lease after each), or one CSV file in a drop folder.

use std::collections::HashMap;

use super::wire::{ExportBatch, HouseAnswer, OutShipment, Sent};
use super::{renew, ExportContext, HTTP_BATCH, LEASE_LOST};
use crate::domain::fulfillment::houses::{self, House, HouseKeys, HouseKind};
use crate::domain::fulfillment::{sign, API_KEY_HEADER, SIGNATURE_HEADER};

/// Longest reason kept from a house's answer.
const MAX_REASON: usize = 500;

fn reason(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > MAX_REASON {
        format!("{}…", s.chars().take(MAX_REASON).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Sends `out` to the house; one outcome per shipment id.
pub(super) async fn send(
    ctx: &ExportContext,
    house: &House,
    keys: &HouseKeys,
    run_id: i64,
    out: &[OutShipment],
    runner: &str,
) -> HashMap<String, Sent> {
    let mut results = HashMap::new();
    if out.is_empty() {
        return results;
    }
    match house.kind() {
        HouseKind::HttpJson => {
            let mut lease = true;
            for batch in out.chunks(HTTP_BATCH) {
                if !lease {
                    // Another process may run this house now: send nothing more.
                    for s in batch {
                        results.insert(s.shipment_id.clone(), Sent::Failed(LEASE_LOST.into()));
                    }
                    continue;
                }
                let got = send_http(ctx, house, keys, run_id, batch).await;
                results.extend(got);
                // Keep the house while sending: a long run must not let another take it over.
                let (id, r) = (house.id, runner.to_string());
                lease = ctx.job.db.run(move |c| renew(c, id, &r)).await.unwrap_or(false);
            }
        }
        HouseKind::CsvDrop => {
            let folder = house.csv_folder.clone();
            let name = house.id;
            let rows = out.to_vec();
            let root = ctx.export_root.clone();
            let written = tokio::task::spawn_blocking(move || {
                if let Some(root) = &root {
                    houses::check_folder(&folder, root).map_err(|e| e.to_string())?;
                }
                write_csv(&folder, name, run_id, &rows)
            })
            .await
            .map_err(|e| format!("the CSV writer stopped: {e}"))
            .and_then(|r| r);
            for s in out {
                results.insert(
                    s.shipment_id.clone(),
                    match &written {
                        Ok(file) => Sent::Accepted {
                            house_ref: Some(file.clone()),
                        },
                        Err(e) => Sent::Failed(e.clone()),
                    },
                );
            }
        }
        HouseKind::ClickBank => {
            for s in out {
                results.insert(
                    s.shipment_id.clone(),
                    Sent::Failed("the ClickBank house is never exported".into()),
                );
            }
        }
    }
    results
}

async fn send_http(
    ctx: &ExportContext,
    house: &House,
    keys: &HouseKeys,
    run_id: i64,
    batch: &[OutShipment],
) -> HashMap<String, Sent> {
    let fail_all = |why: String| -> HashMap<String, Sent> {
        batch
            .iter()
            .map(|s| (s.shipment_id.clone(), Sent::Failed(why.clone())))
            .collect()
    };
    let body = match serde_json::to_vec(&ExportBatch {
        house: &house.name,
        run_id,
        shipments: batch,
    }) {
        Ok(b) => b,
        Err(e) => return fail_all(format!("cannot encode the batch: {e}")),
    };
    let signature = sign(&keys.signing_secret, &body);
    let resp = ctx
        .http
        .post(&house.endpoint)
        .header("content-type", "application/json")
        .header(API_KEY_HEADER, &keys.api_key)
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        // reqwest's error text names the URL, never the headers.
        Err(e) => return fail_all(reason(&format!("the house did not answer: {e}"))),
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return fail_all(reason(&format!("the house answered {status}: {text}")));
    }
    let answer: HouseAnswer = serde_json::from_str(&text).unwrap_or_default();
    let mut refs: HashMap<String, Option<String>> = HashMap::new();
    for a in answer.shipments {
        let r = a.id.map(|v| match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        });
        refs.insert(a.shipment_id, r);
    }
    let mut errors: HashMap<String, String> = HashMap::new();
    for e in answer.errors {
        let why = if e.error.trim().is_empty() {
            "refused by the house".to_string()
        } else {
            reason(&e.error)
        };
        errors.insert(e.shipment_id, why);
    }
    batch
        .iter()
        .map(|s| {
            let sent = match errors.remove(&s.shipment_id) {
                Some(why) => Sent::Failed(why),
                None => Sent::Accepted {
                    house_ref: refs.remove(&s.shipment_id).flatten(),
                },
            };
            (s.shipment_id.clone(), sent)
        })
        .collect()
}

/// The columns of a CSV drop file.
pub const DROP_HEADER: [&str; 15] = [
    "shipmentId",
    "clientFulfillmentId",
    "orderId",
    "sku",
    "title",
    "quantity",
    "name",
    "address1",
    "address2",
    "city",
    "state",
    "postalCode",
    "country",
    "email",
    "phone",
];

/// Writes one file for the run (under a temporary name, then renamed, so the house never
/// reads half a file); returns its name.
fn write_csv(folder: &str, house: i64, run_id: i64, out: &[OutShipment]) -> Result<String, String> {
    let dir = std::path::Path::new(folder);
    if !dir.is_dir() {
        return Err(format!(
            "the drop folder {folder} does not exist or is not a folder"
        ));
    }
    let name = format!("merchant-crm-house{house}-run{run_id}.csv");
    let tmp = dir.join(format!(".{name}.part"));
    let write = || -> Result<(), String> {
        let file = std::fs::File::create(&tmp).map_err(|e| format!("cannot write in {folder}: {e}"))?;
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
        let err = |e: csv::Error| format!("cannot write in {folder}: {e}");
        w.write_record(DROP_HEADER).map_err(err)?;
        for s in out {
            for i in &s.items {
                // A house's system reads this file, not a spreadsheet: values go as they are
                // (a phone number "+1 555…" must reach the house unchanged).
                w.write_record([
                    s.shipment_id.as_str(),
                    &i.client_fulfillment_id.to_string(),
                    &i.order_id,
                    &i.sku,
                    &i.title,
                    &i.quantity.to_string(),
                    &s.ship_to.name,
                    &s.ship_to.address1,
                    &s.ship_to.address2,
                    &s.ship_to.city,
                    &s.ship_to.state,
                    &s.ship_to.postal_code,
                    &s.ship_to.country,
                    &s.customer.email,
                    &s.customer.phone,
                ])
                .map_err(err)?;
            }
        }
        w.flush().map_err(|e| format!("cannot write in {folder}: {e}"))?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dir.join(&name)).map_err(|e| format!("cannot write in {folder}: {e}"))?;
    Ok(name)
}
