-- +goose Up
-- The e-mail's blind index becomes a search term in customers.terms
-- ("e:" and the index, keyed by the tenant already) instead of a B-tree of
-- its own: the index's entries, random by design, scattered a bulk load's
-- writes over the whole tree. SQLite moves all its terms, e-mail too,
-- into an FTS5 index (its 0011).
UPDATE customers SET terms = array_append(terms, 'e:' || email_bidx) WHERE email_bidx <> '';
DROP INDEX customers_email_bidx;

-- +goose Down
CREATE INDEX customers_email_bidx ON customers (tenant_id, email_bidx) WHERE email_bidx <> '';
UPDATE customers SET terms = array_remove(terms, 'e:' || email_bidx) WHERE email_bidx <> '';
