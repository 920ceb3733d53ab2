-- +goose Up
-- SQLite moves its search terms into an FTS5 index (see its 0011).
-- PostgreSQL keeps them in customers.terms (0010): this file only keeps
-- the two dialects' migrations paired.
SELECT 1;

-- +goose Down
SELECT 1;
