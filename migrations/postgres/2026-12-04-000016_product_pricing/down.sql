ALTER TABLE products DROP COLUMN trial_days;
ALTER TABLE products DROP COLUMN rebill_frequency;
