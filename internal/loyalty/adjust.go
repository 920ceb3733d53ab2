package loyalty

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// AdjustInput is a manual correction of a customer's points.
type AdjustInput struct {
	Amount     kopilka.Amount // positive credits, negative debits
	Reason     string
	ExternalID string
}

// Adjust credits or debits a customer's points by hand. A debit never
// overdraws (insufficient_points). An external id makes it idempotent for
// ever: the same request again returns the first operation, another
// request under the same external id is a conflict.
func (s *Service) Adjust(ctx context.Context, tenantID, customerID string, in AdjustInput, idem *Idem) (*kopilka.Operation, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	switch {
	case in.Amount == 0:
		return nil, kopilka.Invalid("amount", "an adjustment needs a non-zero amount in hundredths of a point")
	case in.Amount > kopilka.MaxAmount || in.Amount < -kopilka.MaxAmount:
		return nil, kopilka.Invalid("amount", "at most %d hundredths", kopilka.MaxAmount)
	case utf8.RuneCountInString(in.Reason) > 500:
		return nil, kopilka.Invalid("reason", "at most 500 characters")
	case len(in.ExternalID) > 128:
		return nil, kopilka.Invalid("external_id", "at most 128 characters")
	}
	hash := sha256.Sum256(fmt.Appendf(nil, "adjustment\x00%s\x00%d\x00%s\x00%s", customerID, in.Amount, in.Reason, in.ExternalID))
	if in.Amount < 0 {
		ctx = storage.WithCustomerLots(ctx, tenantID, customerID)
	} else {
		ctx = storage.WithCustomer(ctx, tenantID, customerID)
	}
	v, err := s.write(ctx, tenantID, idem, func(tx storage.Tx) (any, error) {
		if in.ExternalID != "" {
			if op, err := sameExternal(ctx, tx, tenantID, kopilka.OpAdjustment, in.ExternalID, hash[:]); op != nil || err != nil {
				return op, err
			}
		}
		c, err := tx.LockCustomer(ctx, tenantID, customerID)
		if err != nil {
			return nil, notFound(err, kopilka.CodeNotFound, "customer")
		}
		p, err := s.program(ctx, tx, tenantID)
		if err != nil {
			return nil, err
		}
		op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: tenantID, CustomerID: c.ID, Type: kopilka.OpAdjustment,
			Status: kopilka.StatusComplete, Amount: in.Amount, ExternalID: in.ExternalID, Message: in.Reason, RequestHash: hash[:]}
		if in.Amount > 0 {
			err = credit(ctx, tx, c, op, ledger.Issued, programTimes(p, tx.Now(), false))
		} else {
			err = debit(ctx, tx, c, op, ledger.Revoked)
		}
		if err != nil {
			return nil, err
		}
		return op, nil
	})
	if errors.Is(err, storage.ErrConflict) && in.ExternalID != "" {
		// A concurrent request with the same external id won the race.
		err = s.db.Read(ctx, func(tx storage.Tx) error {
			op, err := sameExternal(ctx, tx, tenantID, kopilka.OpAdjustment, in.ExternalID, hash[:])
			v = op
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	op := v.(*kopilka.Operation)
	s.observed(op)
	return op, nil
}

// sameExternal returns the operation already made under an external id
// when the request is the same, a conflict when it differs, and nil, nil
// when there is none.
func sameExternal(ctx context.Context, tx storage.Tx, tenantID string, typ kopilka.OpType, ext string, hash []byte) (*kopilka.Operation, error) {
	op, err := tx.OperationByExternalID(ctx, tenantID, typ, ext)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(op.RequestHash, hash) {
		return nil, &kopilka.Error{Code: kopilka.CodeConflict, Field: "external_id",
			Message: fmt.Sprintf("external_id %q was already used for a different %s", ext, typ)}
	}
	return op, nil
}

// Balance returns a customer's points position and tier.
func (s *Service) Balance(ctx context.Context, tenantID, customerID string) (*kopilka.Balance, error) {
	var b *kopilka.Balance
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		b, err = s.balance(ctx, tx, tenantID, customerID)
		return err
	})
	return b, notFound(err, kopilka.CodeNotFound, "customer")
}

// balance reads a customer's balance in tx: available less any debt, and
// the tier its purchases total reaches.
func (s *Service) balance(ctx context.Context, tx storage.Tx, tenantID, customerID string) (*kopilka.Balance, error) {
	p, err := s.program(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	b, err := tx.Balance(ctx, tenantID, customerID, tx.Now())
	if err != nil {
		return nil, err
	}
	b.Available -= b.Debt
	b.Tier = p.TierFor(b.PurchasesTotal).Name
	return b, nil
}

// Operations pages a customer's operations newest first. The cursor is
// the id of the last operation of the previous page.
func (s *Service) Operations(ctx context.Context, tenantID, customerID, cursor string, limit int) (kopilka.Page[kopilka.Operation], error) {
	var page kopilka.Page[kopilka.Operation]
	if limit <= 0 {
		limit = 50
	}
	if limit > 200 {
		return page, kopilka.Invalid("limit", "at most 200 per page")
	}
	if cursor != "" && !kopilka.ValidID("op", cursor) {
		return page, kopilka.Invalid("cursor", "not a cursor this API gave out")
	}
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		c, err := tx.GetCustomer(ctx, tenantID, customerID, false)
		if err != nil {
			return err
		}
		ops, err := tx.ListOperations(ctx, tenantID, c.ID, cursor, limit+1)
		if err != nil {
			return err
		}
		if len(ops) > limit {
			ops = ops[:limit]
			page.Next = ops[limit-1].ID
		}
		page.Items = ops
		return nil
	})
	return page, notFound(err, kopilka.CodeNotFound, "customer")
}

// Program returns the tenant's programme.
func (s *Service) Program(ctx context.Context, tenantID string) (*kopilka.Program, error) {
	var p *kopilka.Program
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		p, err = tx.GetProgram(ctx, tenantID)
		return err
	})
	return p, err
}

// SetProgram validates and replaces the tenant's programme.
func (s *Service) SetProgram(ctx context.Context, tenantID string, p *kopilka.Program) error {
	if err := p.Validate(); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx storage.Tx) error { return tx.PutProgram(ctx, tenantID, p) })
	s.programs.forget(tenantID)
	return err
}
