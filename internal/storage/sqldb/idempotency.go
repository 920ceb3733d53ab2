package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/kopilka/kopilka/internal/storage"
)

// GetIdempotency returns the stored answer for a key.
func (tx *Tx) GetIdempotency(ctx context.Context, tenantID, scope, key string) (*storage.Idempotency, error) {
	r := &storage.Idempotency{TenantID: tenantID, Scope: scope, Key: key}
	var created int64
	err := tx.row(ctx, `SELECT request_hash, status, body, created_at FROM idempotency
WHERE tenant_id = $1 AND scope = $2 AND key = $3`, tenantID, scope, key).Scan(&r.RequestHash, &r.Status, &r.Body, &created)
	if err != nil {
		return nil, wrap("get idempotency", err)
	}
	r.CreatedAt = fromMicros(created)
	if r.Body, err = openBlob(tx.db.keys, r.Body, tenantID, scope+"\x00"+key, "idempotency"); err != nil {
		return nil, fmt.Errorf("stored answer of %s: %w", scope, err)
	}
	return r, nil
}

// PutIdempotency stores an answer (sealed: it may hold personal data);
// ErrConflict when the key is taken. Inside a group commit the answer is
// gathered with the write it answers (a taken key then fails the batch,
// whose writes all run again alone).
func (tx *Tx) PutIdempotency(ctx context.Context, r *storage.Idempotency) error {
	if tx.b != nil {
		sealed := *r
		sealed.Body = sealBlob(tx.db.keys, r.Body, r.TenantID, r.Scope+"\x00"+r.Key, "idempotency")
		tx.b.own.addIdempotency(tx.now, &sealed)
		r.CreatedAt = tx.now
		return nil
	}
	r.CreatedAt = tx.now
	_, err := tx.exec(ctx, `INSERT INTO idempotency (tenant_id, scope, key, request_hash, status, body, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.TenantID, r.Scope, r.Key, r.RequestHash, r.Status,
		sealBlob(tx.db.keys, r.Body, r.TenantID, r.Scope+"\x00"+r.Key, "idempotency"), micros(tx.now))
	return wrap("put idempotency", err)
}

// PurgeIdempotency deletes answers stored before t.
func (tx *Tx) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	res, err := tx.exec(ctx, `DELETE FROM idempotency WHERE created_at < $1`, micros(before))
	if err != nil {
		return 0, wrap("purge idempotency", err)
	}
	return res.RowsAffected()
}
