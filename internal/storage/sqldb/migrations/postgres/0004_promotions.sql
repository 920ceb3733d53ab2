-- +goose Up
-- Promotions (goods and stores) and personal offers (tags and groups).
CREATE TABLE promotions (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('promotion', 'offer')),
    body       TEXT NOT NULL,
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX promotions_kind ON promotions (tenant_id, kind, starts_at);

-- Bonuses paid once per period (the birthday bonus once a calendar year).
CREATE TABLE bonus_grants (
    tenant_id    TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    period       TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, kind, period)
);

-- The month and day of birth, for the daily birthday run.
ALTER TABLE customers ADD COLUMN birth_md TEXT NOT NULL DEFAULT '';
UPDATE customers SET birth_md = substr(birth_date, 6, 5) WHERE birth_date <> '';
CREATE INDEX customers_birth_md ON customers (birth_md) WHERE birth_md <> '';

-- +goose Down
SELECT 1;
