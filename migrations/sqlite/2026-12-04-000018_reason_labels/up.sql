-- The label an account executive gives a ClickBank ticket reason code (the words their
-- ClickBank portal shows). A code without a row shows as our ClickBank reference documents it,
-- or as "ClickBank reason N". Tickets and audit entries keep the code.
CREATE TABLE reason_labels (
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (kind, code)
);
