-- +goose Up
-- A customer merged into another keeps its row with merged_into set to the
-- survivor: lookups by its id or phone resolve to the survivor, and its
-- operations show in the survivor's history. A customer deleted on request
-- (152-FZ) keeps its row and ledger with the personal data erased and
-- deleted_at set; it is found no more.
ALTER TABLE customers ADD COLUMN merged_into TEXT;
ALTER TABLE customers ADD COLUMN merged_at BIGINT;
ALTER TABLE customers ADD COLUMN deleted_at BIGINT;
CREATE INDEX customers_merged_into ON customers (tenant_id, merged_into) WHERE merged_into IS NOT NULL;

-- +goose Down
SELECT 1;
