-- A receipt or an email is searched as `plugin_id IN (SELECT id FROM plugins) AND ...`, which
-- the unique (plugin_id, receipt) and (plugin_id, email) indexes serve (email prefixes by the
-- range Customer Service adds on SQLite). The indexes on the bare columns only cost every
-- imported order and customer one more B-tree insert (6% of an import).
DROP INDEX orders_receipt;
DROP INDEX customers_email;
