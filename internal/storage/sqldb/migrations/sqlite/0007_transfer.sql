-- +goose Up
-- Customers' ids in other systems, one set per integration ("default" for
-- imports); an id names one customer of the tenant in its integration.
CREATE TABLE customer_external_ids (
    tenant_id   TEXT NOT NULL,
    integration TEXT NOT NULL,
    external_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, integration, external_id)
);
CREATE INDEX customer_external_ids_customer ON customer_external_ids (tenant_id, customer_id);

-- Imports the server runs in the background. A queued or running job whose
-- updated_at (its heartbeat) is old was interrupted and counts as failed.
CREATE TABLE import_jobs (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    phase         TEXT NOT NULL DEFAULT '',
    format        TEXT NOT NULL,
    dry_run       INTEGER NOT NULL DEFAULT 0,
    skip_bad_rows INTEGER NOT NULL DEFAULT 0,
    size          BIGINT NOT NULL,
    percent       INTEGER NOT NULL DEFAULT 0,
    rows_total    BIGINT NOT NULL DEFAULT -1,
    rows_done     BIGINT NOT NULL DEFAULT 0,
    created       BIGINT NOT NULL DEFAULT 0,
    updated       BIGINT NOT NULL DEFAULT 0,
    unchanged     BIGINT NOT NULL DEFAULT 0,
    bad_rows      BIGINT NOT NULL DEFAULT 0,
    errors        TEXT NOT NULL DEFAULT '[]',
    message       TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    PRIMARY KEY (tenant_id, id)
);

-- Operations of a period, for exports and reports.
CREATE INDEX operations_created ON operations (tenant_id, created_at, id);

-- +goose Down
SELECT 1;
