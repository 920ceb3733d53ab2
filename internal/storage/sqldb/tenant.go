package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
)

const createTenantSQL = `INSERT INTO tenants (id, name, settings, created_at) VALUES ($1, $2, $3, $4)`

// CreateTenant stores a new tenant.
func (tx *Tx) CreateTenant(ctx context.Context, t *kopilka.Tenant) error {
	t.CreatedAt = tx.now
	settings, err := json.Marshal(t.Settings)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, createTenantSQL, t.ID, t.Name, string(settings), micros(t.CreatedAt))
	return wrap("create tenant", err)
}

const getTenantSQL = `SELECT name, settings, created_at FROM tenants WHERE id = $1`

// GetTenant loads a tenant.
func (tx *Tx) GetTenant(ctx context.Context, id string) (*kopilka.Tenant, error) {
	t := &kopilka.Tenant{ID: id}
	var settings string
	var created int64
	if err := tx.row(ctx, getTenantSQL, id).Scan(&t.Name, &settings, &created); err != nil {
		return nil, wrap("get tenant", err)
	}
	t.CreatedAt = fromMicros(created)
	if err := json.Unmarshal([]byte(settings), &t.Settings); err != nil {
		return nil, wrap("tenant settings", err)
	}
	return t, nil
}

// LockTenant takes the tenant's row lock. On PostgreSQL it is FOR NO KEY
// UPDATE, which rows referring to the tenant (API keys) do not wait for.
func (tx *Tx) LockTenant(ctx context.Context, id string) error {
	q := `SELECT id FROM tenants WHERE id = $1`
	if tx.db.d.name() == "postgres" {
		nowait, err := tx.nowait(ctx)
		if err != nil {
			return err
		}
		q += " FOR NO KEY UPDATE" + nowait
	}
	var got string
	return wrap("lock tenant", tx.row(ctx, q, id).Scan(&got))
}

// SetTenantSettings writes a tenant's settings.
func (tx *Tx) SetTenantSettings(ctx context.Context, id string, s kopilka.TenantSettings) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return wrap("set tenant settings", affected(tx.exec(ctx, `UPDATE tenants SET settings = $2 WHERE id = $1`, id, string(b))))
}

const listTenantIDsSQL = `SELECT id FROM tenants ORDER BY id`

// ListTenantIDs lists every tenant, for jobs and verify.
func (tx *Tx) ListTenantIDs(ctx context.Context) ([]string, error) {
	rows, err := tx.query(ctx, listTenantIDsSQL)
	if err != nil {
		return nil, wrap("list tenants", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

const createAPIKeySQL = `INSERT INTO api_keys (id, tenant_id, name, scopes, store_id, digest, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

// CreateAPIKey stores a key's digest.
func (tx *Tx) CreateAPIKey(ctx context.Context, k *kopilka.APIKey) error {
	k.CreatedAt = tx.now
	_, err := tx.exec(ctx, createAPIKeySQL, k.ID, k.TenantID, k.Name, joinScopes(k.Scopes), k.StoreID, k.Digest, micros(k.CreatedAt))
	return wrap("create api key", err)
}

const apiKeyColumns = `id, tenant_id, name, scopes, store_id, digest, created_at, revoked_at`

func scanAPIKey(scan func(...any) error) (*kopilka.APIKey, error) {
	var k kopilka.APIKey
	var scopes string
	var created int64
	var revoked sql.NullInt64
	if err := scan(&k.ID, &k.TenantID, &k.Name, &scopes, &k.StoreID, &k.Digest, &created, &revoked); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(scopes, ",") {
		if s != "" {
			k.Scopes = append(k.Scopes, kopilka.Scope(s))
		}
	}
	k.CreatedAt = fromMicros(created)
	k.RevokedAt = fromNullMicros(revoked)
	return &k, nil
}

// GetAPIKey finds a key by its public id.
func (tx *Tx) GetAPIKey(ctx context.Context, id string) (*kopilka.APIKey, error) {
	k, err := scanAPIKey(tx.row(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id).Scan)
	if err != nil {
		return nil, wrap("get api key", err)
	}
	return k, nil
}

// ListAPIKeys lists a tenant's keys, newest first.
func (tx *Tx) ListAPIKeys(ctx context.Context, tenantID string) ([]kopilka.APIKey, error) {
	rows, err := tx.query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id`, tenantID)
	if err != nil {
		return nil, wrap("list api keys", err)
	}
	defer rows.Close()
	var keys []kopilka.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows.Scan)
		if err != nil {
			return nil, err
		}
		keys = append(keys, *k)
	}
	return keys, rows.Err()
}

const revokeAPIKeySQL = `UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`

// RevokeAPIKey revokes a key; ErrNotFound when no live key has that id.
func (tx *Tx) RevokeAPIKey(ctx context.Context, tenantID, id string) error {
	return wrap("revoke api key", affected(tx.exec(ctx, revokeAPIKeySQL, tenantID, id, micros(tx.now))))
}

func joinScopes(ss []kopilka.Scope) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}
