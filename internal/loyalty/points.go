package loyalty

import (
	"context"
	"fmt"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// The points movements every use case is made of. Each runs inside the
// caller's transaction with the customer row locked, so movements of one
// customer are serialised on both databases.

// lotTimes says when credited points become spendable and when they burn.
type lotTimes struct {
	activates time.Time
	expires   *time.Time
}

// programTimes applies the programme's activation delay and expiry to
// points credited at now; delay is false for manual credits.
func programTimes(p *kopilka.Program, now time.Time, delay bool) lotTimes {
	t := lotTimes{activates: now}
	if delay && p.ActivationDelayDays > 0 {
		t.activates = now.AddDate(0, 0, p.ActivationDelayDays)
	}
	if p.ExpiryDays > 0 {
		e := t.activates.AddDate(0, 0, p.ExpiryDays)
		t.expires = &e
	}
	return t
}

// credit writes op (complete) crediting amount from the system account
// from, as a new lot. Points spendable at once repay an open debt first.
func credit(ctx context.Context, tx storage.Tx, c *kopilka.Customer, op *kopilka.Operation, from ledger.Account, lt lotTimes) error {
	_, err := creditLot(ctx, tx, c, op, from, lt)
	return err
}

// creditLot is credit returning the lot it made.
func creditLot(ctx context.Context, tx storage.Tx, c *kopilka.Customer, op *kopilka.Operation, from ledger.Account, lt lotTimes) (*kopilka.Lot, error) {
	debt := c.Debt
	lot, ps := planCredit(tx.Now(), c, op, from, lt)
	op.Message += repaidNote(debt - c.Debt)
	w := &storage.Writes{Ops: []storage.OpWrite{{Op: op, Postings: ps}}, Lots: []*kopilka.Lot{lot}}
	if c.Debt != debt {
		w.Customer = &storage.CustomerBalances{CustomerID: c.ID, Debt: c.Debt, PurchasesTotal: c.PurchasesTotal}
	}
	return lot, tx.Apply(ctx, c.TenantID, w)
}

// planCredit makes the lot and postings of a credit without writing them.
// Points spendable at once repay an open debt first (c.Debt goes down).
func planCredit(now time.Time, c *kopilka.Customer, op *kopilka.Operation, from ledger.Account, lt lotTimes) (*kopilka.Lot, []ledger.Posting) {
	active := !lt.activates.After(now)
	to, state := ledger.Pending, kopilka.LotInactive
	if active {
		to, state = ledger.Available, kopilka.LotActive
	}
	lot := &kopilka.Lot{ID: kopilka.NewID("lot"), TenantID: c.TenantID, CustomerID: c.ID, OperationID: op.ID,
		Amount: op.Amount, Remaining: op.Amount, State: state, ActivatesAt: lt.activates, ExpiresAt: lt.expires}
	if active {
		repay := min(c.Debt, lot.Remaining)
		lot.Remaining -= repay
		c.Debt -= repay
	}
	return lot, ledger.Move(from, to, c.ID, op.Amount)
}

// spendable returns the customer's active, unexpired lots.
func spendable(ctx context.Context, tx storage.Tx, c *kopilka.Customer) ([]ledger.SpendableLot, int64, error) {
	lots, err := tx.CustomerLots(ctx, c.TenantID, c.ID, kopilka.LotActive)
	if err != nil {
		return nil, 0, err
	}
	now := tx.Now()
	out := make([]ledger.SpendableLot, 0, len(lots))
	var sum int64
	for i, l := range lots {
		if l.ExpiresAt != nil && !l.ExpiresAt.After(now) {
			continue // burns at the next expiry run; never spendable
		}
		out = append(out, ledger.SpendableLot{ID: l.ID, Remaining: l.Remaining, ExpiresAt: l.ExpiresAt, Seq: int64(i)})
		sum += l.Remaining
	}
	return out, sum, nil
}

// planTake chooses the lots a redemption takes from without writing:
// insufficient_points when the available balance (lots less debt) is short
// or not above zero.
func planTake(c *kopilka.Customer, lots []ledger.SpendableLot, sum, amount int64) ([]ledger.Take, error) {
	available := sum - c.Debt
	if available <= 0 || available < amount {
		return nil, &kopilka.Error{Code: kopilka.CodeInsufficientPoints,
			Message: "the customer has " + formatPoints(max(available, 0)) + " points available, " + formatPoints(amount) + " asked"}
	}
	takes, ok := ledger.Spend(lots, amount)
	if !ok {
		return nil, kopilka.Errorf(kopilka.CodeInsufficientPoints, "not enough points")
	}
	return takes, nil
}

// insufficient turns the database's no-overdraft refusal into the
// client's insufficient_points.
func insufficient(err error) error {
	if errIs(err, storage.ErrInsufficient) {
		return &kopilka.Error{Code: kopilka.CodeInsufficientPoints, Message: "not enough points", Err: err}
	}
	return err
}

// debit writes op (complete, amount negative) taking points straight to
// the system account to.
func debit(ctx context.Context, tx storage.Tx, c *kopilka.Customer, op *kopilka.Operation, to ledger.Account) error {
	return take(ctx, tx, c, op, ledger.Move(ledger.Available, to, c.ID, -op.Amount), false)
}

// hold writes op (pending, amount negative) reserving points: they leave
// the available balance at once and wait in held until post or void.
func hold(ctx context.Context, tx storage.Tx, c *kopilka.Customer, op *kopilka.Operation) error {
	return take(ctx, tx, c, op, ledger.Move(ledger.Available, ledger.Held, c.ID, -op.Amount), true)
}

// take writes op taking its points from the customer's lots, soonest
// expiry first, with postings ps; held records what it took from which lot.
func take(ctx context.Context, tx storage.Tx, c *kopilka.Customer, op *kopilka.Operation, ps []ledger.Posting, held bool) error {
	lots, sum, err := spendable(ctx, tx, c)
	if err != nil {
		return err
	}
	takes, err := planTake(c, lots, sum, -op.Amount)
	if err != nil {
		return err
	}
	w := &storage.Writes{Ops: []storage.OpWrite{{Op: op, Postings: ps}}}
	for _, t := range takes {
		w.AddDelta(t.LotID, -t.Amount)
		if held {
			w.Holds = append(w.Holds, storage.Hold{OperationID: op.ID, LotID: t.LotID, CustomerID: c.ID, Amount: t.Amount, State: storage.HoldHeld})
		}
	}
	return insufficient(tx.Apply(ctx, c.TenantID, w))
}

// postHold completes a pending redemption: the held points are redeemed.
func postHold(ctx context.Context, tx storage.Tx, c *kopilka.Customer, op *kopilka.Operation) error {
	if err := tx.FinishOperation(ctx, c.TenantID, op.ID, kopilka.StatusComplete, "", ledger.Move(ledger.Held, ledger.Redeemed, c.ID, -op.Amount)); err != nil {
		return err
	}
	op.Status = kopilka.StatusComplete
	return tx.SetHoldsState(ctx, c.TenantID, op.ID, storage.HoldHeld, storage.HoldPosted)
}

// voidHold cancels a pending redemption: the points go back to their lots
// (and expire at the next run if their lots' time has passed meanwhile).
func voidHold(ctx context.Context, tx storage.Tx, c *kopilka.Customer, op *kopilka.Operation) error {
	holds, err := tx.OperationHolds(ctx, c.TenantID, op.ID)
	if err != nil {
		return err
	}
	for _, h := range holds {
		if h.State != storage.HoldHeld {
			continue
		}
		if err := tx.AddLotRemaining(ctx, c.TenantID, h.LotID, h.Amount); err != nil {
			return err
		}
	}
	if err := tx.FinishOperation(ctx, c.TenantID, op.ID, kopilka.StatusVoided, "", ledger.Move(ledger.Held, ledger.Available, c.ID, -op.Amount)); err != nil {
		return err
	}
	op.Status = kopilka.StatusVoided
	return tx.SetHoldsState(ctx, c.TenantID, op.ID, storage.HoldHeld, storage.HoldVoided)
}

// repaidNote is what an operation's history line adds when its points
// repaid a debt first.
func repaidNote(repaid int64) string {
	if repaid <= 0 {
		return ""
	}
	return fmt.Sprintf("; %s of them repaid the debt", formatPoints(repaid))
}

func formatPoints(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}
