-- +goose Up
-- PostgreSQL's text columns compare as bytes from this migration on; SQLite's
-- have always done so (BINARY), so nothing changes here.
SELECT 1;

-- +goose Down
SELECT 1;
