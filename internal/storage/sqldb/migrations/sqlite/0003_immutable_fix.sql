-- +goose Up
-- The PostgreSQL pair fixes its immutability trigger function; SQLite's
-- triggers (0001) were right, so nothing changes here.
SELECT 1;

-- +goose Down
SELECT 1;
