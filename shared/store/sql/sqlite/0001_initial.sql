-- Sessions, and the decision log that is also the single-use credential ledger.
-- Datetimes are ISO 8601 text in UTC with microseconds ('2024-05-01T08:00:00.000000+00:00'),
-- one fixed width, so text order is time order.

CREATE TABLE sessions (
    out_seq_no       TEXT PRIMARY KEY,
    flow             TEXT NOT NULL CHECK (flow IN ('legacy', 'v2')),
    status           TEXT NOT NULL CHECK (
        status IN ('pending', 'queued', 'verified', 'rejected', 'expired', 'failed')
    ),
    reason           TEXT,
    wechat_code      INTEGER,
    openid           TEXT,
    id_md5_mac       TEXT,
    name_md5_mac     TEXT,
    cert_hash_sealed TEXT,
    user_id_key      TEXT,
    verify_id        TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL
);

-- the expiry sweep only ever looks at open sessions
CREATE INDEX sessions_open_by_expiry ON sessions (expires_at)
    WHERE status IN ('pending', 'queued');

CREATE INDEX sessions_by_updated_at ON sessions (updated_at);

-- credential UNIQUE is the ledger: a credential hash is decided once (NULLs are distinct);
-- message_id UNIQUE makes credential-less decisions idempotent too
CREATE TABLE decision_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    out_seq_no  TEXT NOT NULL,
    credential  TEXT UNIQUE,
    outcome     TEXT NOT NULL CHECK (outcome IN ('verified', 'rejected', 'expired', 'failed')),
    reason      TEXT,
    wechat_code INTEGER,
    message_id  TEXT NOT NULL UNIQUE,
    decided_at  TEXT NOT NULL,
    decided_by  TEXT NOT NULL
);

CREATE INDEX decision_log_by_session ON decision_log (out_seq_no, id);

CREATE TRIGGER decision_log_no_update BEFORE UPDATE ON decision_log
BEGIN
    SELECT RAISE(ABORT, 'decision_log is append-only');
END;

CREATE TRIGGER decision_log_no_delete BEFORE DELETE ON decision_log
BEGIN
    SELECT RAISE(ABORT, 'decision_log is append-only');
END;
