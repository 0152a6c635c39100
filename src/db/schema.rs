//! Table definitions, written by hand with portable column types only (design.md):
//! ids are `BigInt` on both backends (SQLite stores 64-bit integers in its rowid).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_user_id -> Nullable<BigInt>,
        actor -> Text,
        action -> Text,
        target -> Text,
        detail -> Text,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        email -> Text,
        ip -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(audit_log -> users (actor_user_id));
diesel::allow_tables_to_appear_in_same_query!(users, audit_log, login_failures, app_settings);

diesel::table! {
    app_settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}
