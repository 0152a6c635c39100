DROP TABLE clickbank_request_counts;
DROP TABLE import_task_runs;
DROP TABLE import_tasks;
