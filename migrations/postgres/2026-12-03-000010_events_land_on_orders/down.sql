DROP TABLE sale_lookups;
ALTER TABLE plugins DROP COLUMN ship_cutoff_at;
ALTER TABLE import_tasks DROP COLUMN awaiting_sale;
ALTER TABLE purchases DROP COLUMN schedule_rank;
ALTER TABLE purchases DROP COLUMN schedule_at;
ALTER TABLE purchases DROP COLUMN state_rank;
ALTER TABLE purchases DROP COLUMN state_at;
DROP INDEX orders_sale_unseen;
ALTER TABLE orders DROP COLUMN sale_seen;
