//! The lease a background job holds on the row it works on (an import task, a fulfillment
//! house): `locked_by` names the process, `locked_until` is when another process may take the
//! row over. A claim is one conditional UPDATE ("set us as holder where the lease is free"),
//! atomic on both backends, so two portal processes never work on one row at once; a holder
//! renews the lease as it goes and releases only its own.
//!
//! The rules are macros over the table's module because diesel's column types differ per
//! table (a generic function would need a bound for every column expression).

use chrono::NaiveDateTime;

/// Who holds a lease and how long each claim or renewal lasts.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub runner: &'a str,
    pub seconds: i64,
}

impl Lease<'_> {
    /// When a lease taken or renewed now runs out.
    pub fn until(&self) -> NaiveDateTime {
        super::now() + chrono::Duration::seconds(self.seconds)
    }
}

/// The row's lease is free: never taken, or run out.
macro_rules! lease_free {
    ($table:ident) => {
        $table::locked_until
            .is_null()
            .or($table::locked_until.lt($crate::domain::now()))
    };
}

/// The row's lease is `runner`'s (run out or not: a holder may always release its own).
macro_rules! lease_mine {
    ($table:ident, $runner:expr) => {
        $table::locked_by.eq($runner)
    };
}

/// The row's lease is `runner`'s and has not run out (renewing a lease another process may
/// have taken over must fail).
macro_rules! lease_held {
    ($table:ident, $runner:expr) => {
        $table::locked_by
            .eq($runner)
            .and($table::locked_until.ge($crate::domain::now()))
    };
}

/// The columns that take (or renew) the lease for a [`Lease`].
macro_rules! lease_take {
    ($table:ident, $lease:expr) => {
        (
            $table::locked_by.eq(Some($lease.runner)),
            $table::locked_until.eq(Some($lease.until())),
        )
    };
}

/// The columns that release the lease.
macro_rules! lease_release {
    ($table:ident) => {
        (
            $table::locked_until.eq(None::<chrono::NaiveDateTime>),
            $table::locked_by.eq(None::<String>),
        )
    };
}

pub(crate) use {lease_free, lease_held, lease_mine, lease_release, lease_take};
