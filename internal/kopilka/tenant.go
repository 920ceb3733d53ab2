package kopilka

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Tenant is one merchant account. Every other row belongs to exactly one.
type Tenant struct {
	ID        string
	Name      string
	Settings  TenantSettings
	CreatedAt time.Time
}

// TenantSettings are the per-tenant switches that are not part of the
// points programme.
type TenantSettings struct {
	// AllowLegalEntities lets legal entities join the programme.
	AllowLegalEntities bool `json:"allow_legal_entities"`
	// ElectronicDeactivatesPlastic: issuing an electronic card replaces
	// the customer's active plastic cards (MoySklad knows one card per
	// customer).
	ElectronicDeactivatesPlastic bool `json:"electronic_deactivates_plastic"`
	// ElectronicCardGroup, when set, is the group a customer is put in
	// when an electronic card is issued to them.
	ElectronicCardGroup string `json:"electronic_card_group"`
}

// ValidateSettings normalises and checks settings in place. It returns an
// invalid_request *Error naming the field.
func ValidateSettings(s *TenantSettings) error {
	s.ElectronicCardGroup = strings.TrimSpace(s.ElectronicCardGroup)
	if utf8.RuneCountInString(s.ElectronicCardGroup) > 200 || !utf8.ValidString(s.ElectronicCardGroup) {
		return Invalid("electronic_card_group", "must be valid text of at most 200 characters")
	}
	return nil
}

// Scope is a permission carried by an API key.
type Scope string

// The scopes of the public contract.
const (
	ScopeAdmin Scope = "admin"
	ScopePOS   Scope = "pos"
)

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return s == ScopeAdmin || s == ScopePOS }

// APIKey is an API key as stored: only the SHA-256 digest of the secret is
// kept. The plain key is returned once, at creation.
type APIKey struct {
	ID        string // the visible prefix, e.g. "key_…"; part of the plain key
	TenantID  string
	Name      string
	Scopes    []Scope
	StoreID   string // empty when the key is not bound to a store
	Digest    []byte
	CreatedAt time.Time
	RevokedAt *time.Time
	LastUsed  *time.Time
}

// HasScope reports whether the key carries scope s; an admin key may do
// everything a pos key may.
func (k *APIKey) HasScope(s Scope) bool {
	for _, have := range k.Scopes {
		if have == s || have == ScopeAdmin {
			return true
		}
	}
	return false
}

// Actor is who makes a change, for histories and logs.
type Actor struct {
	TenantID string
	KeyID    string // API key id, or empty
	StoreID  string // store binding of the key, or empty
	Name     string // "cli", "system", or the key id
	Scopes   []Scope
}

// HasScope reports whether the actor's key carries scope s, as
// APIKey.HasScope does; the system and command-line actors carry none.
func (a Actor) HasScope(s Scope) bool { return (&APIKey{Scopes: a.Scopes}).HasScope(s) }

type actorKey struct{}

// WithActor returns a context carrying the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, or a system actor.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Name: "system"}
}

// Store is a point of sale (a shop, a pharmacy).
type Store struct {
	ID        string
	TenantID  string
	Name      string
	Address   string
	Phone     string
	Hours     []byte // JSON: a string or an object, kept as given
	CreatedAt time.Time
}
