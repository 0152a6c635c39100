DROP TABLE failed_records;
