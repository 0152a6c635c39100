//! Table definitions, written by hand with portable column types only (design.md):
//! ids are `BigInt` on both backends (SQLite stores 64-bit integers in its rowid). Later
//! groups of tables live in `schema/` and are re-exported here.

mod exports;
mod settings;
pub use exports::*;
pub use settings::*;

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
        session_epoch -> Integer,
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

diesel::table! {
    app_settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    plugins (id) {
        id -> BigInt,
        kind -> Text,
        name -> Text,
        site -> Text,
        dev_key_enc -> Nullable<Text>,
        api_key_enc -> Text,
        secret_key_enc -> Nullable<Text>,
        include_test -> Bool,
        send_confirmations -> Bool,
        unique_products -> Bool,
        clickbank_ships -> Bool,
        active -> Bool,
        last_connected_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        ship_cutoff_at -> Nullable<Timestamp>,
        lookup_budget -> Integer,
    }
}

diesel::table! {
    api_users (id) {
        id -> BigInt,
        login_id -> Text,
        password_hash -> Text,
        allow_ips -> Text,
        permissions -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        house_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    fulfillment_houses (id) {
        id -> BigInt,
        name -> Text,
        kind -> Text,
        created_at -> Timestamp,
        endpoint -> Text,
        api_key_enc -> Nullable<Text>,
        signing_secret_enc -> Nullable<Text>,
        csv_folder -> Text,
        active -> Bool,
        next_export_at -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<Text>,
    }
}

diesel::table! {
    product_categories (id) {
        id -> BigInt,
        name -> Text,
        plugin_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        category_id -> BigInt,
        sku -> Text,
        title -> Text,
        currency -> Nullable<Text>,
        msrp_minor -> Nullable<BigInt>,
        cost_minor -> Nullable<BigInt>,
        description -> Text,
        shippable -> Bool,
        recurring -> Bool,
        fulfillment_house_id -> BigInt,
        fulfillment_type -> Text,
        delay_hours -> Integer,
        merchant_edited -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        msrp_by_merchant -> Bool,
        rebill_frequency -> Nullable<Text>,
        trial_days -> Integer,
    }
}

diesel::table! {
    campaigns (id) {
        id -> BigInt,
        plugin_id -> Nullable<BigInt>,
        currency -> Text,
        is_test -> Bool,
        name -> Text,
        name_locked -> Bool,
        bundle_window_hours -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    campaign_products (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        product_id -> BigInt,
        kind -> Text,
        position -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    customers (id) {
        id -> BigInt,
        plugin_id -> BigInt,
        email -> Text,
        first_name -> Text,
        last_name -> Text,
        phone -> Text,
        bill_address1 -> Text,
        bill_address2 -> Text,
        bill_city -> Text,
        bill_state -> Text,
        bill_postal_code -> Text,
        bill_country -> Text,
        ship_first_name -> Text,
        ship_last_name -> Text,
        ship_address1 -> Text,
        ship_address2 -> Text,
        ship_city -> Text,
        ship_state -> Text,
        ship_postal_code -> Text,
        ship_country -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        phone_digits_rev -> Text,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        plugin_id -> BigInt,
        campaign_id -> BigInt,
        customer_id -> BigInt,
        receipt -> Text,
        parent_receipt -> Nullable<Text>,
        order_type -> Text,
        status -> Text,
        affiliate -> Nullable<Text>,
        payment_method -> Nullable<Text>,
        currency -> Text,
        total_minor -> BigInt,
        tax_minor -> BigInt,
        shipping_minor -> BigInt,
        refunded_minor -> BigInt,
        transaction_time -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sale_seen -> Bool,
    }
}

diesel::table! {
    order_items (id) {
        id -> BigInt,
        order_id -> BigInt,
        product_id -> BigInt,
        item_no -> Text,
        title -> Text,
        line_item_type -> Text,
        quantity -> Integer,
        amount_minor -> BigInt,
        shippable -> Bool,
        recurring -> Bool,
    }
}

diesel::table! {
    transactions (id) {
        id -> BigInt,
        order_id -> BigInt,
        kind -> Text,
        item_no -> Nullable<Text>,
        amount_minor -> BigInt,
        currency -> Text,
        transaction_time -> Timestamp,
        source -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    purchases (id) {
        id -> BigInt,
        order_id -> BigInt,
        order_item_id -> BigInt,
        customer_id -> BigInt,
        product_id -> BigInt,
        status -> Text,
        pending_request -> Nullable<Text>,
        billing_cycle -> Integer,
        rebill_amount_minor -> Nullable<BigInt>,
        frequency -> Nullable<Text>,
        next_bill_date -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        paused_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        state_at -> Nullable<Timestamp>,
        state_rank -> Integer,
        schedule_at -> Nullable<Timestamp>,
        schedule_rank -> Integer,
    }
}

diesel::table! {
    fulfillments (id) {
        id -> BigInt,
        order_id -> BigInt,
        order_item_id -> BigInt,
        cycle -> Integer,
        house_id -> BigInt,
        status -> Text,
        shipment_id -> Nullable<Text>,
        tracking_number -> Nullable<Text>,
        carrier -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        method -> Nullable<Text>,
        ship_date -> Nullable<Date>,
        rma_number -> Nullable<Text>,
        exported_at -> Nullable<Timestamp>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        export_run_id -> Nullable<BigInt>,
        ship_to -> Nullable<Text>,
        ship_notice_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    partials (id) {
        id -> BigInt,
        plugin_id -> BigInt,
        email -> Text,
        first_name -> Text,
        last_name -> Text,
        phone -> Text,
        country -> Text,
        item_no -> Nullable<Text>,
        event_time -> Timestamp,
        converted_order_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        phone_digits_rev -> Text,
        item_title -> Nullable<Text>,
        item_count -> Integer,
    }
}

diesel::table! {
    applied_events (event_key) {
        event_key -> Text,
        plugin_id -> BigInt,
        order_id -> Nullable<BigInt>,
        applied_at -> Timestamp,
    }
}

diesel::table! {
    pending_events (id) {
        id -> BigInt,
        event_key -> Text,
        plugin_id -> BigInt,
        receipt -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    inbound_notifications (id) {
        id -> BigInt,
        received_at -> Timestamp,
        source_ip -> Text,
        api_user_id -> Nullable<BigInt>,
        body -> Text,
        status -> Text,
        error -> Nullable<Text>,
        plugin_id -> Nullable<BigInt>,
        transaction_type -> Nullable<Text>,
        receipt -> Nullable<Text>,
        vendor -> Nullable<Text>,
        payload -> Nullable<Text>,
        attempts -> Integer,
        processed_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(audit_log -> users (actor_user_id));
diesel::joinable!(products -> product_categories (category_id));
diesel::joinable!(products -> fulfillment_houses (fulfillment_house_id));
diesel::joinable!(campaigns -> plugins (plugin_id));
diesel::joinable!(campaign_products -> campaigns (campaign_id));
diesel::joinable!(campaign_products -> products (product_id));
diesel::joinable!(customers -> plugins (plugin_id));
diesel::joinable!(orders -> campaigns (campaign_id));
diesel::joinable!(orders -> customers (customer_id));
diesel::joinable!(orders -> plugins (plugin_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> products (product_id));
diesel::joinable!(transactions -> orders (order_id));
diesel::joinable!(purchases -> order_items (order_item_id));
diesel::joinable!(purchases -> products (product_id));
diesel::joinable!(fulfillments -> order_items (order_item_id));
diesel::joinable!(fulfillments -> fulfillment_houses (house_id));
diesel::joinable!(inbound_notifications -> plugins (plugin_id));
diesel::table! {
    sale_lookups (id) {
        id -> BigInt,
        plugin_id -> BigInt,
        order_id -> BigInt,
        receipt -> Text,
        skus -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    failed_records (id) {
        id -> BigInt,
        plugin_id -> BigInt,
        task_id -> Nullable<BigInt>,
        record_key -> Text,
        receipt -> Text,
        transaction_type -> Text,
        transaction_time -> Timestamp,
        payload_kind -> Text,
        payload -> Text,
        error -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    failed_records,
    users,
    sale_lookups,
    audit_log,
    login_failures,
    app_settings,
    plugins,
    api_users,
    fulfillment_houses,
    product_categories,
    products,
    campaigns,
    campaign_products,
    customers,
    orders,
    order_items,
    transactions,
    purchases,
    fulfillments,
    partials,
    applied_events,
    pending_events,
    inbound_notifications,
    service_requests,
    customer_notes,
);

diesel::table! {
    import_tasks (id) {
        id -> BigInt,
        kind -> Text,
        plugin_id -> BigInt,
        state -> Text,
        days_back -> Integer,
        ship_cutoff_days -> Nullable<Integer>,
        range_start -> Nullable<Text>,
        range_end -> Nullable<Text>,
        cursor_day -> Nullable<Text>,
        cursor_page -> Integer,
        windows_total -> Integer,
        windows_done -> Integer,
        imported -> BigInt,
        skipped -> BigInt,
        errors -> BigInt,
        interval_minutes -> Integer,
        next_run_at -> Nullable<Timestamp>,
        last_run_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        awaiting_sale -> BigInt,
    }
}

diesel::table! {
    import_task_runs (id) {
        id -> BigInt,
        task_id -> BigInt,
        runner -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        pages -> Integer,
        imported -> BigInt,
        skipped -> BigInt,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    clickbank_requests (plugin_id, day, purpose) {
        plugin_id -> BigInt,
        day -> Text,
        purpose -> Text,
        requests -> BigInt,
    }
}

diesel::table! {
    reconciliation_days (plugin_id, day) {
        plugin_id -> BigInt,
        day -> Text,
        outcome -> Text,
        clickbank_count -> BigInt,
        crm_count -> BigInt,
        missing -> BigInt,
        extra -> BigInt,
        amounts -> BigInt,
        details -> Text,
        error -> Nullable<Text>,
        checked_at -> Timestamp,
        checked_by -> Text,
    }
}

diesel::table! {
    reconcile_schedules (plugin_id) {
        plugin_id -> BigInt,
        next_nightly_at -> Timestamp,
        requested_start -> Nullable<Text>,
        requested_end -> Nullable<Text>,
        requested_by -> Nullable<Text>,
        last_run_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<Text>,
    }
}

diesel::joinable!(reconciliation_days -> plugins (plugin_id));
diesel::joinable!(reconcile_schedules -> plugins (plugin_id));
diesel::allow_tables_to_appear_in_same_query!(reconciliation_days, reconcile_schedules, plugins);

diesel::joinable!(import_tasks -> plugins (plugin_id));
diesel::joinable!(import_task_runs -> import_tasks (task_id));
diesel::allow_tables_to_appear_in_same_query!(import_tasks, import_task_runs, clickbank_requests, plugins);
diesel::joinable!(fulfillments -> orders (order_id));

diesel::table! {
    service_requests (id) {
        id -> BigInt,
        plugin_id -> BigInt,
        customer_id -> BigInt,
        order_id -> BigInt,
        purchase_id -> Nullable<BigInt>,
        action -> Text,
        detail -> Text,
        status -> Text,
        ticket_id -> Nullable<Text>,
        error -> Nullable<Text>,
        open_key -> Nullable<Text>,
        requested_by -> Nullable<BigInt>,
        requested_by_label -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    customer_notes (id) {
        id -> BigInt,
        customer_id -> BigInt,
        author_user_id -> Nullable<BigInt>,
        author -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(service_requests -> customers (customer_id));
diesel::joinable!(service_requests -> orders (order_id));
diesel::joinable!(customer_notes -> customers (customer_id));

diesel::table! {
    sessions (id) {
        id -> BigInt,
        key_hash -> Text,
        handle -> Text,
        user_id -> Nullable<BigInt>,
        state -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(sessions, users);
