-- Background ClickBank imports: one row per task, claimed with a lease so that several
-- portal processes on one PostgreSQL never run the same task at once.
CREATE TABLE import_tasks (
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
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX import_tasks_due ON import_tasks (state, next_run_at);

-- One row per run of a task: what it did, which process ran it.
CREATE TABLE import_task_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id BIGINT NOT NULL REFERENCES import_tasks(id),
    runner TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    pages INTEGER NOT NULL DEFAULT 0,
    imported BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    outcome TEXT
);
CREATE INDEX import_task_runs_task ON import_task_runs (task_id, id);

-- ClickBank requests per plugin and (Pacific) day: ClickBank allows about 25,000 a day.
CREATE TABLE clickbank_request_counts (
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    day TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (plugin_id, day)
);
