-- +goose Up
-- Search terms move from customer_terms, a B-tree entry per term, into an
-- FTS5 inverted index: a name token's blind index is random, so the
-- table's entries scattered over the whole index and every commit of an
-- import wrote most of its pages again; FTS5 keeps one posting list per
-- term and merges its segments in the background of later writes.
--
-- The e-mail's blind index, which scattered the same way over
-- customers_email_bidx, becomes a term as well (as on PostgreSQL).
--
-- An FTS5 document is numbered by an integer: search_n, a number of the
-- customer's own (the table's rowid would not do, VACUUM may renumber
-- it). A document holds the customer's terms as tokens of the ascii
-- tokenizer: "n" or "e" and the blind index of a name token or e-mail;
-- "t" and the hex of "tenant:tag", so that a tag's posting list is its
-- tenant's alone.
ALTER TABLE customers ADD COLUMN search_n INTEGER;
UPDATE customers SET search_n = rowid;
CREATE UNIQUE INDEX customers_search_n ON customers (search_n);
CREATE VIRTUAL TABLE customer_search USING fts5(terms, content = '', contentless_delete = 1, detail = none,
    tokenize = "ascii tokenchars '-_'");
INSERT INTO customer_search (rowid, terms)
SELECT n, group_concat(token, ' ') FROM (
    SELECT c.search_n AS n, CASE WHEN substr(t.term, 1, 2) = 'n:' THEN 'n' || substr(t.term, 3)
        ELSE 't' || hex(c.tenant_id || ':' || substr(t.term, 3)) END AS token
    FROM customer_terms t JOIN customers c ON c.tenant_id = t.tenant_id AND c.id = t.customer_id
    UNION ALL
    SELECT search_n, 'e' || email_bidx FROM customers WHERE email_bidx <> '')
GROUP BY n;
DROP TABLE customer_terms;
DROP INDEX customers_email_bidx;

-- +goose Down
CREATE INDEX customers_email_bidx ON customers (tenant_id, email_bidx) WHERE email_bidx <> '';
CREATE TABLE customer_terms (
    tenant_id   TEXT NOT NULL,
    term        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, term, customer_id)
) WITHOUT ROWID;
DROP TABLE customer_search;
DROP INDEX customers_search_n;
ALTER TABLE customers DROP COLUMN search_n;
