-- +goose Up
-- A purchase keeps the rounding rule it was priced under, so its refunds
-- take path-independent shares even after the programme changes.
ALTER TABLE purchases ADD COLUMN whole_points INTEGER NOT NULL DEFAULT 0;

-- +goose Down
SELECT 1;
