-- One ClickBank budget per account (issue 15): the requests of each (Pacific) day are
-- counted by what made them (import, lookup, action), so the plugin page shows the split of
-- the ~25,000 a day ClickBank allows; look-ups of sales not seen yet keep to a daily budget
-- an account executive sets.
CREATE TABLE clickbank_requests (
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    day TEXT NOT NULL,
    purpose TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (plugin_id, day, purpose)
);
INSERT INTO clickbank_requests (plugin_id, day, purpose, requests)
    SELECT plugin_id, day, 'import', requests FROM clickbank_request_counts;
DROP TABLE clickbank_request_counts;
ALTER TABLE plugins ADD COLUMN lookup_budget INTEGER NOT NULL DEFAULT 5000;
