DROP TABLE app_settings;
DROP TABLE login_failures;
DROP TABLE audit_log;
DROP TABLE users;
