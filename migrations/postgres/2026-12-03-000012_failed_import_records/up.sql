-- A record that fails during an import is kept, like a failed Instant Notification: what
-- ClickBank sent (the event as the portal read it, or the record itself when it could not be
-- read), the reason, and how often it failed; staff reprocess it from Admin after a fix.
-- One row per record (plugin, receipt, type, time): a record read again by the continuous
-- import's overlap updates its row.
CREATE TABLE failed_records (
    id BIGSERIAL PRIMARY KEY,
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    task_id BIGINT REFERENCES import_tasks(id),
    record_key TEXT NOT NULL,
    receipt TEXT NOT NULL,
    transaction_type TEXT NOT NULL,
    transaction_time TIMESTAMP NOT NULL,
    -- 'event' (the OrderEvent JSON) or 'record' (ClickBank's record as JSON).
    payload_kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (plugin_id, record_key)
);
CREATE INDEX failed_records_task ON failed_records (task_id, id);
