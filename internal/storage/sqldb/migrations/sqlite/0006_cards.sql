-- +goose Up
-- Card ranges: a number is the prefix, the sequence zero-padded to width
-- digits, and the check digit if any. next_seq is the issuing counter; the
-- write that issues a number moves it under the range's row lock, in the
-- same transaction, so numbers are never issued twice nor skipped unless
-- a card already has them.
CREATE TABLE card_ranges (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    prefix      TEXT NOT NULL,
    start_seq   BIGINT NOT NULL,
    end_seq     BIGINT NOT NULL,
    width       INTEGER NOT NULL,
    check_digit TEXT NOT NULL CHECK (check_digit IN ('none', 'luhn', 'ean13')),
    kind        TEXT NOT NULL DEFAULT '',
    next_seq    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT card_ranges_counter CHECK (next_seq >= start_seq AND next_seq <= end_seq + 1)
);

-- The range whose counter issued a card, and the card that replaced it.
ALTER TABLE cards ADD COLUMN range_id TEXT NOT NULL DEFAULT '';
ALTER TABLE cards ADD COLUMN replaced_by TEXT NOT NULL DEFAULT '';

-- +goose Down
SELECT 1;
