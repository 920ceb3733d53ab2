-- +goose Up
-- Times are Unix microseconds (BIGINT) in both dialects; amounts are BIGINT hundredths.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    settings   TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL DEFAULT '',
    scopes     TEXT NOT NULL,
    store_id   TEXT NOT NULL DEFAULT '',
    digest     BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE stores (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    address    TEXT NOT NULL DEFAULT '',
    phone      TEXT NOT NULL DEFAULT '',
    hours      TEXT NOT NULL DEFAULT 'null',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE customers (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    phone           TEXT,
    extra_phone     TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    first_name      TEXT NOT NULL DEFAULT '',
    last_name       TEXT NOT NULL DEFAULT '',
    middle_name     TEXT NOT NULL DEFAULT '',
    birth_date      TEXT NOT NULL DEFAULT '',
    gender          TEXT NOT NULL DEFAULT '',
    ad_consent      INTEGER NOT NULL DEFAULT 0,
    ad_consent_at   BIGINT,
    ad_consent_via  TEXT NOT NULL DEFAULT '',
    grp             TEXT NOT NULL DEFAULT '',
    tags            TEXT NOT NULL DEFAULT '[]',
    purchases_total BIGINT NOT NULL DEFAULT 0,
    debt            BIGINT NOT NULL DEFAULT 0 CHECK (debt >= 0),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX customers_phone ON customers (tenant_id, phone) WHERE phone IS NOT NULL;

CREATE TABLE customer_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    field       TEXT NOT NULL,
    old_value   TEXT NOT NULL,
    new_value   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    changed_at  BIGINT NOT NULL
);
CREATE INDEX customer_changes_customer ON customer_changes (tenant_id, customer_id, id);

CREATE TABLE cards (
    tenant_id   TEXT NOT NULL,
    number      TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, number)
);
CREATE INDEX cards_customer ON cards (tenant_id, customer_id);

CREATE TABLE programs (
    tenant_id  TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE operations (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    type         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'complete', 'voided')),
    amount       BIGINT NOT NULL,
    purchase_id  TEXT NOT NULL DEFAULT '',
    external_id  TEXT,
    message      TEXT NOT NULL DEFAULT '',
    request_hash BLOB,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX operations_external ON operations (tenant_id, type, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX operations_customer ON operations (tenant_id, customer_id, created_at DESC, id DESC);

CREATE TABLE postings (
    tenant_id    TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    n            INTEGER NOT NULL,
    customer_id  TEXT NOT NULL DEFAULT '',
    account      TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, operation_id, n)
);

CREATE TABLE lots (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    amount       BIGINT NOT NULL CHECK (amount > 0),
    remaining    BIGINT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'inactive', 'active', 'voided')),
    activates_at BIGINT NOT NULL,
    expires_at   BIGINT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT lots_no_overdraft CHECK (remaining >= 0 AND remaining <= amount)
);
CREATE INDEX lots_customer ON lots (tenant_id, customer_id) WHERE remaining > 0;
CREATE INDEX lots_to_activate ON lots (activates_at) WHERE state = 'inactive';
CREATE INDEX lots_to_expire ON lots (expires_at) WHERE state = 'active' AND remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE holds (
    tenant_id    TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    lot_id       TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    amount       BIGINT NOT NULL CHECK (amount > 0),
    state        TEXT NOT NULL CHECK (state IN ('held', 'posted', 'voided')),
    PRIMARY KEY (tenant_id, operation_id, lot_id)
);
CREATE INDEX holds_customer ON holds (tenant_id, customer_id) WHERE state = 'held';

CREATE TABLE idempotency (
    tenant_id    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);

-- Posted history is immutable (RELIABILITY O6): postings never change, and an
-- operation changes only while pending.
-- +goose StatementBegin
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'kopilka: postings are immutable'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
BEGIN SELECT RAISE(ABORT, 'kopilka: postings are immutable'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER operations_no_update BEFORE UPDATE ON operations WHEN OLD.status <> 'pending'
BEGIN SELECT RAISE(ABORT, 'kopilka: posted operations are immutable'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER operations_no_delete BEFORE DELETE ON operations
BEGIN SELECT RAISE(ABORT, 'kopilka: operations are immutable'); END;
-- +goose StatementEnd

-- +goose Down
SELECT 1;
