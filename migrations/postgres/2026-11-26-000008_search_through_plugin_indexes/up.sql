-- A receipt is searched as `plugin_id IN (SELECT id FROM plugins) AND receipt = ...`, which
-- the unique (plugin_id, receipt) index serves; the index on the bare column only cost every
-- imported order one more B-tree insert. customers_email stays here: an email prefix is a
-- LIKE, which on PostgreSQL needs its text_pattern_ops index.
DROP INDEX orders_receipt;
