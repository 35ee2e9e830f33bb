-- Sessions, and the decision log that is also the single-use credential ledger.

CREATE TABLE sessions (
    out_seq_no       text PRIMARY KEY,
    flow             text NOT NULL CHECK (flow IN ('legacy', 'v2')),
    status           text NOT NULL CHECK (
        status IN ('pending', 'queued', 'verified', 'rejected', 'expired', 'failed')
    ),
    reason           text,
    wechat_code      bigint,
    openid           text,
    id_md5_mac       text,
    name_md5_mac     text,
    cert_hash_sealed text,
    user_id_key      text,
    verify_id        text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL
);

-- the expiry sweep only ever looks at open sessions
CREATE INDEX sessions_open_by_expiry ON sessions (expires_at)
    WHERE status IN ('pending', 'queued');

CREATE INDEX sessions_by_updated_at ON sessions (updated_at);

-- credential UNIQUE is the ledger: a credential hash is decided once (NULLs are distinct);
-- message_id UNIQUE makes credential-less decisions idempotent too
CREATE TABLE decision_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    out_seq_no  text NOT NULL,
    credential  text UNIQUE,
    outcome     text NOT NULL CHECK (outcome IN ('verified', 'rejected', 'expired', 'failed')),
    reason      text,
    wechat_code bigint,
    message_id  text NOT NULL UNIQUE,
    decided_at  timestamptz NOT NULL,
    decided_by  text NOT NULL
);

CREATE INDEX decision_log_by_session ON decision_log (out_seq_no, id);

CREATE FUNCTION decision_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'decision_log is append-only';
END
$$;

CREATE TRIGGER decision_log_append_only BEFORE UPDATE OR DELETE ON decision_log
    FOR EACH ROW EXECUTE FUNCTION decision_log_append_only();
