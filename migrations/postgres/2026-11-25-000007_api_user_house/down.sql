ALTER TABLE api_users DROP COLUMN house_id;
