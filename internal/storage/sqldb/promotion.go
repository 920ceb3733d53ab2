package sqldb

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// CreatePromotion stores a promotion or offer.
func (tx *Tx) CreatePromotion(ctx context.Context, p *kopilka.Promotion) error {
	p.CreatedAt = tx.now
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO promotions (tenant_id, id, kind, body, starts_at, ends_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, p.TenantID, p.ID, p.Kind, string(body), micros(p.StartsAt), nullMicros(p.EndsAt), micros(tx.now))
	return wrap("create promotion", err)
}

func scanPromotion(tenantID string, scan func(...any) error) (*kopilka.Promotion, error) {
	var body string
	if err := scan(&body); err != nil {
		return nil, err
	}
	var p kopilka.Promotion
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return nil, err
	}
	p.TenantID = tenantID
	return &p, nil
}

// GetPromotion loads a promotion or offer of a kind.
func (tx *Tx) GetPromotion(ctx context.Context, tenantID, kind, id string) (*kopilka.Promotion, error) {
	p, err := scanPromotion(tenantID, tx.row(ctx, `SELECT body FROM promotions WHERE tenant_id = $1 AND kind = $2 AND id = $3`, tenantID, kind, id).Scan)
	return p, wrap("get promotion", err)
}

// ListPromotions lists a tenant's rules of a kind (all kinds when kind is
// empty) that have not ended before t, by start.
func (tx *Tx) ListPromotions(ctx context.Context, tenantID, kind string, notEndedBefore time.Time) ([]kopilka.Promotion, error) {
	rows, err := tx.query(ctx, `SELECT body FROM promotions WHERE tenant_id = $1 AND ($2 = '' OR kind = $2)
 AND (ends_at IS NULL OR ends_at > $3) ORDER BY starts_at, id`, tenantID, kind, micros(notEndedBefore))
	if err != nil {
		return nil, wrap("list promotions", err)
	}
	defer rows.Close()
	var out []kopilka.Promotion
	for rows.Next() {
		p, err := scanPromotion(tenantID, rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// DeletePromotion removes a rule; ErrNotFound when there is none.
func (tx *Tx) DeletePromotion(ctx context.Context, tenantID, kind, id string) error {
	return wrap("delete promotion", affected(tx.exec(ctx, `DELETE FROM promotions WHERE tenant_id = $1 AND kind = $2 AND id = $3`, tenantID, kind, id)))
}

// GrantBonus records that a customer got a bonus for a period;
// ErrConflict when it already did.
func (tx *Tx) GrantBonus(ctx context.Context, tenantID, customerID, kind, period, operationID string) error {
	_, err := tx.exec(ctx, `INSERT INTO bonus_grants (tenant_id, customer_id, kind, period, operation_id) VALUES ($1, $2, $3, $4, $5)`,
		tenantID, customerID, kind, period, operationID)
	return wrap("grant bonus", err)
}

// BirthdayCustomers lists a tenant's customers born on one of monthDays
// ("MM-DD", one or two) who have no grant of the kind for the period yet.
func (tx *Tx) BirthdayCustomers(ctx context.Context, tenantID string, monthDays []string, kind, period string, limit int) ([]storage.TenantCustomer, error) {
	md := func(i int) string { // birth_md holds the blind index of "MM-DD"
		if i < len(monthDays) {
			return tx.db.keys.Index(idxMD, tenantID, monthDays[i])
		}
		return tx.db.keys.Index(idxMD, tenantID, monthDays[0])
	}
	rows, err := tx.query(ctx, `SELECT c.tenant_id, c.id FROM customers c WHERE c.tenant_id = $1 AND c.birth_md IN ($2, $3)`+live+`
 AND NOT EXISTS (SELECT 1 FROM bonus_grants g WHERE g.tenant_id = c.tenant_id AND g.customer_id = c.id AND g.kind = $4 AND g.period = $5)
 ORDER BY c.id LIMIT $6`, tenantID, md(0), md(1), kind, period, limit)
	if err != nil {
		return nil, wrap("birthday customers", err)
	}
	defer rows.Close()
	var out []storage.TenantCustomer
	for rows.Next() {
		var tc storage.TenantCustomer
		if err := rows.Scan(&tc.TenantID, &tc.CustomerID); err != nil {
			return nil, err
		}
		out = append(out, tc)
	}
	return out, rows.Err()
}
