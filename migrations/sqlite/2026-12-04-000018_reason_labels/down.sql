DROP TABLE reason_labels;
