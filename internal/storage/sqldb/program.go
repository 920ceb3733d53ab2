package sqldb

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// GetProgram loads a tenant's programme, or the default when none is set.
func (tx *Tx) GetProgram(ctx context.Context, tenantID string) (*kopilka.Program, error) {
	var body string
	err := tx.row(ctx, `SELECT body FROM programs WHERE tenant_id = $1`, tenantID).Scan(&body)
	if errors.Is(err, storage.ErrNotFound) {
		p := kopilka.DefaultProgram()
		return &p, nil
	}
	if err != nil {
		return nil, wrap("get program", err)
	}
	var p kopilka.Program
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return nil, wrap("decode program", err)
	}
	return &p, nil
}

const putProgramSQL = `INSERT INTO programs (tenant_id, body, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`

// PutProgram replaces a tenant's programme.
func (tx *Tx) PutProgram(ctx context.Context, tenantID string, p *kopilka.Program) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, putProgramSQL, tenantID, string(body), micros(tx.now))
	return wrap("put program", err)
}
