-- The expiry sweep's outbox: an expiry decision stays here, with what its event needs, until the
-- broker confirmed that event; then the row is deleted. Decisions logged before this migration
-- have no row here: they count as published (an upgrade republishes nothing).
-- leased_at: when a sweeper last took the row (the claim is the first take); another sweeper
-- may take it again only once that lease is older than the sweep's grace period.

CREATE TABLE expiry_outbox (
    message_id text PRIMARY KEY REFERENCES decision_log (message_id),
    out_seq_no text NOT NULL,
    flow       text NOT NULL CHECK (flow IN ('legacy', 'v2')),
    openid     text,
    decided_at timestamptz NOT NULL,
    leased_at  timestamptz NOT NULL
);

CREATE INDEX expiry_outbox_by_lease ON expiry_outbox (leased_at);
