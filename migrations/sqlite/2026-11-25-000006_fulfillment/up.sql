-- Fulfillment (issue 7): house settings (endpoint, sealed API key and signing secret, CSV
-- folder), the export lease per house, item details houses send back, shipments and runs.

ALTER TABLE fulfillment_houses ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE fulfillment_houses ADD COLUMN api_key_enc TEXT;
ALTER TABLE fulfillment_houses ADD COLUMN signing_secret_enc TEXT;
ALTER TABLE fulfillment_houses ADD COLUMN csv_folder TEXT NOT NULL DEFAULT '';
ALTER TABLE fulfillment_houses ADD COLUMN active BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE fulfillment_houses ADD COLUMN next_export_at TIMESTAMP;
ALTER TABLE fulfillment_houses ADD COLUMN locked_until TIMESTAMP;
ALTER TABLE fulfillment_houses ADD COLUMN locked_by TEXT;

ALTER TABLE fulfillments ADD COLUMN method TEXT;
ALTER TABLE fulfillments ADD COLUMN ship_date DATE;
ALTER TABLE fulfillments ADD COLUMN rma_number TEXT;
ALTER TABLE fulfillments ADD COLUMN exported_at TIMESTAMP;
ALTER TABLE fulfillments ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fulfillments ADD COLUMN last_error TEXT;
ALTER TABLE fulfillments ADD COLUMN export_run_id BIGINT;
ALTER TABLE fulfillments ADD COLUMN ship_to TEXT;
ALTER TABLE fulfillments ADD COLUMN ship_notice_at TIMESTAMP;
CREATE INDEX fulfillments_shipment ON fulfillments (shipment_id);
CREATE INDEX fulfillments_house_status ON fulfillments (house_id, status, id);

CREATE TABLE fulfillment_export_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    house_id BIGINT NOT NULL REFERENCES fulfillment_houses(id),
    runner TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    items INTEGER NOT NULL DEFAULT 0,
    shipments INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    error TEXT
);
CREATE INDEX fulfillment_export_runs_house ON fulfillment_export_runs (house_id, id);

-- One row per shipment id ever sent: a retry re-sends the same id, a deliberate reship
-- gets a suffixed one (-R1, -R2, ...).
CREATE TABLE shipments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    shipment_id TEXT NOT NULL UNIQUE,
    house_id BIGINT NOT NULL REFERENCES fulfillment_houses(id),
    run_id BIGINT NOT NULL REFERENCES fulfillment_export_runs(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    items INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    house_ref TEXT,
    error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX shipments_run ON shipments (run_id);
CREATE INDEX shipments_house_status ON shipments (house_id, status);
