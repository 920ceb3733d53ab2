// Package loyalty holds the processing centre's use cases: tenants and
// keys, stores, customers, cards and card ranges, adjustments, balances,
// the programme, the activation and expiry of lots, and the verification
// of the ledger. Each write runs in one storage transaction that applies
// the ledger rules and, when the caller gave an idempotency key, records
// the answer with it.
package loyalty

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// Service runs the use cases over a storage.DB.
type Service struct {
	db    storage.DB
	clock func() time.Time
	log   *slog.Logger
	// observe is told of every committed ledger operation (metrics).
	observe func(kopilka.OpType, kopilka.OpStatus)
	// programs caches programmes for a moment: every receipt needs one and
	// they change rarely. SetProgram forgets the tenant's at once; another
	// server process sees a change within programTTL.
	programs programCache
	// keys remembers which customer a card, phone or purchase belongs to,
	// so writes can be routed by customer (storage.WithKey). A stale entry
	// only costs a little speed, never correctness.
	keys keyCache
	// authCache trusts a verified API key for authTTL.
	authCache authCache
	// promos caches running promotions and offers like programmes.
	promos promotionCache
}

type keyCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *keyCache) get(ref string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m[ref]
}

func (k *keyCache) put(ref, customerID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil || len(k.m) > 200_000 {
		k.m = make(map[string]string)
	}
	k.m[ref] = customerID
}

// routed returns ctx carrying the write key of a customer: its id when
// known, else the reference itself.
func (s *Service) routed(ctx context.Context, tenantID, ref string) context.Context {
	if id := s.keys.get(tenantID + "/" + ref); id != "" {
		return storage.WithKey(ctx, id)
	}
	return storage.WithKey(ctx, ref)
}

const programTTL = time.Second

type programCache struct {
	mu sync.Mutex
	m  map[string]cachedProgram
}

type cachedProgram struct {
	p  *kopilka.Program
	at time.Time
}

func (c *programCache) forget(tenantID string) {
	c.mu.Lock()
	delete(c.m, tenantID)
	c.mu.Unlock()
}

// program returns the tenant's programme, from the cache when it is fresh.
// The result is shared: callers must not change it.
func (s *Service) program(ctx context.Context, tx storage.Tx, tenantID string) (*kopilka.Program, error) {
	now := s.clock()
	s.programs.mu.Lock()
	cp, ok := s.programs.m[tenantID]
	s.programs.mu.Unlock()
	if ok && now.Sub(cp.at) < programTTL && now.Sub(cp.at) >= 0 {
		return cp.p, nil
	}
	p, err := tx.GetProgram(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	s.programs.mu.Lock()
	if s.programs.m == nil {
		s.programs.m = map[string]cachedProgram{}
	}
	s.programs.m[tenantID] = cachedProgram{p: p, at: now}
	s.programs.mu.Unlock()
	return p, nil
}

// Observe sets a function told of every committed ledger operation.
func (s *Service) Observe(fn func(kopilka.OpType, kopilka.OpStatus)) { s.observe = fn }

func (s *Service) observed(ops ...*kopilka.Operation) {
	if s.observe == nil {
		return
	}
	for _, op := range ops {
		if op != nil {
			s.observe(op.Type, op.Status)
		}
	}
}

// New returns a Service. clock may be nil (time.Now); log may be nil.
func New(db storage.DB, clock func() time.Time, log *slog.Logger) *Service {
	if clock == nil {
		clock = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, clock: clock, log: log}
}

// Ping checks that the database answers.
func (s *Service) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Dialect names the database in use.
func (s *Service) Dialect() string { return s.db.Dialect() }

// notFound turns storage.ErrNotFound into a not_found error for a thing.
func notFound(err error, code kopilka.Code, what string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return &kopilka.Error{Code: code, Message: what + " not found", Err: err}
	}
	return err
}

// unavailable marks database errors the client may retry.
func unavailable(err error) error {
	if errors.Is(err, storage.ErrRetry) || errors.Is(err, storage.ErrUnavailable) {
		return &kopilka.Error{Code: kopilka.CodeUnavailable, Message: "the database is busy; retry with the same Idempotency-Key", Err: err}
	}
	return err
}

func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
