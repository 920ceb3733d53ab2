-- +goose Up
-- PostgreSQL moves the search terms into customers.terms under a GIN
-- index (see its 0010). SQLite has no GIN and keeps customer_terms: this
-- file only keeps the two dialects' migrations paired.
SELECT 1;

-- +goose Down
SELECT 1;
