package sqldb

import (
	"context"

	"github.com/kopilka/kopilka/internal/kopilka"
)

const createStoreSQL = `INSERT INTO stores (tenant_id, id, name, address, phone, hours, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

// CreateStore stores a new point of sale.
func (tx *Tx) CreateStore(ctx context.Context, s *kopilka.Store) error {
	s.CreatedAt = tx.now
	hours := string(s.Hours)
	if hours == "" {
		hours = "null"
	}
	_, err := tx.exec(ctx, createStoreSQL, s.TenantID, s.ID, s.Name, s.Address, s.Phone, hours, micros(s.CreatedAt))
	return wrap("create store", err)
}

const storeColumns = `tenant_id, id, name, address, phone, hours, created_at`

func scanStore(scan func(...any) error) (*kopilka.Store, error) {
	var s kopilka.Store
	var hours string
	var created int64
	if err := scan(&s.TenantID, &s.ID, &s.Name, &s.Address, &s.Phone, &hours, &created); err != nil {
		return nil, err
	}
	s.Hours = []byte(hours)
	s.CreatedAt = fromMicros(created)
	return &s, nil
}

// GetStore loads a store.
func (tx *Tx) GetStore(ctx context.Context, tenantID, id string) (*kopilka.Store, error) {
	s, err := scanStore(tx.row(ctx, `SELECT `+storeColumns+` FROM stores WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan)
	return s, wrap("get store", err)
}

// ListStores lists a tenant's stores by name.
func (tx *Tx) ListStores(ctx context.Context, tenantID string) ([]kopilka.Store, error) {
	rows, err := tx.query(ctx, `SELECT `+storeColumns+` FROM stores WHERE tenant_id = $1 ORDER BY name, id`, tenantID)
	if err != nil {
		return nil, wrap("list stores", err)
	}
	defer rows.Close()
	var out []kopilka.Store
	for rows.Next() {
		s, err := scanStore(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}
