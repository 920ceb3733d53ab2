package loyalty

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// keyPrefix starts every plain API key so it is easy to recognise in
// configuration files and secret scanners.
const keyPrefix = "kopilka_"

// NewKey is an API key just created: the stored record and the plain key,
// which is shown once and never stored.
type NewKey struct {
	Key   *kopilka.APIKey
	Plain string
}

// CreateTenant makes a tenant with its first admin key.
func (s *Service) CreateTenant(ctx context.Context, name string) (*kopilka.Tenant, *NewKey, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return nil, nil, kopilka.Invalid("name", "a tenant needs a name of 1 to 200 characters")
	}
	t := &kopilka.Tenant{ID: kopilka.NewID("ten"), Name: name}
	nk := newKey(t.ID, "owner", []kopilka.Scope{kopilka.ScopeAdmin}, "")
	err := s.db.Write(ctx, func(tx storage.Tx) error {
		if err := tx.CreateTenant(ctx, t); err != nil {
			return err
		}
		return tx.CreateAPIKey(ctx, nk.Key)
	})
	if err != nil {
		return nil, nil, wrapf(err, "create tenant")
	}
	return t, nk, nil
}

func newKey(tenantID, name string, scopes []kopilka.Scope, storeID string) *NewKey {
	id := kopilka.NewID("key")
	var secret [32]byte
	_, _ = rand.Read(secret[:])
	plain := keyPrefix + strings.TrimPrefix(id, "key_") + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	d := sha256.Sum256([]byte(plain))
	return &NewKey{
		Key:   &kopilka.APIKey{ID: id, TenantID: tenantID, Name: name, Scopes: scopes, StoreID: storeID, Digest: d[:]},
		Plain: plain,
	}
}

// KeyInput describes a key to create.
type KeyInput struct {
	Name    string
	Scopes  []kopilka.Scope
	StoreID string
	// Idem makes the creation idempotent. Its stored answer must leave the
	// plain key out: a replay shows the key's record, never its secret.
	Idem *Idem
}

// CreateAPIKey makes a key for a tenant.
func (s *Service) CreateAPIKey(ctx context.Context, tenantID string, in KeyInput) (*NewKey, error) {
	if utf8.RuneCountInString(in.Name) > 200 {
		return nil, kopilka.Invalid("name", "at most 200 characters")
	}
	if len(in.Scopes) == 0 {
		return nil, kopilka.Invalid("scopes", "name at least one scope: admin or pos")
	}
	for _, sc := range in.Scopes {
		if !sc.Valid() {
			return nil, kopilka.Invalid("scopes", "unknown scope %q; use admin or pos", sc)
		}
	}
	nk := newKey(tenantID, in.Name, in.Scopes, in.StoreID)
	_, err := s.write(ctx, tenantID, in.Idem, func(tx storage.Tx) (any, error) {
		if in.StoreID != "" {
			if _, err := tx.GetStore(ctx, tenantID, in.StoreID); err != nil {
				if errIs(err, storage.ErrNotFound) {
					return nil, kopilka.Invalid("store_id", "no store %q", in.StoreID)
				}
				return nil, err
			}
		}
		return nk.Key, tx.CreateAPIKey(ctx, nk.Key)
	})
	if err != nil {
		return nil, wrapf(err, "create api key")
	}
	return nk, nil
}

// Authenticate finds the live key for a plain key, in constant time.
func (s *Service) Authenticate(ctx context.Context, plain string) (*kopilka.APIKey, error) {
	unauth := kopilka.Errorf(kopilka.CodeUnauthorized, "the API key is missing, malformed, unknown or revoked")
	rest, ok := strings.CutPrefix(plain, keyPrefix)
	if !ok {
		return nil, unauth
	}
	idPart, _, ok := strings.Cut(rest, "_")
	if !ok || !kopilka.ValidID("key", "key_"+idPart) {
		return nil, unauth
	}
	d := sha256.Sum256([]byte(plain))
	if k := s.authCache.get(d, s.clock()); k != nil {
		return k, nil
	}
	var k *kopilka.APIKey
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		k, err = tx.GetAPIKey(ctx, "key_"+idPart)
		return err
	})
	if errIs(err, storage.ErrNotFound) {
		return nil, unauth
	}
	if err != nil {
		return nil, unavailable(err)
	}
	if subtle.ConstantTimeCompare(d[:], k.Digest) != 1 || k.RevokedAt != nil {
		return nil, unauth
	}
	s.authCache.put(d, k, s.clock())
	return k, nil
}

// ListAPIKeys lists a tenant's keys (digests are not for display).
func (s *Service) ListAPIKeys(ctx context.Context, tenantID string) ([]kopilka.APIKey, error) {
	var keys []kopilka.APIKey
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		keys, err = tx.ListAPIKeys(ctx, tenantID)
		return err
	})
	return keys, err
}

// RevokeAPIKey revokes a key; it stops working on the next request.
func (s *Service) RevokeAPIKey(ctx context.Context, tenantID, id string) error {
	err := s.db.Write(ctx, func(tx storage.Tx) error { return tx.RevokeAPIKey(ctx, tenantID, id) })
	s.authCache.forget(id)
	return notFound(err, kopilka.CodeNotFound, "API key")
}

// GetTenant loads a tenant.
func (s *Service) GetTenant(ctx context.Context, id string) (*kopilka.Tenant, error) {
	var t *kopilka.Tenant
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		t, err = tx.GetTenant(ctx, id)
		return err
	})
	return t, notFound(err, kopilka.CodeNotFound, "tenant")
}

// StoreInput describes a store to create.
type StoreInput struct {
	Name, Address, Phone string
	Hours                json.RawMessage
	Idem                 *Idem // makes the creation idempotent
}

// CreateStore adds a point of sale.
func (s *Service) CreateStore(ctx context.Context, tenantID string, in StoreInput) (*kopilka.Store, error) {
	st := &kopilka.Store{ID: kopilka.NewID("sto"), TenantID: tenantID, Name: strings.TrimSpace(in.Name),
		Address: strings.TrimSpace(in.Address), Hours: in.Hours}
	if st.Name == "" || utf8.RuneCountInString(st.Name) > 200 {
		return nil, kopilka.Invalid("name", "a store needs a name of 1 to 200 characters")
	}
	if utf8.RuneCountInString(st.Address) > 500 {
		return nil, kopilka.Invalid("address", "at most 500 characters")
	}
	if in.Phone != "" {
		p, ok := kopilka.NormalizePhone(in.Phone)
		if !ok {
			return nil, kopilka.Invalid("phone", "%q is not a phone number", in.Phone)
		}
		st.Phone = p
	}
	if len(st.Hours) > 0 {
		if c := firstNonSpace(st.Hours); !json.Valid(st.Hours) || c != '"' && c != '{' && c != '[' && string(st.Hours) != "null" {
			return nil, kopilka.Invalid("hours", "opening hours are a text such as \"Пн–Пт 9:00–21:00\" or an object")
		}
		if len(st.Hours) > 4096 {
			return nil, kopilka.Invalid("hours", "at most 4 KiB")
		}
	}
	if _, err := s.write(ctx, tenantID, in.Idem, func(tx storage.Tx) (any, error) { return st, tx.CreateStore(ctx, st) }); err != nil {
		return nil, wrapf(err, "create store")
	}
	return st, nil
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}

// GetStore loads a store.
func (s *Service) GetStore(ctx context.Context, tenantID, id string) (*kopilka.Store, error) {
	var st *kopilka.Store
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		st, err = tx.GetStore(ctx, tenantID, id)
		return err
	})
	return st, notFound(err, kopilka.CodeNotFound, "store")
}

// ListStores lists the tenant's stores.
func (s *Service) ListStores(ctx context.Context, tenantID string) ([]kopilka.Store, error) {
	var out []kopilka.Store
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		out, err = tx.ListStores(ctx, tenantID)
		return err
	})
	return out, err
}

// authTTL is how long a verified key is trusted without a database read.
// A revocation through this process takes effect on the next request; one
// made through another server process within authTTL.
const authTTL = time.Second

// authCache remembers verified keys by the digest of the plain key.
type authCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedKey
}

type cachedKey struct {
	k  *kopilka.APIKey
	at time.Time
}

func (c *authCache) get(d [32]byte, now time.Time) *kopilka.APIKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[d]
	if !ok || now.Sub(e.at) >= authTTL || now.Before(e.at) {
		return nil
	}
	return e.k
}

func (c *authCache) put(d [32]byte, k *kopilka.APIKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10_000 {
		c.m = make(map[[32]byte]cachedKey)
	}
	c.m[d] = cachedKey{k: k, at: now}
}

func (c *authCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d, e := range c.m {
		if e.k.ID == id {
			delete(c.m, d)
		}
	}
}

// Settings returns the tenant's settings.
func (s *Service) Settings(ctx context.Context, tenantID string) (kopilka.TenantSettings, error) {
	t, err := s.GetTenant(ctx, tenantID)
	if err != nil {
		return kopilka.TenantSettings{}, err
	}
	return t.Settings, nil
}

// SetSettings replaces the tenant's settings and returns them as stored.
func (s *Service) SetSettings(ctx context.Context, tenantID string, st kopilka.TenantSettings) (kopilka.TenantSettings, error) {
	if err := kopilka.ValidateSettings(&st); err != nil {
		return st, err
	}
	err := s.db.Write(ctx, func(tx storage.Tx) error { return tx.SetTenantSettings(ctx, tenantID, st) })
	return st, notFound(err, kopilka.CodeNotFound, "tenant")
}
