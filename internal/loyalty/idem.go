package loyalty

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// IdempotencyTTL is how long a stored answer is replayed: longer than the
// longest offline retry of a cash register.
const IdempotencyTTL = 72 * time.Hour

// Idem carries an Idempotency-Key through a write.
type Idem struct {
	Scope string // the route, so one key on two endpoints is two requests
	Key   string
	Hash  []byte // digest of the request; another body under the key is a conflict
	// LegacyHash, when set, is the digest an older release stored for
	// the same request (of its raw bytes): a retry across an upgrade is
	// still replayed.
	LegacyHash []byte
	// Render turns the write's result, or its business refusal, into the
	// answer that is stored and replayed.
	Render func(result any, err error) (status int, body []byte)
}

// Replay is returned, as an error, when a stored answer stands in for the
// request: the caller sends Status and Body as they are.
type Replay struct {
	Status int
	Body   []byte
}

// Error implements error.
func (r *Replay) Error() string { return "replayed stored answer" }

// AsReplay returns the Replay in err's chain, or nil.
func AsReplay(err error) *Replay {
	var r *Replay
	if errors.As(err, &r) {
		return r
	}
	return nil
}

var errKeyTaken = errors.New("idempotency key taken meanwhile")

// storable reports whether a refusal is a business decision that a retry
// under the same key must see again (RELIABILITY I7); malformed requests
// are not stored, so the corrected request may reuse the key.
func storable(err error) bool {
	switch kopilka.ErrorCode(err) {
	case kopilka.CodeInsufficientPoints, kopilka.CodeRedeemLimitExceeded, kopilka.CodeNotEligible:
		return true
	}
	return false
}

// write runs fn in a write transaction. With idem it first replays a
// stored answer, stores fn's answer in the same transaction, and stores a
// business refusal after the fact.
func (s *Service) write(ctx context.Context, tenantID string, idem *Idem, fn func(tx storage.Tx) (any, error)) (any, error) {
	if idem != nil {
		if err := s.stored(ctx, tenantID, idem); err != nil {
			return nil, err
		}
	}
	var result any
	err := s.db.Write(ctx, func(tx storage.Tx) error {
		v, err := fn(tx)
		if err != nil {
			return err
		}
		if idem != nil {
			status, body := idem.Render(v, nil)
			err := tx.PutIdempotency(ctx, &storage.Idempotency{TenantID: tenantID, Scope: idem.Scope, Key: idem.Key,
				RequestHash: idem.Hash, Status: status, Body: body})
			if errors.Is(err, storage.ErrConflict) {
				return errKeyTaken
			}
			if err != nil {
				return err
			}
		}
		result = v
		return nil
	})
	switch {
	case err == nil:
		return result, nil
	case idem != nil && errors.Is(err, errKeyTaken):
		if err := s.stored(ctx, tenantID, idem); err != nil {
			return nil, err
		}
		return nil, unavailable(storage.ErrRetry)
	case idem != nil && storable(err):
		return nil, s.storeRefusal(ctx, tenantID, idem, err)
	case idem != nil && kopilka.ErrorCode(err) == kopilka.CodeConflict:
		// A concurrent twin under the same key may have committed first,
		// so that this attempt collided with the twin's own effect (the
		// phone it enrols): answer what the twin stored (RELIABILITY I1).
		if err := s.stored(ctx, tenantID, idem); err != nil {
			return nil, err
		}
	}
	return nil, unavailable(err)
}

// stored returns a *Replay or a conflict when the key has an answer, and
// nil when it has none (or only an expired one).
func (s *Service) stored(ctx context.Context, tenantID string, idem *Idem) error {
	var rec *storage.Idempotency
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		rec, err = tx.GetIdempotency(ctx, tenantID, idem.Scope, idem.Key)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	if !bytes.Equal(rec.RequestHash, idem.Hash) && (idem.LegacyHash == nil || !bytes.Equal(rec.RequestHash, idem.LegacyHash)) {
		return &kopilka.Error{Code: kopilka.CodeConflict, Field: "Idempotency-Key",
			Message: "this Idempotency-Key was already used with a different request; use a new key for a new request"}
	}
	return &Replay{Status: rec.Status, Body: rec.Body}
}

func (s *Service) storeRefusal(ctx context.Context, tenantID string, idem *Idem, refusal error) error {
	status, body := idem.Render(nil, refusal)
	err := s.db.Write(ctx, func(tx storage.Tx) error {
		return tx.PutIdempotency(ctx, &storage.Idempotency{TenantID: tenantID, Scope: idem.Scope, Key: idem.Key,
			RequestHash: idem.Hash, Status: status, Body: body})
	})
	if errors.Is(err, storage.ErrConflict) {
		if err := s.stored(ctx, tenantID, idem); err != nil {
			return err
		}
	}
	return refusal
}

// PurgeIdempotency forgets answers older than IdempotencyTTL.
func (s *Service) PurgeIdempotency(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.Write(ctx, func(tx storage.Tx) error {
		var err error
		n, err = tx.PurgeIdempotency(ctx, tx.Now().Add(-IdempotencyTTL))
		return err
	})
	return n, err
}

func errIs(err, target error) bool { return errors.Is(err, target) }

// Unavailable reports whether err means the database cannot serve right
// now (no connection to be had, a retry that did not settle): the client
// may send the same request again shortly, and gets 503 with Retry-After.
func Unavailable(err error) bool {
	return errors.Is(err, storage.ErrRetry) || errors.Is(err, storage.ErrUnavailable)
}
