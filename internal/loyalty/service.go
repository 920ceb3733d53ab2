// Package loyalty holds the processing centre's use cases: tenants and
// keys, stores, customers, adjustments, balances, the programme, the
// activation and expiry of lots, and the verification of the ledger. Each
// write runs in one storage transaction that applies the ledger rules and,
// when the caller gave an idempotency key, records the answer with it.
package loyalty

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	if errors.Is(err, storage.ErrRetry) {
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
