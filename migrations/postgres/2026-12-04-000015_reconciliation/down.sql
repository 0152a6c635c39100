DROP TABLE reconcile_schedules;
DROP TABLE reconciliation_days;
DROP INDEX transactions_time;
DELETE FROM import_task_runs WHERE task_id IN (SELECT id FROM import_tasks WHERE kind = 'day_orders');
DELETE FROM failed_records WHERE task_id IN (SELECT id FROM import_tasks WHERE kind = 'day_orders');
DELETE FROM import_tasks WHERE kind = 'day_orders';
ALTER TABLE import_tasks DROP CONSTRAINT import_tasks_kind_check;
ALTER TABLE import_tasks ADD CONSTRAINT import_tasks_kind_check
    CHECK (kind IN ('initial_orders', 'continuous_orders', 'products'));
