//! Keeps SQLite from re-preparing cached statements on every execution.
//!
//! SQLite lets the query planner peek at a bound value (the `?` of `LIMIT ?`, a `LIKE ?`
//! pattern) and then marks the statement to be compiled again whenever that parameter is bound
//! anew. Diesel binds every parameter on every execution and writes `.first()` as `LIMIT ?`,
//! so every cached lookup by key was parsed and planned again each time it ran: a fifth of an
//! order import went to `sqlite3Reprepare` (see docs/benchmarks.md).
//!
//! `SQLITE_DBCONFIG_ENABLE_QPSG` (the query planner stability guarantee) makes plans not depend
//! on bound values, so a cached statement stays prepared. The one plan it changes is the
//! LIKE-prefix index seek with a bound pattern, which the portal does not rely on: prefix
//! searches add the equivalent `>=`/`<` range on SQLite (see `customer_service`).
//!
//! Diesel does not hand out the raw connection, so the setting is applied by an SQLite
//! auto-extension: a hook SQLite itself runs for every connection the process opens.

use std::os::raw::{c_char, c_int};
use std::sync::Once;

use libsqlite3_sys as ffi;

/// Runs for each new SQLite connection of this process.
unsafe extern "C" fn stable_plans(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite calls this with the connection it is opening; the option takes an int
    // (1 = on) and an optional out-pointer, which may be null.
    unsafe {
        ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as c_int,
            std::ptr::null_mut::<c_int>(),
        )
    };
    ffi::SQLITE_OK
}

/// Registers the hook once per process, before the first connection opens.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `stable_plans` has the entry-point signature SQLite expects and lives for the
        // whole process.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(stable_plans)) };
        if rc != ffi::SQLITE_OK {
            tracing::warn!(rc, "SQLite auto-extension for stable query plans not installed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection opened after `install` has the flag on.
    #[test]
    fn new_connections_have_stable_plans() {
        install();
        let name = std::ffi::CString::new(":memory:").unwrap();
        let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
        let mut on: c_int = -1;
        // SAFETY: a private in-memory connection, read then closed here.
        unsafe {
            assert_eq!(ffi::sqlite3_open(name.as_ptr(), &mut db), ffi::SQLITE_OK);
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                -1 as c_int,
                &mut on as *mut c_int,
            );
            ffi::sqlite3_close(db);
        }
        assert_eq!(on, 1, "SQLITE_DBCONFIG_ENABLE_QPSG is off on a new connection");
    }
}
