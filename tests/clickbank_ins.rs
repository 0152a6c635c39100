//! INS codec: the public test vector, failure reasons, round trips, legacy cverify.

use std::collections::BTreeMap;

use aes::Aes256;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use merchant_crm::clickbank::ins::{
    clickbank_iv, decrypt_ins_to_pretty_json, derive_key, legacy, InsDecoder, InsEncoder, InsError,
};
use merchant_crm::clickbank::{LineItemType, TransactionType};

const SECRET: &str = "G3B7H7T87J2E0VFN";
const VECTOR: &str = r#"{"notification":"TR6oRInlNZ4Wg+se+8c1wcN/G/1sJ0xObOOLojbwylpOWZiZslQomEg4ztyJAJkvWZiC5tAqgQhiIrFRngZkwXdQ1jOsQ2/fpCdo+RTZDStdQZJqSnZSe8PaaW4UmP5+ib9i/SsRU2Cqa3N1uJDSJGcTYmBvD0DNeY8PsPfY3xhOh2BzF2auc3mZyNzy/crnJTOhnp6APycB3KCcDde1IKXkMIhjNjOU+ea3KspQZXESK3IzwnqS1ugeiCH6m3FJUI+DYHfg5vXBm0HV6l1kH5vx27WPObQVMw6VOVA4Wbxu/ZVCwm4ff12wFEvq1QwYhNCwaeq8XBevnLHkbWO3Om4nL7XjMR/iMcIfYMytdUh0pj3LuTbpYd2A+/EtGJzcFgUZ9QBXVsv0bvN9U2leS7X+mdNPOnJcYVjIBQt/Vuz8InLdy2CAUclP6sA4lkheZdhEgZrLHlktYOxP+lBaPhXxL/ooKytd85jEnnDrKjlbDY9ptMukI+rpDk+d6HJuoMLIy8P1t9aYAHIEsoEbjmderUJyCA2T5uSRLRRf9lHw0NH0KFNnbjJ/lVZjZXcSHdgvsqNDtKNewW2/uErBdIl+WPYxGrmqjdCilcZ7hyj6ZT4m/zvhw45T7ReBQuUAZjQkGErsSS2ZekvE1b6RKdxOM4RHmx7/LpTTEILyDddP6+F5JA83LdmNASheQxK9HGqOyy+3dZg3z0R80UCNkfkv2ZAQKid6ZrJJ+vunvDWAVXPX2quWKT+BDNT/orecbqIg6jkNkn9+7NsLAR0+f1vq8WHrNnYecAUWhxI2/ra8cTlfGRHNthz+D5P8ClpEOBxVS1ORXehO3lzY6A+o3nlkuM1s9chuh7FrxB3ovB0M/UOskt04wwy95l0Jfs94TTOOEFXAQSxlXNR8OsadlBfurf2fUCIBIRsMfAZL5LJMsDedSesOTtesUpgftbgrmydVcLjdiN27r4/bNjk5CmHIl8BNAC5LRVzWd3fiGkEjDDiGnSv6bmCjEbQIvCHL", "iv":"TTBFd1FUWkRNamxCUlE9PQ=="}"#;

#[test]
fn public_test_vector_decrypts_to_the_documented_payload() {
    let decoder = InsDecoder::new(SECRET);
    let text = decoder.decrypt(VECTOR.as_bytes()).unwrap();
    assert!(text.contains("\"TestVendorNickname\""));
    let n = decoder.decode(VECTOR.as_bytes()).unwrap();
    assert_eq!(n.transaction_type, TransactionType::Sale);
    assert_eq!(n.vendor.as_deref(), Some("TestVendorNickname"));
    assert_eq!(n.receipt, "********");
    assert!(n.is_test());
    assert_eq!(n.version.as_deref(), Some("6.0"));
    assert_eq!(n.attempt_count, Some(1));
    assert_eq!(n.line_items.len(), 1);
    let item = &n.line_items[0];
    assert_eq!(item.item_no, "1");
    assert_eq!(item.product_title.as_deref(), Some("A passed in title"));
    assert_eq!(item.shippable, Some(false));
    assert_eq!(item.recurring, Some(false));
    assert_eq!(item.quantity, Some(1));
    assert_eq!(item.line_item_type, Some(LineItemType::Original));
    assert_eq!(item.account_amount.as_ref().unwrap().as_str(), "1.00");
    assert_eq!(item.account_amount.as_ref().unwrap().to_minor("USD"), Ok(100));
    assert_eq!(n.email(), Some("testuser@somesite.com"));
    let contact = n.contact().unwrap();
    assert_eq!(contact.full_name.as_deref(), Some("Test User"));
    let pretty = decrypt_ins_to_pretty_json(SECRET, VECTOR.as_bytes()).unwrap();
    assert!(pretty.contains("\n  \"receipt\": \"********\""));
}

/// Re-wrap a ciphertext / IV into an envelope.
fn envelope(ciphertext: &[u8], iv: &[u8]) -> String {
    serde_json::json!({"notification": B64.encode(ciphertext), "iv": B64.encode(iv)}).to_string()
}

fn vector_parts() -> (Vec<u8>, Vec<u8>) {
    let v: serde_json::Value = serde_json::from_str(VECTOR).unwrap();
    (
        B64.decode(v["notification"].as_str().unwrap()).unwrap(),
        B64.decode(v["iv"].as_str().unwrap()).unwrap(),
    )
}

#[test]
fn wrong_key_is_rejected_with_its_reason() {
    let err = InsDecoder::new("WRONGKEY0000000")
        .decode(VECTOR.as_bytes())
        .unwrap_err();
    assert_eq!(err, InsError::WrongKeyOrDamaged);
    assert_eq!(err.to_string(), "wrong secret key or damaged notification");
    let err = decrypt_ins_to_pretty_json("ANOTHERKEY", VECTOR.as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "wrong secret key or damaged notification");
}

#[test]
fn cut_ciphertext_is_rejected() {
    let (ct, iv) = vector_parts();
    let decoder = InsDecoder::new(SECRET);
    // Cut inside a block.
    let cut = envelope(&ct[..ct.len() - 5], &iv);
    let err = decoder.decode(cut.as_bytes()).unwrap_err();
    assert!(matches!(err, InsError::CiphertextLength { .. }), "{err:?}");
    assert!(err.to_string().starts_with("damaged notification"));
    // Cut on a block boundary: decrypts to a JSON prefix without padding.
    let cut = envelope(&ct[..ct.len() - 32], &iv);
    assert_eq!(
        decoder.decode(cut.as_bytes()).unwrap_err(),
        InsError::WrongKeyOrDamaged
    );
    // A flipped byte in the last block ruins the padding and the text.
    let mut flipped = ct.clone();
    let n = flipped.len();
    flipped[n - 20] ^= 0x55;
    assert_eq!(
        decoder.decode(envelope(&flipped, &iv).as_bytes()).unwrap_err(),
        InsError::WrongKeyOrDamaged
    );
    // Empty ciphertext.
    assert!(matches!(
        decoder.decode(envelope(&[], &iv).as_bytes()),
        Err(InsError::CiphertextLength { len: 0 })
    ));
}

#[test]
fn bad_iv_is_rejected() {
    let (ct, _) = vector_parts();
    let err = InsDecoder::new(SECRET)
        .decode(envelope(&ct, b"short iv").as_bytes())
        .unwrap_err();
    assert_eq!(err, InsError::BadIv { len: 8 });
    assert_eq!(err.to_string(), "iv must decode to 16 bytes");
    let bad = r#"{"notification":"AAAA","iv":"%%%not base64%%%"}"#;
    assert_eq!(
        InsDecoder::new(SECRET)
            .decode(bad.as_bytes())
            .unwrap_err()
            .to_string(),
        "iv is not valid base64"
    );
    let bad = r#"{"notification":"***","iv":"TTBFd1FUWkRNamxCUlE9PQ=="}"#;
    assert_eq!(
        InsDecoder::new(SECRET)
            .decode(bad.as_bytes())
            .unwrap_err()
            .to_string(),
        "notification is not valid base64"
    );
}

#[test]
fn bodies_that_are_not_envelopes() {
    for body in [
        &b"not json at all"[..],
        br#"{"foo":1}"#,
        br#"{"notification":"abc"}"#,
        br#"[1,2,3]"#,
        b"",
        br#"ctransreceipt=ABC&cverify=1234"#,
    ] {
        let err = InsDecoder::new(SECRET).decode(body).unwrap_err();
        assert_eq!(err, InsError::NotEnvelope);
        assert_eq!(err.to_string(), "body is not an INS envelope");
    }
}

#[test]
fn non_json_and_non_notification_plaintexts() {
    let enc = InsEncoder::new(SECRET);
    let body = enc.encrypt(b"hello, this is not JSON");
    let err = InsDecoder::new(SECRET).decode(body.as_bytes()).unwrap_err();
    assert!(matches!(err, InsError::NotJson { .. }), "{err:?}");
    assert!(err.to_string().starts_with("decrypted notification is not JSON"));
    assert!(matches!(
        decrypt_ins_to_pretty_json(SECRET, body.as_bytes()),
        Err(InsError::NotJson { .. })
    ));
    let body = enc.encrypt(br#"{"hello":"world"}"#);
    let err = InsDecoder::new(SECRET).decode(body.as_bytes()).unwrap_err();
    assert!(matches!(err, InsError::InvalidNotification { .. }), "{err:?}");
    // Still printable by the CLI helper: it is JSON.
    assert!(decrypt_ins_to_pretty_json(SECRET, body.as_bytes())
        .unwrap()
        .contains("\"hello\""));
}

#[test]
fn old_senders_nul_padding_is_tolerated() {
    let plain = br#"{"transactionTime":"2023-07-28T02:07:57+00:00","receipt":"ABCD1234","transactionType":"SALE","vendor":"v"}"#;
    let mut buf = plain.to_vec();
    while buf.len() % 16 != 0 {
        buf.push(0);
    }
    let iv = clickbank_iv();
    let key = derive_key(SECRET);
    let n = buf.len();
    cbc::Encryptor::<Aes256>::new(&key.into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut buf, n)
        .unwrap();
    let body = envelope(&buf, &iv);
    let notification = InsDecoder::new(SECRET).decode(body.as_bytes()).unwrap();
    assert_eq!(notification.receipt, "ABCD1234");
}

#[test]
fn encoder_matches_clickbank_and_round_trips_every_type() {
    let iv = clickbank_iv();
    assert!(iv.iter().all(|b| b.is_ascii_graphic()));
    let decoder = InsDecoder::new(SECRET);
    let enc = InsEncoder::new(SECRET);
    // Our encoder reproduces the public vector bit for bit.
    let plain = decoder.decrypt(VECTOR.as_bytes()).unwrap();
    let (_, vector_iv) = vector_parts();
    let again = enc.encrypt_with_iv(plain.as_bytes(), &vector_iv.try_into().unwrap());
    let v: serde_json::Value = serde_json::from_str(VECTOR).unwrap();
    let w: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(v["notification"], w["notification"]);
    assert_eq!(v["iv"], w["iv"]);

    let mut types: Vec<TransactionType> = TransactionType::ALL.to_vec();
    types.push(TransactionType::Other("SOMETHING_NEW".into()));
    for (i, t) in types.iter().enumerate() {
        let time = if i % 2 == 0 {
            "20220810T162015-0700"
        } else {
            "2022-08-10T16:20:15-07:00"
        };
        let plain = serde_json::json!({
            "transactionTime": time,
            "receipt": format!("R{i:07}"),
            "transactionType": t.as_str(),
            "vendor": "demo",
            "affiliate": null,
            "role": "VENDOR",
            "totalAccountAmount": 9.06,
            "paymentMethod": "VISA",
            "totalOrderAmount": "11.94",
            "totalTaxAmount": 0,
            "totalShippingAmount": 0.00,
            "currency": "USD",
            "trackingCodes": ["abc"],
            "lineItems": [{
                "itemNo": "3", "productTitle": "Plan", "shippable": "false", "recurring": true,
                "accountAmount": 9.06, "quantity": "1", "lineItemType": "ORIGINAL",
                "paymentPlan": {"rebillStatus": "ACTIVE", "rebillFrequency": "MONTHLY",
                    "rebillAmount": 10.00, "paymentsProcessed": 1, "paymentsRemaining": 998,
                    "nextPaymentDate": "20220910T162015-0700"}
            }],
            "customer": {"billing": {"firstName": "<script>", "lastName": "O'Brien", "email": "x@example.com",
                "address": {"country": "US", "postalCode": "00501"}}},
            "upsell": {"upsellOriginalReceipt": "ORIG0001", "upsellFlowId": 55},
            "vendorVariables": {"v1": "a", "n": 2},
            "affiliateTrackingParameters": {"sub1": "x"},
            "version": 8.0,
            "attemptCount": 2
        })
        .to_string();
        let body = enc.encrypt(plain.as_bytes());
        let n = decoder.decode(body.as_bytes()).unwrap();
        assert_eq!(&n.transaction_type, t);
        assert_eq!(n.transaction_time.to_rfc3339(), "2022-08-10T23:20:15+00:00");
        assert_eq!(n.total_order_minor().unwrap(), 1194);
        assert_eq!(n.total_account_amount.as_ref().unwrap().as_str(), "9.06");
        assert_eq!(n.version.as_deref(), Some("8.0"));
        assert_eq!(n.attempt_count, Some(2));
        assert_eq!(n.tracking_codes, vec!["abc".to_string()]);
        let plan = n.line_items[0].payment_plan.as_ref().unwrap();
        assert_eq!(plan.payments_remaining, Some(998));
        assert_eq!(
            plan.rebill_amount.as_ref().unwrap().to_minor("USD").unwrap(),
            1000
        );
        assert_eq!(n.upsell.as_ref().unwrap().upsell_flow_id.as_deref(), Some("55"));
        assert_eq!(n.vendor_variables.get("n").map(String::as_str), Some("2"));
        assert_eq!(n.affiliate_tracking_parameters.len(), 1);
        assert_eq!(n.contact().unwrap().first_name.as_deref(), Some("<script>"));
        let key = &n.event_keys()[0];
        assert_eq!(
            key.as_key_string(),
            format!("DEMO|R{i:07}|{}|2022-08-10T23:20:15Z|3", t.as_str())
        );
    }
}

fn form(fields: &[(&str, &str)]) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn legacy_cverify_accepts_correct_and_rejects_tampered_posts() {
    let fields = form(&[
        ("ccustname", "Jane Doe"),
        ("ccustemail", "jane@example.com"),
        ("ctransreceipt", "95WJABGG"),
        ("ctransamount", "1194"),
        ("ctransaction", "SALE"),
        ("cproditem", "3"),
    ]);
    let body = legacy::sign_form(&fields, SECRET);
    let verified = legacy::verify_form(body.as_bytes(), SECRET).unwrap();
    assert_eq!(verified, fields);
    // The signature is sorted values joined by "|" plus the key: check one by hand.
    let code = legacy::cverify(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())), SECRET);
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(format!("jane@example.com|Jane Doe|3|SALE|1194|95WJABGG|{SECRET}").as_bytes());
    assert_eq!(code, hex::encode_upper(h.finalize())[..8]);

    let tampered = body.replace("ctransamount=1194", "ctransamount=1");
    assert_eq!(
        legacy::verify_form(tampered.as_bytes(), SECRET).unwrap_err(),
        InsError::CverifyMismatch
    );
    assert_eq!(
        legacy::verify_form(body.as_bytes(), "OTHERSECRET").unwrap_err(),
        InsError::CverifyMismatch
    );
    assert_eq!(
        legacy::verify_form(b"ctransreceipt=ABC", SECRET).unwrap_err(),
        InsError::MissingCverify
    );
}
