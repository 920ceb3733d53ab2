-- +goose Up
-- Personal data at rest (RELIABILITY S11). The columns phone, extra_phone,
-- email, first_name, last_name, middle_name and birth_date of customers
-- now hold values sealed with AES-256-GCM ("KEYID:base64"), and pii_key
-- names the data key that sealed the row ('' for rows written before this
-- migration: the server seals those at start). Lookups go through keyed
-- blind indexes (HMAC-SHA256, tenant-bound): phone_bidx (unique, so a
-- duplicate phone is still refused), email_bidx (lower-cased) and
-- birth_md, which from now on holds the blind index of "MM-DD".
ALTER TABLE customers ADD COLUMN pii_key TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN phone_bidx TEXT;
ALTER TABLE customers ADD COLUMN email_bidx TEXT NOT NULL DEFAULT '';
DROP INDEX customers_phone;
CREATE UNIQUE INDEX customers_phone_bidx ON customers (tenant_id, phone_bidx) WHERE phone_bidx IS NOT NULL;
CREATE INDEX customers_email_bidx ON customers (tenant_id, email_bidx) WHERE email_bidx <> '';
CREATE INDEX customers_grp ON customers (tenant_id, grp) WHERE grp <> '';
CREATE INDEX customers_created ON customers (tenant_id, created_at, id);

-- The history's old and new values of personal fields are sealed too.
ALTER TABLE customer_changes ADD COLUMN pii_key TEXT NOT NULL DEFAULT '';

-- Search terms of customers: "n:" and the blind index of a name token,
-- "t:" and a lower-cased tag. No index by customer (imports write four
-- rows a customer; a second random-order index halved their speed): a
-- change deletes the customer's old terms by the primary key.
CREATE TABLE customer_terms (
    tenant_id   TEXT NOT NULL,
    term        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, term, customer_id)
) WITHOUT ROWID;

-- A digest of the index key the blind indexes were made with, so that a
-- server started with another key file stops rather than finding nobody.
-- One row for the whole database (not tenant data).
CREATE TABLE pii_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    index_check TEXT NOT NULL
);

-- Consents (152-FZ): each giving or withdrawal of a consent is a new row,
-- never edited; the latest row of a kind is the customer's state.
CREATE TABLE customer_consents (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('personal_data', 'marketing')),
    action      TEXT NOT NULL CHECK (action IN ('given', 'withdrawn')),
    source      TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX customer_consents_customer ON customer_consents (tenant_id, customer_id, seq);

-- +goose Down
SELECT 1;
