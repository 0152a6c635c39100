ALTER TABLE products DROP COLUMN rebill_frequency;
