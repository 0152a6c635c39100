//! INS decode throughput: decrypt + parse into typed notifications, against bare
//! AES-256-CBC decryption of the same bytes (baseline), measured in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes::Aes256;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use chrono::{TimeZone, Utc};
use merchant_crm::clickbank::ins::{derive_key, InsDecoder, InsEncoder};
use merchant_crm::clickbank::sandbox::{Sandbox, SandboxConfig};

const SECRET: &str = "BENCHSECRET0001";

/// Run `f` over all inputs repeatedly for about `budget`; returns items per second.
fn rate(budget: Duration, mut f: impl FnMut() -> usize) -> f64 {
    let mut done = 0usize;
    let started = Instant::now();
    while started.elapsed() < budget {
        done += f();
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let config = SandboxConfig {
        orders: 3_000,
        anchor: Some(Utc.with_ymd_and_hms(2025, 6, 15, 19, 0, 0).unwrap()),
        ..SandboxConfig::default()
    };
    let plaintexts = Sandbox::dataset_notifications(&config, 2_000);
    let encoder = InsEncoder::new(SECRET);
    let bodies: Vec<String> = plaintexts.iter().map(|p| encoder.encrypt(p.as_bytes())).collect();
    // The baseline works on the same ciphertext bytes, already out of base64.
    let raw: Vec<(Vec<u8>, [u8; 16])> = bodies
        .iter()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_str(b).expect("envelope");
            let ct = B64
                .decode(v["notification"].as_str().unwrap_or_default())
                .expect("base64");
            let iv: [u8; 16] = B64
                .decode(v["iv"].as_str().unwrap_or_default())
                .expect("iv")
                .try_into()
                .expect("16 bytes");
            (ct, iv)
        })
        .collect();
    let avg_len = bodies.iter().map(String::len).sum::<usize>() / bodies.len().max(1);
    let decoder = InsDecoder::new(SECRET);
    let key = derive_key(SECRET);

    // Warm up both paths.
    for b in bodies.iter().take(200) {
        black_box(decoder.decode(b.as_bytes()).expect("decodes"));
    }
    let budget = Duration::from_secs(3);
    let full = rate(budget, || {
        for b in &bodies {
            black_box(decoder.decode(black_box(b.as_bytes())).expect("decodes"));
        }
        bodies.len()
    });
    let baseline = rate(budget, || {
        for (ct, iv) in &raw {
            let mut buf = ct.clone();
            let plain = cbc::Decryptor::<Aes256>::new(&key.into(), iv.into())
                .decrypt_padded_mut::<NoPadding>(black_box(&mut buf))
                .expect("whole blocks");
            black_box(plain);
        }
        raw.len()
    });
    println!(
        "ins_decode: {:.0} notifications/s (decrypt+parse) vs {:.0}/s bare AES-CBC (baseline) ratio {:.2} [{} distinct bodies, avg {} bytes]",
        full,
        baseline,
        full / baseline,
        bodies.len(),
        avg_len
    );
}
