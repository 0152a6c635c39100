-- Reconciliation (issue 15): the CRM proves it matches ClickBank, day by day. Import tasks
-- gain the kind 'day_orders' ("Re-import this day").
ALTER TABLE import_tasks DROP CONSTRAINT import_tasks_kind_check;
ALTER TABLE import_tasks ADD CONSTRAINT import_tasks_kind_check
    CHECK (kind IN ('initial_orders', 'continuous_orders', 'products', 'day_orders'));

-- One row per plugin and ClickBank (Pacific) day: what the last reconciliation of that day
-- found. `details` is JSON: per type and currency the count and sum on each side, and the
-- receipts missing from the CRM or extra in it (listed, never deleted).
CREATE TABLE reconciliation_days (
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    day TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('match', 'differs', 'failed')),
    clickbank_count BIGINT NOT NULL DEFAULT 0,
    crm_count BIGINT NOT NULL DEFAULT 0,
    missing BIGINT NOT NULL DEFAULT 0,
    extra BIGINT NOT NULL DEFAULT 0,
    amounts BIGINT NOT NULL DEFAULT 0,
    details TEXT NOT NULL,
    error TEXT,
    checked_at TIMESTAMP NOT NULL,
    checked_by TEXT NOT NULL,
    PRIMARY KEY (plugin_id, day)
);

-- A day's transactions are read by their time.
CREATE INDEX transactions_time ON transactions (transaction_time);

-- When each plugin is reconciled next: the nightly run of the last 7 days, or days an
-- account executive asked for; claimed with a lease like import tasks.
CREATE TABLE reconcile_schedules (
    plugin_id BIGINT PRIMARY KEY REFERENCES plugins(id),
    next_nightly_at TIMESTAMP NOT NULL,
    requested_start TEXT,
    requested_end TEXT,
    requested_by TEXT,
    last_run_at TIMESTAMP,
    last_error TEXT,
    locked_until TIMESTAMP,
    locked_by TEXT
);
