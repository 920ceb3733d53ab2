package loyalty

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kopilka/kopilka/internal/calc"
	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// LineInput is one receipt line as a client sends it.
type LineInput struct {
	SKU, Name, Category string
	Quantity            kopilka.Quantity
	Price, Discount     kopilka.Amount
}

// PurchaseInput is a receipt to price or register.
type PurchaseInput struct {
	StoreID          string
	Customer         Ref
	Lines            []LineInput
	Redeem           kopilka.Amount // hundredths, or calc.RedeemMax for "max"
	ExternalID       string
	Confirm          bool
	VerificationCode string
}

// RedeemMax asks for the largest redemption the rules allow.
const RedeemMax = calc.RedeemMax

// defaultStore makes a receipt without store_id, sent with a key bound
// to a store (a till's), that store's.
func (in *PurchaseInput) defaultStore(ctx context.Context) {
	if in.StoreID == "" {
		in.StoreID = kopilka.ActorFrom(ctx).StoreID
	}
}

func (in *PurchaseInput) validate(register bool) error {
	if len(in.Lines) == 0 {
		return kopilka.Invalid("lines", "a receipt needs at least one line")
	}
	if len(in.Lines) > 1000 {
		return kopilka.Invalid("lines", "at most 1000 lines")
	}
	for i, l := range in.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		if utf8.RuneCountInString(l.SKU) > 200 || utf8.RuneCountInString(l.Name) > 500 || utf8.RuneCountInString(l.Category) > 200 {
			return kopilka.Invalid(f, "sku, name or category too long")
		}
		if l.Quantity <= 0 {
			return kopilka.Invalid(f+".quantity", "must be above zero")
		}
		if l.Price < 0 || l.Price > kopilka.MaxAmount {
			return kopilka.Invalid(f+".price", "must be from 0 to %d hundredths", kopilka.MaxAmount)
		}
		if l.Discount < 0 || l.Discount > kopilka.MaxAmount {
			return kopilka.Invalid(f+".discount", "must be from 0 to %d hundredths", kopilka.MaxAmount)
		}
	}
	if in.Redeem < 0 && in.Redeem != RedeemMax {
		return kopilka.Invalid("redeem", "must be a non-negative amount in hundredths or \"max\"")
	}
	if register {
		in.ExternalID = strings.TrimSpace(in.ExternalID)
		if in.ExternalID == "" || len(in.ExternalID) > 128 {
			return kopilka.Invalid("external_id", "a purchase needs an external_id of 1 to 128 characters (the receipt or order number)")
		}
	}
	return nil
}

// price computes the receipt for a customer with the programme and the
// running promotions and offers.
func price(p *kopilka.Program, rules []kopilka.Promotion, now time.Time, c *kopilka.Customer, available kopilka.Amount, in *PurchaseInput) (*kopilka.Purchase, error) {
	tier := p.TierFor(c.PurchasesTotal)
	lines := make([]calc.Line, len(in.Lines))
	out := &kopilka.Purchase{TenantID: c.TenantID, CustomerID: c.ID, StoreID: in.StoreID, ExternalID: in.ExternalID,
		Tier: tier.Name, MaxRedeemPercent: tier.MaxRedeemPercent, Available: available, WholePoints: p.RoundAccrualToWholePoints,
		Lines: make([]kopilka.PurchaseLine, len(in.Lines))}
	for i, l := range in.Lines {
		excluded := slices.Contains(p.ExcludedSKUs, l.SKU) || (l.Category != "" && slices.Contains(p.ExcludedCategories, l.Category))
		lines[i] = calc.Line{Quantity: int64(l.Quantity), Price: l.Price, Discount: l.Discount, Excluded: excluded}
		out.Lines[i] = kopilka.PurchaseLine{SKU: l.SKU, Name: l.Name, Category: l.Category, Quantity: l.Quantity,
			Price: l.Price, Discount: l.Discount, Excluded: excluded}
	}
	rc, err := calc.Compute(lines, calc.Rules{
		AccrualPercent:   int64(tier.AccrualPercent),
		MaxRedeemPercent: int64(tier.MaxRedeemPercent),
		MinLinePrice:     p.MinLinePrice,
		AccrueOnTotal:    p.AccrueOn == "total",
		WholePoints:      p.RoundAccrualToWholePoints,
		ExtraAccrual:     extraAccrual(rules, now, in.StoreID, c, out.Lines),
	}, available, in.Redeem)
	var le *calc.LimitError
	var line *calc.LineError
	switch {
	case errors.As(err, &le):
		return nil, &kopilka.Error{Code: kopilka.CodeRedeemLimitExceeded, Field: "redeem",
			Message: fmt.Sprintf("at most %s points may be redeemed on this receipt (up to %s%% of it)", formatPoints(le.Max), tier.MaxRedeemPercent)}
	case errors.As(err, &line):
		return nil, kopilka.Invalid(fmt.Sprintf("lines[%d].%s", line.Line-1, line.Field), "%s", line.Reason)
	case err != nil:
		return nil, kopilka.Invalid("lines", "the receipt's figures are out of range")
	}
	out.Total, out.Eligible, out.MaxRedeem = rc.Total, rc.Eligible, rc.MaxRedeem
	out.Redeem, out.ToPay, out.Accrue = rc.Redeem, rc.ToPay, rc.Accrue
	for i, lr := range rc.Lines {
		pl := &out.Lines[i]
		pl.Amount, pl.Redeem, pl.ToPay, pl.Accrue, pl.Bonus = lr.Amount, lr.Redeem, lr.ToPay, lr.Accrue, lr.Bonus
		if pl.Bonus == 0 {
			pl.Promotions = nil
		}
	}
	return out, nil
}

// Calculate prices a receipt without side effects.
func (s *Service) Calculate(ctx context.Context, tenantID string, in PurchaseInput) (*kopilka.Purchase, error) {
	in.defaultStore(ctx)
	if err := in.validate(false); err != nil {
		return nil, err
	}
	var out *kopilka.Purchase
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		c, err := s.customerFor(ctx, tx, tenantID, in.Customer, false)
		if err != nil {
			return err
		}
		if err := s.checkStore(ctx, tx, tenantID, in.StoreID); err != nil {
			return err
		}
		p, err := s.program(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		rules, err := s.rules(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		out, err = price(p, rules, tx.Now(), c, c.Spendable-c.Debt, &in)
		return err
	})
	return out, err
}

// customerFor resolves a customer reference; lock takes the row lock.
func (s *Service) customerFor(ctx context.Context, tx storage.Tx, tenantID string, ref Ref, lock bool) (*kopilka.Customer, error) {
	by, value, err := refKey(ref)
	if err != nil {
		return nil, err
	}
	c, err := tx.CustomerByRef(ctx, tenantID, by, value, lock)
	if err == nil {
		return c, nil
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, &kopilka.Error{Code: kopilka.CodeCustomerNotFound, Field: "customer", Message: "no customer with this id, card or phone", Err: err}
	}
	return nil, err
}

// refKey checks a reference names exactly one of id, card or phone and
// returns which and its value (phones normalised to E.164).
func refKey(ref Ref) (by, value string, err error) {
	n := 0
	for _, v := range []string{ref.ID, ref.Card, ref.Phone} {
		if v != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return "", "", kopilka.Invalid("customer", "identify the customer by exactly one of id, card or phone")
	case ref.ID != "":
		return "id", ref.ID, nil
	case ref.Card != "":
		return "card", ref.Card, nil
	}
	p, ok := kopilka.NormalizePhone(ref.Phone)
	if !ok {
		return "", "", kopilka.Invalid("customer.phone", "%q is not a phone number", ref.Phone)
	}
	return "phone", p, nil
}

// checkStore checks the store exists and that a store-bound key acts for
// its own store only.
func (s *Service) checkStore(ctx context.Context, tx storage.Tx, tenantID, storeID string) error {
	bound := kopilka.ActorFrom(ctx).StoreID
	if bound != "" && storeID != bound {
		return &kopilka.Error{Code: kopilka.CodeForbidden, Field: "store_id", Message: "this key is bound to another store"}
	}
	if storeID == "" {
		return nil
	}
	if _, err := tx.GetStore(ctx, tenantID, storeID); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return kopilka.Invalid("store_id", "no store %q", storeID)
		}
		return err
	}
	return nil
}

func purchaseHash(in *PurchaseInput) []byte {
	b, _ := json.Marshal(in)
	h := sha256.Sum256(b)
	return h[:]
}

// CreatePurchase registers a purchase: the redemption is reserved at once
// and the accrual waits, pending, for confirmation (or both complete at
// once with Confirm). The external id makes it idempotent: the same
// request returns the first purchase, another request is a conflict.
func (s *Service) CreatePurchase(ctx context.Context, tenantID string, in PurchaseInput, idem *Idem) (*kopilka.Purchase, error) {
	in.defaultStore(ctx)
	if err := in.validate(true); err != nil {
		return nil, err
	}
	hash := purchaseHash(&in)
	ref := "id:" + in.Customer.ID + "card:" + in.Customer.Card + "phone:" + in.Customer.Phone
	ctx = s.routed(ctx, tenantID, ref)
	if by, value, err := refKey(in.Customer); err == nil {
		ctx = storage.WithPurchaseRef(ctx, storage.PurchaseRef{TenantID: tenantID, By: by, Value: value, ExternalID: in.ExternalID})
	}
	v, err := s.write(ctx, tenantID, idem, func(tx storage.Tx) (any, error) {
		return s.createPurchase(ctx, tx, tenantID, &in, hash)
	})
	if errors.Is(err, storage.ErrConflict) {
		// A concurrent request with the same external id won the race.
		err = s.db.Read(ctx, func(tx storage.Tx) error {
			p, err := samePurchase(ctx, tx, tenantID, in.ExternalID, hash)
			if p == nil && err == nil {
				err = kopilka.Errorf(kopilka.CodeConflict, "purchase %q conflicts with another", in.ExternalID)
			}
			v = p
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	p := v.(*kopilka.Purchase)
	s.keys.put(tenantID+"/"+ref, p.CustomerID)
	s.keys.put(tenantID+"/"+p.ID, p.CustomerID)
	return p, nil
}

func samePurchase(ctx context.Context, tx storage.Tx, tenantID, ext string, hash []byte) (*kopilka.Purchase, error) {
	p, err := tx.PurchaseByExternalID(ctx, tenantID, ext)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p.RequestHash, hash) {
		return nil, &kopilka.Error{Code: kopilka.CodeConflict, Field: "external_id",
			Message: fmt.Sprintf("external_id %q was already used for a different purchase", ext)}
	}
	return p, nil
}

func (s *Service) createPurchase(ctx context.Context, tx storage.Tx, tenantID string, in *PurchaseInput, hash []byte) (*kopilka.Purchase, error) {
	by, value, err := refKey(in.Customer)
	if err != nil {
		return nil, err
	}
	// One statement locks the customer and tells whether the external id
	// is taken: a retry must get the first purchase even when the points
	// it reserved would now make the same request fail.
	c, existing, err := tx.PurchaseCustomer(ctx, tenantID, by, value, in.ExternalID)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			if p, err := samePurchase(ctx, tx, tenantID, in.ExternalID, hash); p != nil || err != nil {
				return p, err
			}
			return nil, &kopilka.Error{Code: kopilka.CodeCustomerNotFound, Field: "customer", Message: "no customer with this id, card or phone", Err: err}
		}
		return nil, err
	}
	if existing != "" {
		p, err := samePurchase(ctx, tx, tenantID, in.ExternalID, hash)
		if p == nil && err == nil {
			err = kopilka.Errorf(kopilka.CodeConflict, "external_id %q is taken", in.ExternalID)
		}
		return p, err
	}
	if err := s.checkStore(ctx, tx, tenantID, in.StoreID); err != nil {
		return nil, err
	}
	prog, err := s.program(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	rules, err := s.rules(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	p, err := price(prog, rules, tx.Now(), c, c.Spendable-c.Debt, in)
	if err != nil {
		return nil, err
	}
	p.ID, p.Status, p.RequestHash = kopilka.NewID("pur"), kopilka.PurchasePending, hash
	status := kopilka.StatusPending
	if in.Confirm {
		status = kopilka.StatusComplete
	}
	// Everything the purchase writes is gathered and applied at once: one
	// round trip on PostgreSQL.
	w := &storage.Writes{Purchase: p}
	receipt := in.ExternalID
	if p.Redeem > 0 {
		op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: tenantID, CustomerID: c.ID, Type: kopilka.OpRedemption,
			Status: status, Amount: -p.Redeem, PurchaseID: p.ID, Message: "redeemed for receipt " + receipt}
		lots, sum, err := spendable(ctx, tx, c)
		if err != nil {
			return nil, err
		}
		takes, err := planTake(c, lots, sum, p.Redeem)
		if err != nil {
			return nil, err
		}
		to := ledger.Held
		if in.Confirm {
			to = ledger.Redeemed
		}
		w.Ops = append(w.Ops, storage.OpWrite{Op: op, Postings: ledger.Move(ledger.Available, to, c.ID, p.Redeem)})
		for _, t := range takes {
			w.AddDelta(t.LotID, -t.Amount)
			if !in.Confirm {
				w.Holds = append(w.Holds, storage.Hold{OperationID: op.ID, LotID: t.LotID, CustomerID: c.ID, Amount: t.Amount, State: storage.HoldHeld})
			}
		}
		p.RedeemOpID = op.ID
	}
	debt := c.Debt
	if p.Accrue > 0 {
		op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: tenantID, CustomerID: c.ID, Type: kopilka.OpAccrual,
			Status: status, Amount: p.Accrue, PurchaseID: p.ID, Message: "points for receipt " + receipt}
		var lot *kopilka.Lot
		var ps []ledger.Posting
		if in.Confirm {
			// A retail sale: create and confirm at once, with no pending phase.
			lot, ps = planCredit(tx.Now(), c, op, ledger.Issued, programTimes(prog, tx.Now(), true))
			op.Message += repaidNote(debt - c.Debt)
		} else {
			lot = &kopilka.Lot{ID: kopilka.NewID("lot"), TenantID: tenantID, CustomerID: c.ID, OperationID: op.ID,
				Amount: p.Accrue, Remaining: p.Accrue, State: kopilka.LotPending, ActivatesAt: tx.Now()}
			ps = ledger.Move(ledger.Issued, ledger.Pending, c.ID, p.Accrue)
		}
		w.Ops = append(w.Ops, storage.OpWrite{Op: op, Postings: ps})
		w.Lots = append(w.Lots, lot)
		p.AccrueOpID, p.AccrueLotID = op.ID, lot.ID
	}
	if in.Confirm {
		p.Status = kopilka.PurchaseComplete
		c.PurchasesTotal += p.Total
	}
	if in.Confirm || c.Debt != debt {
		w.Customer = &storage.CustomerBalances{CustomerID: c.ID, Debt: c.Debt, PurchasesTotal: c.PurchasesTotal}
	}
	if err := tx.Apply(ctx, tenantID, w); err != nil {
		return nil, insufficient(err)
	}
	return p, nil
}

// confirm completes a pending purchase: the redemption is posted, the
// accrual posted (spendable after the activation delay) and the purchase
// sum counted for tiers.
func confirm(ctx context.Context, tx storage.Tx, prog *kopilka.Program, c *kopilka.Customer, p *kopilka.Purchase) error {
	if p.RedeemOpID != "" {
		op := &kopilka.Operation{ID: p.RedeemOpID, Amount: -p.Redeem}
		if err := postHold(ctx, tx, c, op); err != nil {
			return err
		}
	}
	if p.AccrueOpID != "" {
		lot, err := tx.GetLot(ctx, c.TenantID, p.AccrueLotID)
		if err != nil {
			return err
		}
		lt := programTimes(prog, tx.Now(), true)
		lot.ActivatesAt, lot.ExpiresAt = lt.activates, lt.expires
		var ps []ledger.Posting
		var note string
		lot.State = kopilka.LotInactive
		if !lt.activates.After(tx.Now()) {
			lot.State = kopilka.LotActive
			ps = ledger.Move(ledger.Pending, ledger.Available, c.ID, lot.Remaining)
			if repay := min(c.Debt, lot.Remaining); repay > 0 {
				lot.Remaining -= repay
				c.Debt -= repay
				note = repaidNote(repay)
			}
		}
		if err := tx.FinishOperation(ctx, c.TenantID, p.AccrueOpID, kopilka.StatusComplete, note, ps); err != nil {
			return err
		}
		if err := tx.UpdateLot(ctx, lot); err != nil {
			return err
		}
	}
	c.PurchasesTotal += p.Total
	if err := tx.SetCustomerBalances(ctx, c.TenantID, c.ID, c.Debt, c.PurchasesTotal); err != nil {
		return err
	}
	p.Status = kopilka.PurchaseComplete
	return tx.UpdatePurchase(ctx, p)
}

// GetPurchase loads a purchase by id or, when id is empty, by external id.
func (s *Service) GetPurchase(ctx context.Context, tenantID, id, externalID string) (*kopilka.Purchase, error) {
	var p *kopilka.Purchase
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		if id != "" {
			p, err = tx.GetPurchase(ctx, tenantID, id)
		} else {
			p, err = tx.PurchaseByExternalID(ctx, tenantID, externalID)
		}
		return err
	})
	return p, notFound(err, kopilka.CodeNotFound, "purchase")
}

// purchaseStep loads a purchase, locks its customer and runs step on it.
func (s *Service) purchaseStep(ctx context.Context, tenantID, id string, idem *Idem,
	step func(tx storage.Tx, prog *kopilka.Program, c *kopilka.Customer, p *kopilka.Purchase) (any, error)) (any, error) {
	ctx = s.routed(ctx, tenantID, id)
	return s.write(ctx, tenantID, idem, func(tx storage.Tx) (any, error) {
		p, err := tx.GetPurchase(ctx, tenantID, id)
		if err != nil {
			return nil, notFound(err, kopilka.CodeNotFound, "purchase")
		}
		c, err := tx.LockCustomer(ctx, tenantID, p.CustomerID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, kopilka.Errorf(kopilka.CodeConflict, "the customer of purchase %s was deleted", p.ID)
		}
		if err != nil {
			return nil, err
		}
		// Re-read under the lock: a concurrent step may have moved it on.
		if p, err = tx.GetPurchase(ctx, tenantID, id); err != nil {
			return nil, err
		}
		if bound := kopilka.ActorFrom(ctx).StoreID; bound != "" && p.StoreID != bound {
			return nil, &kopilka.Error{Code: kopilka.CodeForbidden, Message: "this key is bound to another store"}
		}
		prog, err := s.program(ctx, tx, tenantID)
		if err != nil {
			return nil, err
		}
		return step(tx, prog, c, p)
	})
}

// ConfirmPurchase completes a pending purchase; confirming a complete one
// again returns it unchanged; a cancelled one is a conflict.
func (s *Service) ConfirmPurchase(ctx context.Context, tenantID, id string, idem *Idem) (*kopilka.Purchase, error) {
	v, err := s.purchaseStep(ctx, tenantID, id, idem, func(tx storage.Tx, prog *kopilka.Program, c *kopilka.Customer, p *kopilka.Purchase) (any, error) {
		switch p.Status {
		case kopilka.PurchaseComplete:
			return p, nil
		case kopilka.PurchaseCancelled:
			return nil, kopilka.Errorf(kopilka.CodeConflict, "purchase %s was cancelled and cannot be confirmed", p.ID)
		}
		return p, confirm(ctx, tx, prog, c, p)
	})
	if err != nil {
		return nil, err
	}
	return v.(*kopilka.Purchase), nil
}

// CancelPurchase voids a pending purchase: the reserved points come back
// and the pending accrual is voided. Cancelling a complete purchase is a
// conflict (refund it instead); cancelling twice returns it unchanged.
func (s *Service) CancelPurchase(ctx context.Context, tenantID, id string, idem *Idem) (*kopilka.Purchase, error) {
	v, err := s.purchaseStep(ctx, tenantID, id, idem, func(tx storage.Tx, _ *kopilka.Program, c *kopilka.Customer, p *kopilka.Purchase) (any, error) {
		switch p.Status {
		case kopilka.PurchaseCancelled:
			return p, nil
		case kopilka.PurchaseComplete:
			return nil, kopilka.Errorf(kopilka.CodeConflict, "purchase %s is complete: refund it instead of cancelling", p.ID)
		}
		if p.RedeemOpID != "" {
			if err := voidHold(ctx, tx, c, &kopilka.Operation{ID: p.RedeemOpID, Amount: -p.Redeem}); err != nil {
				return nil, err
			}
		}
		if p.AccrueOpID != "" {
			lot, err := tx.GetLot(ctx, c.TenantID, p.AccrueLotID)
			if err != nil {
				return nil, err
			}
			ps := ledger.Move(ledger.Pending, ledger.Issued, c.ID, lot.Remaining)
			if err := tx.FinishOperation(ctx, c.TenantID, p.AccrueOpID, kopilka.StatusVoided, "", ps); err != nil {
				return nil, err
			}
			lot.State, lot.Remaining = kopilka.LotVoided, 0
			if err := tx.UpdateLot(ctx, lot); err != nil {
				return nil, err
			}
		}
		p.Status = kopilka.PurchaseCancelled
		return p, tx.UpdatePurchase(ctx, p)
	})
	if err != nil {
		return nil, err
	}
	return v.(*kopilka.Purchase), nil
}
