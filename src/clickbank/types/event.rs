//! The identity of an event: its transaction type and the key that names it in INS and
//! in the orders list alike.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use crate::clickbank::quirks::string_enum;

string_enum! {
    /// A transaction or notification type (orders list and INS share the names).
    pub enum TransactionType {
        Sale = "SALE",
        Bill = "BILL",
        Rfnd = "RFND",
        Cgbk = "CGBK",
        Insf = "INSF",
        Fee = "FEE",
        TestSale = "TEST_SALE",
        TestBill = "TEST_BILL",
        TestRfnd = "TEST_RFND",
        TestFee = "TEST_FEE",
        CancelRebill = "CANCEL-REBILL",
        UncancelRebill = "UNCANCEL-REBILL",
        SubscriptionChg = "SUBSCRIPTION-CHG",
        AbandonedOrder = "ABANDONED_ORDER",
        CustomerAuthFailure = "CUSTOMER_AUTH_FAILURE",
        CustomerEmailUpdate = "CUSTOMER_EMAIL_UPDATE",
        CustomerUpdateCcNotification = "CUSTOMER_UPDATE_CC_NOTIFICATION",
        PurchaseDetailsEmailResponse = "PURCHASE_DETAILS_EMAIL_RESPONSE",
        Test = "TEST",
        CancelTestRebill = "CANCEL-TEST-REBILL",
        UncancelTestRebill = "UNCANCEL-TEST-REBILL",
    }
}

impl TransactionType {
    /// Every known type, in ClickBank's spelling order of the doc.
    pub const ALL: [TransactionType; 21] = [
        TransactionType::Sale,
        TransactionType::Bill,
        TransactionType::Rfnd,
        TransactionType::Cgbk,
        TransactionType::Insf,
        TransactionType::Fee,
        TransactionType::TestSale,
        TransactionType::TestBill,
        TransactionType::TestRfnd,
        TransactionType::TestFee,
        TransactionType::CancelRebill,
        TransactionType::UncancelRebill,
        TransactionType::SubscriptionChg,
        TransactionType::AbandonedOrder,
        TransactionType::CustomerAuthFailure,
        TransactionType::CustomerEmailUpdate,
        TransactionType::CustomerUpdateCcNotification,
        TransactionType::PurchaseDetailsEmailResponse,
        TransactionType::Test,
        TransactionType::CancelTestRebill,
        TransactionType::UncancelTestRebill,
    ];

    /// The type in words for people (its test twin in the same words); ClickBank's spelling
    /// for the types that have none.
    pub fn words(&self) -> &str {
        use TransactionType::*;
        match self {
            Sale | TestSale => "Sale",
            Bill | TestBill => "Rebill",
            Rfnd | TestRfnd => "Refund",
            Cgbk => "Chargeback",
            Insf => "Insufficient funds",
            CancelRebill => "Subscription cancelled",
            UncancelRebill => "Subscription reinstated",
            _ => self.as_str(),
        }
    }

    /// Test transactions (`TEST`, `TEST_*`, `*-TEST-*`).
    pub fn is_test(&self) -> bool {
        let s = self.as_str();
        s == "TEST" || s.starts_with("TEST_") || s.contains("-TEST-")
    }

    /// The live type a test type stands for (`TEST_SALE` → `SALE`); any other type is itself.
    pub fn live(&self) -> TransactionType {
        match self {
            TransactionType::TestSale => TransactionType::Sale,
            TransactionType::TestBill => TransactionType::Bill,
            TransactionType::TestRfnd => TransactionType::Rfnd,
            TransactionType::CancelTestRebill => TransactionType::CancelRebill,
            TransactionType::UncancelTestRebill => TransactionType::UncancelRebill,
            other => other.clone(),
        }
    }

    /// Types that appear in `orders2/list` (money movements).
    pub fn is_order_transaction(&self) -> bool {
        matches!(
            self,
            TransactionType::Sale
                | TransactionType::Bill
                | TransactionType::Rfnd
                | TransactionType::Cgbk
                | TransactionType::Fee
                | TransactionType::TestSale
                | TransactionType::TestBill
                | TransactionType::TestRfnd
                | TransactionType::TestFee
        )
    }
}

/// The identity of one event, shared by INS and the orders list:
/// (vendor, receipt, transactionType, transactionTime, itemNo).
///
/// Vendor and receipt are upper-cased, the time is UTC truncated to the second and a
/// missing item number is the empty string, so the same sale read from either source
/// gives an equal key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct EventKey {
    /// Vendor nickname (upper case).
    pub vendor: String,
    /// Receipt (upper case).
    pub receipt: String,
    /// Transaction type in ClickBank's spelling.
    pub transaction_type: String,
    /// Transaction time in UTC, whole seconds.
    pub transaction_time: DateTime<Utc>,
    /// Line item number (SKU), or "".
    pub item_no: String,
}

impl EventKey {
    /// Build a normalised key.
    pub fn new(
        vendor: &str,
        receipt: &str,
        transaction_type: &TransactionType,
        transaction_time: DateTime<Utc>,
        item_no: Option<&str>,
    ) -> Self {
        EventKey {
            vendor: vendor.trim().to_ascii_uppercase(),
            receipt: receipt.trim().to_ascii_uppercase(),
            transaction_type: transaction_type.as_str().to_string(),
            transaction_time: transaction_time.trunc_subsecs(0),
            item_no: item_no.unwrap_or("").trim().to_string(),
        }
    }

    /// One line, e.g. `BETHUB|95WJABGG|SALE|2019-02-18T23:11:38Z|3`, for a unique column.
    pub fn as_key_string(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.vendor,
            self.receipt,
            self.transaction_type,
            self.transaction_time.format("%Y-%m-%dT%H:%M:%SZ"),
            self.item_no
        )
    }
}
