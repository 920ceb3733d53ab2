-- +goose Up
CREATE TABLE purchases (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    external_id        TEXT NOT NULL,
    customer_id        TEXT NOT NULL,
    store_id           TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL CHECK (status IN ('pending', 'complete', 'cancelled')),
    tier               TEXT NOT NULL DEFAULT '',
    total              BIGINT NOT NULL,
    eligible           BIGINT NOT NULL,
    max_redeem         BIGINT NOT NULL,
    max_redeem_percent BIGINT NOT NULL,
    available          BIGINT NOT NULL,
    redeem             BIGINT NOT NULL,
    to_pay             BIGINT NOT NULL,
    accrue             BIGINT NOT NULL,
    lines              TEXT NOT NULL,
    redeem_op_id       TEXT NOT NULL DEFAULT '',
    accrue_op_id       TEXT NOT NULL DEFAULT '',
    accrue_lot_id      TEXT NOT NULL DEFAULT '',
    request_hash       BYTEA NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX purchases_external ON purchases (tenant_id, external_id);
CREATE INDEX purchases_customer ON purchases (tenant_id, customer_id, created_at);

CREATE TABLE refunds (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    purchase_id     TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    lines           TEXT NOT NULL,
    points_returned BIGINT NOT NULL,
    points_revoked  BIGINT NOT NULL,
    debt            BIGINT NOT NULL,
    amount          BIGINT NOT NULL,
    total           BIGINT NOT NULL,
    request_hash    BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX refunds_external ON refunds (tenant_id, external_id);
CREATE INDEX refunds_purchase ON refunds (tenant_id, purchase_id, created_at);

-- +goose Down
SELECT 1;
