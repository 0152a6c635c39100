//! A CSV file of shipping addresses on the Fulfillment page: all or nothing like the tracking
//! files; a good file gives each customer the address through the profile's code (waiting
//! items released, items at a house keep theirs) and the next run sends them; the customers
//! that wait download as a file to fill in; the upload needs a signed-in user and the token.

use diesel::prelude::*;
use merchant_crm::db::schema::{audit_log, customers};

use crate::support::builders::SaleBuilder;
use crate::support::fulfillment::*;

/// (first name, street, city, postal code, country) the customer's row has.
async fn saved(fx: &Fx, email: &str) -> (String, String, String, String, String) {
    let email = email.to_string();
    fx.app
        .db
        .read(move |c| {
            Ok(customers::table
                .filter(customers::email.eq(email))
                .select((
                    customers::ship_first_name,
                    customers::ship_address1,
                    customers::ship_city,
                    customers::ship_postal_code,
                    customers::ship_country,
                ))
                .first(c)?)
        })
        .await
        .unwrap()
}

async fn audits(fx: &Fx, action: &'static str) -> i64 {
    fx.app
        .db
        .read(move |c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq(action))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap()
}

async fn send(fx: &Fx, name: &str, data: &[u8]) -> reqwest::Response {
    let token = fx.app.csrf("/fulfillment").await;
    upload_to(&fx.app, "/fulfillment/addresses", Some(&token), name, data).await
}

/// Nia and Lee wait for an address; Sam's first order is at the house, his second on hold.
async fn three_customers(fx: &Fx) -> (tempfile::TempDir, i64) {
    let (drop, house) = drop_house(&fx.app).await;
    product_on(fx, "MUG", house, 0).await;
    apply(
        fx,
        SaleBuilder::new("SAM00001")
            .email("sam@example.com")
            .address("1 Elm Road")
            .hours_ago(6)
            .build(),
    )
    .await;
    assert_eq!(run_export(&fx.app, house).await.shipments, 1);
    for (receipt, email) in [("NIA00001", "nia@example.com"), ("LEE00001", "lee@example.com")] {
        apply(fx, SaleBuilder::new(receipt).email(email).address("").build()).await;
        assert_eq!(item_of(fx, receipt).await.0, "NEEDS_ADDRESS");
    }
    apply(
        fx,
        SaleBuilder::new("SAM00002")
            .email("sam@example.com")
            .address("")
            .build(),
    )
    .await;
    assert_eq!(
        item_of(fx, "SAM00002").await,
        ("HOLD".into(), "1 Elm Road".into())
    );
    (drop, house)
}

#[actix_web::test]
async fn a_file_of_addresses_releases_the_waiting_items_and_the_next_run_sends_them() {
    let fx = fixture().await;
    let (drop, house) = three_customers(&fx).await;

    // The page shows the columns and offers the waiting customers as a file to fill in.
    let page = fx.app.get_text("/fulfillment").await;
    assert!(
        page.contains("<code id=\"address-header\">receipt,email,firstName,lastName,address1,address2,city,state,postalCode,country</code>"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/fulfillment/addresses/waiting.csv\""),
        "{page}"
    );
    let waiting = fx.app.get_text("/fulfillment/addresses/waiting.csv").await;
    let waiting = waiting
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for spreadsheets");
    let lines: Vec<&str> = waiting.lines().collect();
    assert_eq!(
        lines,
        [
            "receipt,email,firstName,lastName,address1,address2,city,state,postalCode,country",
            "NIA00001,nia@example.com,Pat,Buyer,,,Springfield,IL,62701,US",
            "LEE00001,lee@example.com,Pat,Buyer,,,Springfield,IL,62701,US",
        ],
        "{waiting}"
    );

    // Headers in another order and case; Nia by email, Lee by receipt, Sam by both; Nia's row
    // repeated as it is. No name columns: the customers keep their names.
    let file = "\u{feff}Email , RECEIPT,City,Postal Code,Street,country,State\r\n\
                nia@example.com,,Springfield,62701,9 Harbour Lane,us,IL\r\n\
                ,LEE00001,Chicago,60601,\"4 Birch Ave, Apt 2\",US,IL\r\n\
                SAM@example.com,SAM00002,Boston,02101,12 Oak St,US,MA\r\n\
                nia@example.com,,Springfield,62701,9 Harbour Lane,US,IL\r\n";
    let r = send(&fx, "addresses.csv", file.as_bytes()).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"], "/fulfillment#addresses");
    let page = fx.app.get_text("/fulfillment").await;
    assert!(
        page.contains(
            "Imported the address file: 4 row(s), 3 customer(s) updated; 3 item(s) not at a house yet took the new \
             address (2 that waited for an address now on HOLD for the next export). 1 item(s) already at a house keep the address they \
             were sent with: ask the house to change it. 1 repeated row(s) were counted once."
        ),
        "{page}"
    );
    assert!(
        !page.contains("id=\"needs-address\""),
        "nobody waits any more: {page}"
    );
    assert_eq!(
        item_of(&fx, "NIA00001").await,
        ("HOLD".into(), "9 Harbour Lane".into())
    );
    assert_eq!(
        item_of(&fx, "LEE00001").await,
        ("HOLD".into(), "4 Birch Ave, Apt 2".into())
    );
    assert_eq!(
        item_of(&fx, "SAM00002").await,
        ("HOLD".into(), "12 Oak St".into())
    );
    let (status, street) = item_of(&fx, "SAM00001").await;
    assert_ne!(status, "HOLD");
    assert_eq!(street, "1 Elm Road", "the item at the house keeps its address");
    assert_eq!(
        saved(&fx, "sam@example.com").await,
        (
            "".into(),
            "12 Oak St".into(),
            "Boston".into(),
            "02101".into(),
            "US".into()
        )
    );
    // Audited as the profile edit is (one per customer), and the file once.
    assert_eq!(audits(&fx, "customer.shipping_address").await, 3);
    assert_eq!(audits(&fx, "fulfillment.address_import").await, 1);
    let waiting = fx.app.get_text("/fulfillment/addresses/waiting.csv").await;
    assert_eq!(waiting.lines().count(), 1, "only the header is left: {waiting}");

    // A column the file has sets it; a column it leaves out keeps what the customer has.
    let r = send(&fx, "names.csv", b"email,firstName,address1,city,postalCode,country\nsam@example.com,Samuel,12 Oak St,Boston,02101,US\n").await;
    assert_eq!(r.status(), 303);
    let r = send(
        &fx,
        "street.csv",
        b"email,address1,city,postalCode,country\nsam@example.com,14 Oak St,Boston,02101,US\n",
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        saved(&fx, "sam@example.com").await,
        (
            "Samuel".into(),
            "14 Oak St".into(),
            "Boston".into(),
            "02101".into(),
            "US".into()
        )
    );
    assert_eq!(item_of(&fx, "SAM00002").await.1, "14 Oak St");

    // The next run sends them, with their streets.
    let run = run_export(&fx.app, house).await;
    assert_eq!(run.items, 3);
    let mut sent = String::new();
    for f in std::fs::read_dir(drop.path()).unwrap() {
        sent.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap_or_default());
    }
    for street in ["9 Harbour Lane", "4 Birch Ave, Apt 2", "14 Oak St"] {
        assert!(sent.contains(street), "{street}: {sent}");
    }
}

#[actix_web::test]
async fn a_bad_file_of_addresses_applies_nothing_and_names_every_bad_line() {
    let fx = fixture().await;
    three_customers(&fx).await;
    // A spreadsheet that saved with semicolons is told so.
    let r = send(
        &fx,
        "semi.csv",
        b"receipt;email;address1;city;postalCode;country\nNIA00001;;1 A St;B;1;US\n",
    )
    .await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("separated by semicolons"), "{text}");
    for (receipt, email) in [("KIM00001", "kim@example.com"), ("HKG00001", "hkg@example.com")] {
        apply(&fx, SaleBuilder::new(receipt).email(email).address("").build()).await;
    }
    let mut file = b"receipt,email,firstName,lastName,address1,address2,city,state,postalCode,country\n\
        ,nia@example.com,Nia,Okafor,9 Harbour Lane,,Springfield,IL,62701,US\n\
        NOPE0001,,,,1 Nowhere St,,Nowhere,,00000,US\n\
        ,nobody@example.com,,,1 Nowhere St,,Nowhere,,00000,US\n\
        LEE00001,,Lee,Park,,,Chicago,IL,60601,US\n\
        ,kim@example.com,Kim,Lee,5 Pine St,,Austin,TX,,US\n\
        ,hkg@example.com,Ho,Kwan,1 Queen's Rd,,Hong Kong,,,HK\n\
        ,nia@example.com,Nia,Okafor,10 Harbour Lane,,Springfield,IL,62701,US\n"
        .to_vec();
    file.extend_from_slice(b",sam@example.com,Sam,\xff\xfe,12 Oak St,,Boston,MA,02101,US\n");
    file.extend_from_slice(
        b"NIA00001,lee@example.com,,,2 St,,Springfield,IL,62701,US\n\
          SAM00002,,,,12 Oak St,,Boston,MA,02101,USA\n\
          ,,,,12 Oak St,,Boston,MA,02101,US\n",
    );
    let r = send(&fx, "bad.csv", &file).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Nothing was applied: 9 lines are wrong in bad.csv"),
        "{page}"
    );
    for (line, reason) in [
        (3, "unknown receipt NOPE0001: no order has this ClickBank receipt"),
        (
            4,
            "unknown customer nobody@example.com: no customer has this email",
        ),
        (
            5,
            "lee@example.com: A house cannot ship to this address: it has no street.",
        ),
        (
            6,
            "kim@example.com: A house cannot ship to this address: it has no postal code.",
        ),
        (8, "customer nia@example.com is given another address on line 2"),
        (9, "not readable as CSV"),
        (
            10,
            "receipt NIA00001 is an order of nia@example.com, not of lee@example.com",
        ),
        (11, "sam@example.com: The country is its two-letter code"),
        (12, "no receipt and no email: the row must name its customer"),
    ] {
        assert!(
            page.contains(&format!("<td>{line}</td><td>{reason}")),
            "line {line}: {page}"
        );
    }
    for line in [2, 7] {
        assert!(
            !page.contains(&format!("<td>{line}</td>")),
            "line {line} is good: {page}"
        );
    }
    // Nothing applied: not even the good lines.
    assert_eq!(item_of(&fx, "NIA00001").await.0, "NEEDS_ADDRESS");
    assert_eq!(item_of(&fx, "HKG00001").await.0, "NEEDS_ADDRESS");
    assert_eq!(saved(&fx, "nia@example.com").await.1, "");
    assert_eq!(audits(&fx, "customer.shipping_address").await, 0);

    // A file that cannot be one of addresses is refused on its header.
    let r = send(
        &fx,
        "tracking.csv",
        b"orderId,clientFulfillmentId,trackingNumber,carrier,method\nNIA00001,,1Z,UPS,Ground\n",
    )
    .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("<td>1</td><td>Unknown column ") && page.contains("clientFulfillmentId"),
        "{page}"
    );
    let r = send(
        &fx,
        "no-street.csv",
        b"email,city,postalCode,country\nnia@example.com,Springfield,62701,US\n",
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("The column address1 is missing."));
    assert_eq!(item_of(&fx, "NIA00001").await.0, "NEEDS_ADDRESS");
}

#[actix_web::test]
async fn the_address_upload_needs_a_signed_in_user_and_its_token() {
    let fx = fixture().await;
    three_customers(&fx).await;
    let file =
        b"email,address1,city,postalCode,country\nnia@example.com,9 Harbour Lane,Springfield,62701,US\n";
    // No token, or a wrong one: refused before anything is read.
    let r = upload_to(&fx.app, "/fulfillment/addresses", None, "a.csv", file).await;
    assert_eq!(r.status(), 403);
    let r = upload_to(
        &fx.app,
        "/fulfillment/addresses",
        Some("not-the-token"),
        "a.csv",
        file,
    )
    .await;
    assert_eq!(r.status(), 403);
    // Signed out, with the token of its own session: sent to sign in.
    let visitor = fx.app.other_client();
    let token = visitor.csrf("/login").await;
    let r = upload_to(&visitor, "/fulfillment/addresses", Some(&token), "a.csv", file).await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/login"));
    assert_eq!(
        visitor.get("/fulfillment/addresses/waiting.csv").await.status(),
        303
    );
    assert_eq!(item_of(&fx, "NIA00001").await.0, "NEEDS_ADDRESS");
    assert_eq!(audits(&fx, "customer.shipping_address").await, 0);

    // Merchant staff run fulfillment: they may.
    fx.app
        .create_user("staff@example.com", "merchant", "staff-password-1")
        .await;
    let staff = fx.app.other_client();
    assert_eq!(
        staff
            .login("staff@example.com", "staff-password-1")
            .await
            .status(),
        303
    );
    let token = staff.csrf("/fulfillment").await;
    let r = upload_to(&staff, "/fulfillment/addresses", Some(&token), "a.csv", file).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(
        item_of(&fx, "NIA00001").await,
        ("HOLD".into(), "9 Harbour Lane".into())
    );
}
