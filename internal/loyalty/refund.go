package loyalty

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/kopilka/kopilka/internal/calc"
	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// RefundInput is a return of goods: lines and quantities, or nil lines for
// everything not yet refunded.
type RefundInput struct {
	ExternalID string
	Lines      []kopilka.RefundLine
}

// RefundPurchase returns goods of a complete purchase. Redeemed points come
// back in proportion and are spendable at once; accrued points are taken
// back — from the purchase's own lot while it is not yet active, otherwise
// from the balance, and what the balance cannot cover becomes a debt that
// the customer's next accruals repay first. Shares are path-independent
// (API-CORE "The arithmetic").
func (s *Service) RefundPurchase(ctx context.Context, tenantID, purchaseID string, in RefundInput, idem *Idem) (*kopilka.Refund, error) {
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	if in.ExternalID == "" || len(in.ExternalID) > 128 {
		return nil, kopilka.Invalid("external_id", "a refund needs an external_id of 1 to 128 characters")
	}
	if len(in.Lines) > 1000 {
		return nil, kopilka.Invalid("lines", "at most 1000 lines")
	}
	if in.Lines != nil && len(in.Lines) == 0 {
		return nil, kopilka.Invalid("lines", "lines is empty: name the lines and quantities to return, or leave lines out to refund everything left")
	}
	h := sha256.New()
	fmt.Fprintf(h, "refund\x00%s\x00%s\x00%t", purchaseID, in.ExternalID, in.Lines == nil)
	for _, l := range in.Lines {
		fmt.Fprintf(h, "\x00%d:%d", l.Line, l.Quantity)
	}
	hash := h.Sum(nil)
	v, err := s.purchaseStep(ctx, tenantID, purchaseID, idem, func(tx storage.Tx, prog *kopilka.Program, c *kopilka.Customer, p *kopilka.Purchase) (any, error) {
		if r, err := sameRefund(ctx, tx, tenantID, in.ExternalID, hash); r != nil || err != nil {
			return r, err
		}
		if p.Status != kopilka.PurchaseComplete {
			return nil, kopilka.Errorf(kopilka.CodeConflict, "purchase %s is %s: only a complete purchase is refunded (cancel a pending one)", p.ID, p.Status)
		}
		return refund(ctx, tx, prog, c, p, in, hash)
	})
	if errors.Is(err, storage.ErrConflict) {
		err = s.db.Read(ctx, func(tx storage.Tx) error {
			r, err := sameRefund(ctx, tx, tenantID, in.ExternalID, hash)
			if r == nil && err == nil {
				err = kopilka.Errorf(kopilka.CodeConflict, "refund %q conflicts with another", in.ExternalID)
			}
			v = r
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return v.(*kopilka.Refund), nil
}

func sameRefund(ctx context.Context, tx storage.Tx, tenantID, ext string, hash []byte) (*kopilka.Refund, error) {
	r, err := tx.RefundByExternalID(ctx, tenantID, ext)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(r.RequestHash, hash) {
		return nil, &kopilka.Error{Code: kopilka.CodeConflict, Field: "external_id",
			Message: fmt.Sprintf("external_id %q was already used for a different refund", ext)}
	}
	return r, nil
}

// refundQuantities turns the request into a quantity per purchase line.
func refundQuantities(p *kopilka.Purchase, lines []kopilka.RefundLine) ([]kopilka.Quantity, error) {
	qs := make([]kopilka.Quantity, len(p.Lines))
	if lines == nil {
		for i, l := range p.Lines {
			qs[i] = l.Quantity - l.Refunded
		}
		return qs, nil
	}
	for i, rl := range lines {
		f := fmt.Sprintf("lines[%d]", i)
		if rl.Line < 1 || rl.Line > len(p.Lines) {
			return nil, kopilka.Invalid(f+".line", "the purchase has lines 1 to %d", len(p.Lines))
		}
		if rl.Quantity <= 0 {
			return nil, kopilka.Invalid(f+".quantity", "must be above zero")
		}
		qs[rl.Line-1] += rl.Quantity
	}
	for i, q := range qs {
		l := p.Lines[i]
		if l.Refunded+q > l.Quantity {
			return nil, &kopilka.Error{Code: kopilka.CodeRefundExceeded, Field: fmt.Sprintf("lines[%d].quantity", i),
				Message: fmt.Sprintf("line %d: %s bought, %s refunded before, %s asked", i+1, l.Quantity, l.Refunded, q)}
		}
	}
	return qs, nil
}

func refund(ctx context.Context, tx storage.Tx, prog *kopilka.Program, c *kopilka.Customer, p *kopilka.Purchase, in RefundInput, hash []byte) (*kopilka.Refund, error) {
	qs, err := refundQuantities(p, in.Lines)
	if err != nil {
		return nil, err
	}
	r := &kopilka.Refund{ID: kopilka.NewID("ref"), TenantID: c.TenantID, PurchaseID: p.ID, ExternalID: in.ExternalID,
		Lines: []kopilka.RefundLine{}, RequestHash: hash}
	for i, q := range qs {
		if q == 0 {
			continue
		}
		l := &p.Lines[i]
		d := calc.Refund(calc.LineResult{Amount: l.Amount, Redeem: l.Redeem, ToPay: l.ToPay, Accrue: l.Accrue},
			int64(l.Quantity), int64(l.Refunded), int64(q), p.WholePoints)
		r.PointsReturned += d.Returned
		r.PointsRevoked += d.Revoked
		r.Amount += d.Amount
		r.Total += d.Total
		l.Refunded += q
		r.Lines = append(r.Lines, kopilka.RefundLine{Line: i + 1, Quantity: q})
	}
	if len(r.Lines) == 0 {
		return nil, &kopilka.Error{Code: kopilka.CodeRefundExceeded, Field: "lines", Message: "everything on this purchase was already refunded"}
	}
	if r.PointsReturned > 0 {
		op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: c.TenantID, CustomerID: c.ID, Type: kopilka.OpRefund,
			Status: kopilka.StatusComplete, Amount: r.PointsReturned, PurchaseID: p.ID, Message: "returned for refund " + in.ExternalID}
		if err := credit(ctx, tx, c, op, ledger.Redeemed, programTimes(prog, tx.Now(), false)); err != nil {
			return nil, err
		}
	}
	if r.PointsRevoked > 0 {
		debt, err := revoke(ctx, tx, c, p, r.PointsRevoked, in.ExternalID)
		if err != nil {
			return nil, err
		}
		r.Debt = debt
	}
	c.PurchasesTotal = max(0, c.PurchasesTotal-r.Total)
	if err := tx.SetCustomerBalances(ctx, c.TenantID, c.ID, c.Debt, c.PurchasesTotal); err != nil {
		return nil, err
	}
	if err := tx.UpdatePurchase(ctx, p); err != nil {
		return nil, err
	}
	if err := tx.CreateRefund(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// revoke takes back accrued points: first from the purchase's own lot
// while it is not yet active (no debt then), then from the customer's
// active lots, soonest expiry first, and the rest as debt. It returns the
// debt it added.
func revoke(ctx context.Context, tx storage.Tx, c *kopilka.Customer, p *kopilka.Purchase, amount kopilka.Amount, ext string) (kopilka.Amount, error) {
	op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: c.TenantID, CustomerID: c.ID, Type: kopilka.OpRefund,
		Status: kopilka.StatusComplete, Amount: -amount, PurchaseID: p.ID, Message: "revoked for refund " + ext}
	var ps []ledger.Posting
	left := amount
	if p.AccrueLotID != "" {
		lot, err := tx.GetLot(ctx, c.TenantID, p.AccrueLotID)
		if err != nil {
			return 0, err
		}
		if lot.State == kopilka.LotInactive && lot.Remaining > 0 {
			n := min(left, lot.Remaining)
			if err := tx.AddLotRemaining(ctx, c.TenantID, lot.ID, -n); err != nil {
				return 0, err
			}
			ps = append(ps, ledger.Move(ledger.Pending, ledger.Revoked, c.ID, n)...)
			left -= n
		}
	}
	var debt kopilka.Amount
	if left > 0 {
		lots, sum, err := spendable(ctx, tx, c)
		if err != nil {
			return 0, err
		}
		take := min(left, max(0, sum-c.Debt))
		if take > 0 {
			takes, _ := ledger.Spend(lots, take)
			for _, t := range takes {
				if err := tx.AddLotRemaining(ctx, c.TenantID, t.LotID, -t.Amount); err != nil {
					return 0, err
				}
			}
		}
		debt = left - take
		c.Debt += debt
		ps = append(ps, ledger.Move(ledger.Available, ledger.Revoked, c.ID, left)...)
		if debt > 0 {
			op.Message += fmt.Sprintf("; %s points were already spent and are owed from the next accruals", formatPoints(debt))
		}
	}
	return debt, tx.InsertOperation(ctx, op, mergePostings(ps))
}

// mergePostings sums postings per account so an operation lists each
// account once.
func mergePostings(ps []ledger.Posting) []ledger.Posting {
	var out []ledger.Posting
	for _, p := range ps {
		found := false
		for i := range out {
			if out[i].Account == p.Account && out[i].CustomerID == p.CustomerID {
				out[i].Amount += p.Amount
				found = true
				break
			}
		}
		if !found {
			out = append(out, p)
		}
	}
	return out
}
