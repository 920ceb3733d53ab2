package sqldb

import (
	"context"
	"database/sql"
	"slices"

	"github.com/kopilka/kopilka/internal/storage"
)

// CustomerStatus reads whether a customer was merged or deleted.
func (tx *Tx) CustomerStatus(ctx context.Context, tenantID, id string) (*storage.CustomerStatus, error) {
	var merged sql.NullString
	var deleted int
	err := tx.row(ctx, `SELECT merged_into, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END FROM customers
WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&merged, &deleted)
	if err != nil {
		return nil, wrap("customer status", err)
	}
	return &storage.CustomerStatus{MergedInto: merged.String, Deleted: deleted != 0}, nil
}

// PendingPurchases lists the ids of a customer's pending purchases.
func (tx *Tx) PendingPurchases(ctx context.Context, tenantID, customerID string, limit int) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT id FROM purchases WHERE tenant_id = $1 AND customer_id = $2 AND status = 'pending'
ORDER BY created_at, id LIMIT $3`, tenantID, customerID, limit)
	if err != nil {
		return nil, wrap("pending purchases", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// mergeSQL moves what belongs to customer $2 to customer $3. The last
// statement marks $2 merged and must touch its row.
var mergeSQL = []string{
	`UPDATE cards SET customer_id = $3 WHERE tenant_id = $1 AND customer_id = $2`,
	`UPDATE lots SET customer_id = $3 WHERE tenant_id = $1 AND customer_id = $2`,
	`UPDATE holds SET customer_id = $3 WHERE tenant_id = $1 AND customer_id = $2`,
	`UPDATE purchases SET customer_id = $3 WHERE tenant_id = $1 AND customer_id = $2`,
	`UPDATE customer_external_ids SET customer_id = $3 WHERE tenant_id = $1 AND customer_id = $2`,
	`UPDATE customers SET merged_into = $3 WHERE tenant_id = $1 AND merged_into = $2`,
}

const markMergedSQL = `UPDATE customers SET merged_into = $3, merged_at = $4, updated_at = $4, debt = 0, purchases_total = 0
WHERE tenant_id = $1 AND id = $2 AND merged_into IS NULL AND deleted_at IS NULL`

// MergeCustomer moves from's belongings to into and marks from merged.
func (tx *Tx) MergeCustomer(ctx context.Context, tenantID, from, into string) error {
	if err := affected(tx.exec(ctx, markMergedSQL, tenantID, from, into, micros(tx.now))); err != nil {
		return wrap("merge customer", err)
	}
	for _, q := range mergeSQL {
		if _, err := tx.exec(ctx, q, tenantID, from, into); err != nil {
			return wrap("merge customer", err)
		}
	}
	return nil
}

// personalFields are the profile fields whose values deletion erases
// from the change history as well.
const personalFields = `('phone', 'extra_phone', 'email', 'first_name', 'last_name', 'middle_name', 'birth_date',
 'gender', 'ad_consent', 'tags')`

// eraseSQL erases customer $2 (and the customers merged into it); the
// first statement, the only one with the time ($3), must touch its row.
var eraseSQL = []string{
	`UPDATE customers SET phone = NULL, phone_bidx = NULL, email_bidx = '', extra_phone = '', email = '', first_name = '', last_name = '', middle_name = '',
 birth_date = '', birth_md = '', gender = '', ad_consent = 0, ad_consent_at = NULL, ad_consent_via = '', tags = '[]',
 deleted_at = COALESCE(deleted_at, $3), updated_at = $3
 WHERE tenant_id = $1 AND (id = $2 OR merged_into = $2)`,
	`UPDATE customer_changes SET old_value = '', new_value = '' WHERE tenant_id = $1 AND field IN ` + personalFields + `
 AND customer_id IN (SELECT id FROM customers WHERE tenant_id = $1 AND (id = $2 OR merged_into = $2))`,
	`DELETE FROM customer_external_ids WHERE tenant_id = $1
 AND customer_id IN (SELECT id FROM customers WHERE tenant_id = $1 AND (id = $2 OR merged_into = $2))`,
	`UPDATE cards SET status = 'blocked' WHERE tenant_id = $1 AND customer_id = $2 AND status = 'active'`,
}

// eraseTermsSQL drops the search terms of the customer and of those merged
// into it, after eraseSQL: their documents in an FTS5 index on SQLite
// (searchDoc), an array in each customer's row on PostgreSQL (pgTerms).
var eraseTermsSQL = map[bool]string{
	false: `DELETE FROM customer_search WHERE rowid IN
 (SELECT search_n FROM customers WHERE tenant_id = $1 AND (id = $2 OR merged_into = $2))`,
	true: `UPDATE customers SET terms = '{}' WHERE tenant_id = $1 AND (id = $2 OR merged_into = $2)`,
}

// EraseCustomer erases a customer's personal data and marks it deleted.
func (tx *Tx) EraseCustomer(ctx context.Context, tenantID, id string) error {
	if err := affected(tx.exec(ctx, eraseSQL[0], tenantID, id, micros(tx.now))); err != nil {
		return wrap("erase customer", err)
	}
	for _, q := range append(slices.Clip(eraseSQL[1:]), eraseTermsSQL[tx.isPG()]) {
		if _, err := tx.exec(ctx, q, tenantID, id); err != nil {
			return wrap("erase customer", err)
		}
	}
	return nil
}
