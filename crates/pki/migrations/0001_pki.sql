-- The deployment CA's records: one-time enrolment tokens (stored as SHA-256 hashes, never the
-- token) and every certificate it issued, with its revocation.

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY NOT NULL,        -- SHA-256 of the token, hex
    device TEXT NOT NULL,                  -- the identity the certificate will name
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    serial TEXT                            -- the certificate it was spent on
);

CREATE TABLE certificates (
    serial TEXT PRIMARY KEY NOT NULL,      -- hex
    device TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    pem TEXT NOT NULL,
    revoked_at INTEGER,
    reason TEXT
);

CREATE INDEX certificates_device ON certificates (device);
CREATE INDEX certificates_revoked ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE crl_number (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO crl_number (id, n) VALUES (1, 0);
