-- A fulfillment house's API user may update only that house's items (NULL: not tied to a house).
ALTER TABLE api_users ADD COLUMN house_id BIGINT;
