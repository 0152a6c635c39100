ALTER TABLE plugins DROP COLUMN lookup_budget;
CREATE TABLE clickbank_request_counts (
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    day TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (plugin_id, day)
);
INSERT INTO clickbank_request_counts (plugin_id, day, requests)
    SELECT plugin_id, day, SUM(requests) FROM clickbank_requests GROUP BY plugin_id, day;
DROP TABLE clickbank_requests;
