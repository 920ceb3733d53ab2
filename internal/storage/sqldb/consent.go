package sqldb

import (
	"context"

	"github.com/kopilka/kopilka/internal/kopilka"
)

const addConsentSQL = `INSERT INTO customer_consents (tenant_id, id, customer_id, kind, action, source, actor, created_at, seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
 (SELECT COALESCE(MAX(seq), 0) + 1 FROM customer_consents WHERE tenant_id = $1 AND customer_id = $3))`

// AddConsent appends a record to a customer's consent history. The
// caller holds the customer's row lock, which orders the records.
func (tx *Tx) AddConsent(ctx context.Context, tenantID string, c *kopilka.Consent) error {
	c.CreatedAt = tx.now
	_, err := tx.exec(ctx, addConsentSQL, tenantID, c.ID, c.CustomerID, c.Kind, c.Action, c.Source, c.Actor, micros(tx.now))
	return wrap("add consent", err)
}

const listConsentsSQL = `SELECT id, customer_id, kind, action, source, actor, created_at FROM customer_consents
WHERE tenant_id = $1 AND customer_id = $2 ORDER BY seq`

// ListConsents returns a customer's consent history, oldest first.
func (tx *Tx) ListConsents(ctx context.Context, tenantID, customerID string) ([]kopilka.Consent, error) {
	rows, err := tx.query(ctx, listConsentsSQL, tenantID, customerID)
	if err != nil {
		return nil, wrap("list consents", err)
	}
	defer rows.Close()
	out := []kopilka.Consent{}
	for rows.Next() {
		var c kopilka.Consent
		var at int64
		if err := rows.Scan(&c.ID, &c.CustomerID, &c.Kind, &c.Action, &c.Source, &c.Actor, &at); err != nil {
			return nil, wrap("list consents", err)
		}
		c.CreatedAt = fromMicros(at)
		out = append(out, c)
	}
	return out, wrap("list consents", rows.Err())
}
