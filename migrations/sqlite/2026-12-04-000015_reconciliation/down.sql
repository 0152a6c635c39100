PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE reconcile_schedules;
DROP TABLE reconciliation_days;
DROP INDEX transactions_time;
DELETE FROM import_task_runs WHERE task_id IN (SELECT id FROM import_tasks WHERE kind = 'day_orders');
DELETE FROM failed_records WHERE task_id IN (SELECT id FROM import_tasks WHERE kind = 'day_orders');
CREATE TABLE import_tasks_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('initial_orders', 'continuous_orders', 'products')),
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
    SELECT id, kind, plugin_id, state, days_back, ship_cutoff_days, range_start, range_end, cursor_day, cursor_page, windows_total, windows_done, imported, skipped, errors, interval_minutes, next_run_at, last_run_at, last_error, locked_until, locked_by, created_at, updated_at, awaiting_sale FROM import_tasks WHERE kind <> 'day_orders';
DROP TABLE import_tasks;
ALTER TABLE import_tasks_rebuilt RENAME TO import_tasks;
CREATE INDEX import_tasks_due ON import_tasks (state, next_run_at);
COMMIT;
PRAGMA foreign_keys = ON;
