-- Reconciliation (issue 15): the CRM proves it matches ClickBank, day by day. Import tasks
-- gain the kind 'day_orders' ("Re-import this day"); SQLite changes a CHECK only by
-- rebuilding the table, which import_task_runs and failed_records reference, so this runs
-- outside diesel's transaction with foreign keys off around a transaction of its own.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE import_tasks_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('initial_orders', 'continuous_orders', 'products', 'day_orders')),
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'paused', 'done', 'failed', 'cancelled')),
    days_back INTEGER NOT NULL DEFAULT 0,
    ship_cutoff_days INTEGER,
    range_start TEXT,
    range_end TEXT,
    cursor_day TEXT,
    cursor_page INTEGER NOT NULL DEFAULT 1,
    windows_total INTEGER NOT NULL DEFAULT 0,
    windows_done INTEGER NOT NULL DEFAULT 0,
    imported BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    interval_minutes INTEGER NOT NULL DEFAULT 15,
    next_run_at TIMESTAMP,
    last_run_at TIMESTAMP,
    last_error TEXT,
    locked_until TIMESTAMP,
    locked_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    awaiting_sale BIGINT NOT NULL DEFAULT 0
);
INSERT INTO import_tasks_rebuilt (id, kind, plugin_id, state, days_back, ship_cutoff_days, range_start, range_end, cursor_day, cursor_page, windows_total, windows_done, imported, skipped, errors, interval_minutes, next_run_at, last_run_at, last_error, locked_until, locked_by, created_at, updated_at, awaiting_sale)
    SELECT id, kind, plugin_id, state, days_back, ship_cutoff_days, range_start, range_end, cursor_day, cursor_page, windows_total, windows_done, imported, skipped, errors, interval_minutes, next_run_at, last_run_at, last_error, locked_until, locked_by, created_at, updated_at, awaiting_sale FROM import_tasks;
DROP TABLE import_tasks;
ALTER TABLE import_tasks_rebuilt RENAME TO import_tasks;
CREATE INDEX import_tasks_due ON import_tasks (state, next_run_at);

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
COMMIT;
PRAGMA foreign_keys = ON;
