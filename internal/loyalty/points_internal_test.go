package loyalty

// Internal tests of the points movements that no public use case reaches
// yet: delayed accruals (activation), refund debt, and the two-phase
// reservation (hold, post, void).

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

var it0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

const iday = 24 * time.Hour

type iclock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *iclock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *iclock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// ienv is one internal test's world.
type ienv struct {
	ctx    context.Context
	clock  *iclock
	db     *sqldb.DB
	svc    *Service
	tenant string
}

func newIEnv(t *testing.T, dialect string, program func(p *kopilka.Program)) *ienv {
	t.Helper()
	clock := &iclock{now: it0}
	db := storagetest.Open(t, dialect, sqldb.Options{Clock: clock.Now})
	e := &ienv{ctx: context.Background(), clock: clock, db: db, svc: New(db, clock.Now, nil)}
	ten, _, err := e.svc.CreateTenant(e.ctx, "internal")
	if err != nil {
		t.Fatalf("CreateTenant() = %v", err)
	}
	e.tenant = ten.ID
	p := kopilka.DefaultProgram()
	program(&p)
	if err := e.svc.SetProgram(e.ctx, e.tenant, &p); err != nil {
		t.Fatalf("SetProgram() = %v", err)
	}
	return e
}

func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// verify fails the test unless the ledger is consistent.
func (e *ienv) verify(t *testing.T, when string) {
	t.Helper()
	ds, _, err := e.svc.Verify(e.ctx)
	if err != nil {
		t.Fatalf("Verify() %s = %v", when, err)
	}
	for _, d := range ds {
		t.Errorf("Verify() %s found %s", when, d)
	}
}

func (e *ienv) customer(t *testing.T) string {
	t.Helper()
	c, err := e.svc.CreateCustomer(e.ctx, e.tenant, CustomerInput{}, nil)
	if err != nil {
		t.Fatalf("CreateCustomer() = %v", err)
	}
	return c.ID
}

// locked runs fn in a write transaction holding the customer's row lock.
func (e *ienv) locked(customerID string, fn func(tx storage.Tx, c *kopilka.Customer) error) error {
	return e.db.Write(e.ctx, func(tx storage.Tx) error {
		c, err := tx.GetCustomer(e.ctx, e.tenant, customerID, true)
		if err != nil {
			return err
		}
		return fn(tx, c)
	})
}

// accrue credits a confirmed accrual the way a purchase will: with the
// programme's activation delay.
func (e *ienv) accrue(t *testing.T, customerID string, amount kopilka.Amount) *kopilka.Operation {
	t.Helper()
	op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: e.tenant, CustomerID: customerID, Type: kopilka.OpAccrual,
		Status: kopilka.StatusComplete, Amount: amount}
	err := e.locked(customerID, func(tx storage.Tx, c *kopilka.Customer) error {
		p, err := tx.GetProgram(e.ctx, e.tenant)
		if err != nil {
			return err
		}
		return credit(e.ctx, tx, c, op, ledger.Issued, programTimes(p, tx.Now(), true))
	})
	if err != nil {
		t.Fatalf("accrue(%d) = %v", amount, err)
	}
	return op
}

// revoke records a refund that revokes points already spent: the
// available balance goes negative and the customer owes a debt.
func (e *ienv) revoke(t *testing.T, customerID string, amount kopilka.Amount) {
	t.Helper()
	err := e.locked(customerID, func(tx storage.Tx, c *kopilka.Customer) error {
		op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: e.tenant, CustomerID: c.ID, Type: kopilka.OpRefund,
			Status: kopilka.StatusComplete, Amount: -amount}
		if err := tx.InsertOperation(e.ctx, op, ledger.Move(ledger.Available, ledger.Revoked, c.ID, amount)); err != nil {
			return err
		}
		return tx.SetCustomerBalances(e.ctx, e.tenant, c.ID, c.Debt+amount, c.PurchasesTotal)
	})
	if err != nil {
		t.Fatalf("revoke(%d) = %v", amount, err)
	}
}

func (e *ienv) hold(customerID string, amount kopilka.Amount) (*kopilka.Operation, error) {
	op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: e.tenant, CustomerID: customerID, Type: kopilka.OpRedemption,
		Status: kopilka.StatusPending, Amount: -amount}
	err := e.locked(customerID, func(tx storage.Tx, c *kopilka.Customer) error { return hold(e.ctx, tx, c, op) })
	return op, err
}

func (e *ienv) mustHold(t *testing.T, customerID string, amount kopilka.Amount) *kopilka.Operation {
	t.Helper()
	op, err := e.hold(customerID, amount)
	if err != nil {
		t.Fatalf("hold(%d) = %v", amount, err)
	}
	return op
}

func (e *ienv) finish(customerID string, op *kopilka.Operation, fn func(context.Context, storage.Tx, *kopilka.Customer, *kopilka.Operation) error) error {
	return e.locked(customerID, func(tx storage.Tx, c *kopilka.Customer) error { return fn(e.ctx, tx, c, op) })
}

func (e *ienv) balance(t *testing.T, customerID string) kopilka.Balance {
	t.Helper()
	b, err := e.svc.Balance(e.ctx, e.tenant, customerID)
	if err != nil {
		t.Fatalf("Balance() = %v", err)
	}
	return *b
}

func (e *ienv) adjust(t *testing.T, customerID string, amount kopilka.Amount) {
	t.Helper()
	if _, err := e.svc.Adjust(e.ctx, e.tenant, customerID, AdjustInput{Amount: amount}, nil); err != nil {
		t.Fatalf("Adjust(%d) = %v", amount, err)
	}
}

func (e *ienv) runDue(t *testing.T, batch int) DueResult {
	t.Helper()
	res, err := e.svc.RunDue(e.ctx, batch)
	if err != nil {
		t.Fatalf("RunDue() = %v", err)
	}
	return res
}

func (e *ienv) system(t *testing.T) map[ledger.Account]int64 {
	t.Helper()
	var out map[ledger.Account]int64
	err := e.db.Read(e.ctx, func(tx storage.Tx) error {
		var err error
		out, err = tx.SystemBalances(e.ctx, e.tenant)
		return err
	})
	if err != nil {
		t.Fatalf("SystemBalances() = %v", err)
	}
	return out
}

func (e *ienv) debt(t *testing.T, customerID string) kopilka.Amount {
	t.Helper()
	c, _, err := e.svc.GetCustomer(e.ctx, e.tenant, customerID)
	if err != nil {
		t.Fatalf("GetCustomer() = %v", err)
	}
	return c.Debt
}

// pos is a short balance for comparisons: available, pending, reserved.
type pos struct{ Available, Pending, Reserved kopilka.Amount }

func (e *ienv) pos(t *testing.T, customerID string) pos {
	t.Helper()
	b := e.balance(t, customerID)
	return pos{b.Available, b.Pending, b.Reserved}
}

func TestRunDueActivation(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		e := newIEnv(t, dialect, func(p *kopilka.Program) { p.ActivationDelayDays, p.ExpiryDays = 3, 10 })
		c := e.customer(t)
		e.accrue(t, c, 1000)
		want := kopilka.Balance{Pending: 1000, Expiring: []kopilka.Expiring{}, Tier: "Base"}
		if diff := cmp.Diff(want, e.balance(t, c)); diff != "" {
			t.Errorf("Balance() before activation mismatch (-want +got):\n%s", diff)
		}
		_, err := e.svc.Adjust(e.ctx, e.tenant, c, AdjustInput{Amount: -1}, nil)
		if kopilka.ErrorCode(err) != kopilka.CodeInsufficientPoints {
			t.Errorf("Adjust(-1) of pending points = %v, want insufficient_points", err)
		}
		e.verify(t, "with a pending lot")

		e.clock.Advance(3*iday - time.Microsecond)
		if got := e.runDue(t, 0); got != (DueResult{}) {
			t.Errorf("RunDue() before the activation time = %+v, want nothing done", got)
		}
		e.clock.Advance(time.Microsecond)
		if got, want := e.runDue(t, 0), (DueResult{Customers: 1, Activated: 1}); got != want {
			t.Errorf("RunDue() at the activation time = %+v, want %+v", got, want)
		}
		want = kopilka.Balance{Available: 1000, Tier: "Base",
			Expiring: []kopilka.Expiring{{Amount: 1000, ExpiresAt: it0.AddDate(0, 0, 13)}}}
		if diff := cmp.Diff(want, e.balance(t, c)); diff != "" {
			t.Errorf("Balance() after activation mismatch (-want +got):\n%s", diff)
		}
		if got := e.runDue(t, 0); got != (DueResult{}) {
			t.Errorf("RunDue() again = %+v, want nothing done", got)
		}
		page, err := e.svc.Operations(e.ctx, e.tenant, c, "", 10)
		if err != nil || len(page.Items) != 1 || page.Items[0].Type != kopilka.OpAccrual || page.Items[0].Status != kopilka.StatusComplete {
			t.Errorf("Operations() = %+v, %v, want only the accrual (activation is not a new operation)", page.Items, err)
		}
		e.verify(t, "after activation")

		e.clock.Advance(10 * iday)
		if got, want := e.runDue(t, 0), (DueResult{Customers: 1, Expired: 1000}); got != want {
			t.Errorf("RunDue() at expiry = %+v, want %+v", got, want)
		}
		e.verify(t, "after expiry")
	})
}

// TestRunDueActivationAndExpiryTogether: a run that comes late both
// activates a lot and burns it.
func TestRunDueActivationAndExpiryTogether(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		e := newIEnv(t, dialect, func(p *kopilka.Program) { p.ActivationDelayDays, p.ExpiryDays = 1, 1 })
		c := e.customer(t)
		e.accrue(t, c, 500)
		e.clock.Advance(5 * iday)
		if got, want := e.runDue(t, 0), (DueResult{Customers: 1, Activated: 1, Expired: 500}); got != want {
			t.Errorf("RunDue() = %+v, want %+v", got, want)
		}
		if got := e.pos(t, c); got != (pos{}) {
			t.Errorf("balance = %+v, want nothing", got)
		}
		e.verify(t, "after a late run")
	})
}

func TestRunDueRepaysDebt(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		e := newIEnv(t, dialect, func(p *kopilka.Program) { p.ActivationDelayDays = 3 })
		small, large := e.customer(t), e.customer(t)

		// small owes 300 and has 1000 on the way: activation repays it all.
		e.accrue(t, small, 1000)
		e.revoke(t, small, 300)
		if got, want := e.pos(t, small), (pos{Available: -300, Pending: 1000}); got != want {
			t.Errorf("balance with a debt = %+v, want %+v", got, want)
		}
		_, err := e.svc.Adjust(e.ctx, e.tenant, small, AdjustInput{Amount: -1}, nil)
		if kopilka.ErrorCode(err) != kopilka.CodeInsufficientPoints {
			t.Errorf("Adjust(-1) with a debt = %v, want insufficient_points", err)
		}
		// large owes 1500 and has 1000 on the way: activation repays 1000.
		e.accrue(t, large, 1000)
		e.revoke(t, large, 1500)
		e.verify(t, "with open debts")

		e.clock.Advance(3 * iday)
		if got, want := e.runDue(t, 0), (DueResult{Customers: 2, Activated: 2}); got != want {
			t.Errorf("RunDue() = %+v, want %+v", got, want)
		}
		if got, want := e.pos(t, small), (pos{Available: 700}); got != want {
			t.Errorf("balance after repayment = %+v, want %+v", got, want)
		}
		if d := e.debt(t, small); d != 0 {
			t.Errorf("debt after repayment = %d, want 0", d)
		}
		if got, want := e.pos(t, large), (pos{Available: -500}); got != want {
			t.Errorf("balance after partial repayment = %+v, want %+v", got, want)
		}
		if d := e.debt(t, large); d != 500 {
			t.Errorf("debt after partial repayment = %d, want 500", d)
		}
		e.verify(t, "after activation repaid debts")

		// A credit spendable at once repays the rest first.
		e.adjust(t, large, 800)
		if got, want := e.pos(t, large), (pos{Available: 300}); got != want {
			t.Errorf("balance after a credit = %+v, want %+v", got, want)
		}
		if d := e.debt(t, large); d != 0 {
			t.Errorf("debt after a credit = %d, want 0", d)
		}
		e.verify(t, "after a credit repaid the debt")
		if got := e.runDue(t, 0); got != (DueResult{}) {
			t.Errorf("RunDue() again = %+v, want nothing done", got)
		}
	})
}

// TestRunDueSkipsSpentPendingLot: a refund before activation may take a
// pending lot to zero (API-CORE "Edge semantics"); such a lot has nothing
// to activate and must not stop the run from reaching other customers.
func TestRunDueSkipsSpentPendingLot(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		e := newIEnv(t, dialect, func(p *kopilka.Program) { p.ActivationDelayDays = 1 })
		refunded, waiting := e.customer(t), e.customer(t)
		op := e.accrue(t, refunded, 400)
		err := e.locked(refunded, func(tx storage.Tx, c *kopilka.Customer) error {
			lots, err := tx.CustomerLots(e.ctx, e.tenant, c.ID, kopilka.LotInactive)
			if err != nil {
				return err
			}
			if len(lots) != 1 || lots[0].OperationID != op.ID {
				return fmt.Errorf("CustomerLots() = %+v, want the inactive lot of %s", lots, op.ID)
			}
			ref := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: e.tenant, CustomerID: c.ID, Type: kopilka.OpRefund,
				Status: kopilka.StatusComplete, Amount: -400}
			if err := tx.InsertOperation(e.ctx, ref, ledger.Move(ledger.Pending, ledger.Revoked, c.ID, 400)); err != nil {
				return err
			}
			return tx.AddLotRemaining(e.ctx, e.tenant, lots[0].ID, -400)
		})
		if err != nil {
			t.Fatalf("refund before activation = %v", err)
		}
		e.verify(t, "after a refund before activation")
		e.clock.Advance(iday)
		e.accrue(t, waiting, 100)
		e.clock.Advance(iday)
		if got, want := e.runDue(t, 0), (DueResult{Customers: 1, Activated: 1}); got != want {
			t.Errorf("RunDue() = %+v, want %+v", got, want)
		}
		if got, want := e.pos(t, waiting), (pos{Available: 100}); got != want {
			t.Errorf("balance of the waiting customer = %+v, want %+v", got, want)
		}
		// Nothing may stay due after a run: a customer listed as due with
		// nothing to do ends every run that meets it first (RunDue stops
		// at a batch without progress), starving everyone behind it.
		var due []storage.TenantCustomer
		err = e.db.Read(e.ctx, func(tx storage.Tx) error {
			var err error
			due, err = tx.DueCustomers(e.ctx, tx.Now(), 10)
			return err
		})
		if err != nil || len(due) != 0 {
			t.Errorf("DueCustomers() after RunDue = %+v, %v, want none", due, err)
		}
		e.verify(t, "after the runs")
	})
}

func TestHoldPostVoid(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		e := newIEnv(t, dialect, func(p *kopilka.Program) { p.ExpiryDays = 30 })
		c := e.customer(t)
		e.adjust(t, c, 600) // expires at it0+30d
		e.clock.Advance(iday)
		e.adjust(t, c, 400) // expires at it0+31d

		// A reservation takes points at once, soonest expiry first.
		r1 := e.mustHold(t, c, 700)
		if got, want := e.pos(t, c), (pos{Available: 300, Reserved: 700}); got != want {
			t.Errorf("balance after hold(700) = %+v, want %+v", got, want)
		}
		var holds []storage.Hold
		err := e.db.Read(e.ctx, func(tx storage.Tx) error {
			var err error
			holds, err = tx.OperationHolds(e.ctx, e.tenant, r1.ID)
			return err
		})
		if err != nil {
			t.Fatalf("OperationHolds() = %v", err)
		}
		amounts := map[kopilka.Amount]int{}
		for _, h := range holds {
			amounts[h.Amount]++
			if h.State != storage.HoldHeld || h.CustomerID != c {
				t.Errorf("hold %+v, want held for %s", h, c)
			}
		}
		if diff := cmp.Diff(map[kopilka.Amount]int{600: 1, 100: 1}, amounts); diff != "" {
			t.Errorf("hold amounts mismatch (-want +got):\n%s", diff)
		}
		e.verify(t, "after hold")

		// What is reserved is not available to another reservation.
		if _, err := e.hold(c, 301); kopilka.ErrorCode(err) != kopilka.CodeInsufficientPoints {
			t.Errorf("hold(301) with 300 available = %v, want insufficient_points", err)
		}
		if got, want := e.pos(t, c), (pos{Available: 300, Reserved: 700}); got != want {
			t.Errorf("balance after a refused hold = %+v, want %+v", got, want)
		}

		// Post redeems.
		if err := e.finish(c, r1, postHold); err != nil {
			t.Fatalf("postHold() = %v", err)
		}
		if got, want := e.pos(t, c), (pos{Available: 300}); got != want {
			t.Errorf("balance after post = %+v, want %+v", got, want)
		}
		if got := e.system(t)[ledger.Redeemed]; got != 700 {
			t.Errorf("redeemed = %d, want 700", got)
		}
		e.verify(t, "after post")

		// Void returns the points.
		r2 := e.mustHold(t, c, 250)
		if got, want := e.pos(t, c), (pos{Available: 50, Reserved: 250}); got != want {
			t.Errorf("balance after hold(250) = %+v, want %+v", got, want)
		}
		if err := e.finish(c, r2, voidHold); err != nil {
			t.Fatalf("voidHold() = %v", err)
		}
		if got, want := e.pos(t, c), (pos{Available: 300}); got != want {
			t.Errorf("balance after void = %+v, want %+v", got, want)
		}
		e.verify(t, "after void")

		// A finished reservation cannot be finished again, either way.
		for _, tt := range []struct {
			name string
			op   *kopilka.Operation
			fn   func(context.Context, storage.Tx, *kopilka.Customer, *kopilka.Operation) error
		}{
			{"PostPosted", r1, postHold}, {"VoidPosted", r1, voidHold},
			{"PostVoided", r2, postHold}, {"VoidVoided", r2, voidHold},
		} {
			op := *tt.op
			op.Status = kopilka.StatusPending
			if err := e.finish(c, &op, tt.fn); !errIs(err, storage.ErrConflict) {
				t.Errorf("%s: = %v, want storage.ErrConflict", tt.name, err)
			}
		}
		if got, want := e.pos(t, c), (pos{Available: 300}); got != want {
			t.Errorf("balance after refused finishes = %+v, want %+v", got, want)
		}
		page, err := e.svc.Operations(e.ctx, e.tenant, c, "", 10)
		if err != nil {
			t.Fatalf("Operations() = %v", err)
		}
		status := map[string]kopilka.OpStatus{}
		for _, op := range page.Items {
			status[op.ID] = op.Status
		}
		if status[r1.ID] != kopilka.StatusComplete || status[r2.ID] != kopilka.StatusVoided {
			t.Errorf("statuses = %v, want %s complete and %s voided", status, r1.ID, r2.ID)
		}
		e.verify(t, "after refused finishes")
	})
}

// TestVoidAfterExpiry: reserved points cannot expire while reserved; voided
// after their lot's expiry time, they expire at the next run (API-CORE
// "Edge semantics").
func TestVoidAfterExpiry(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		e := newIEnv(t, dialect, func(p *kopilka.Program) { p.ExpiryDays = 10 })
		voided, posted := e.customer(t), e.customer(t)
		e.adjust(t, voided, 1000)
		e.adjust(t, posted, 1000)
		e.clock.Advance(iday)
		rv := e.mustHold(t, voided, 400)
		rp := e.mustHold(t, posted, 400)

		e.clock.Advance(9 * iday)
		if got, want := e.runDue(t, 0), (DueResult{Customers: 2, Expired: 1200}); got != want {
			t.Errorf("RunDue() at expiry = %+v, want %+v (reserved points do not expire)", got, want)
		}
		if got, want := e.pos(t, voided), (pos{Reserved: 400}); got != want {
			t.Errorf("balance after expiry = %+v, want %+v", got, want)
		}
		e.verify(t, "after expiry with reservations")

		if err := e.finish(voided, rv, voidHold); err != nil {
			t.Fatalf("voidHold() = %v", err)
		}
		if err := e.finish(posted, rp, postHold); err != nil {
			t.Fatalf("postHold() = %v", err)
		}
		// The returned points are past their expiry: not available.
		if got, want := e.pos(t, voided), (pos{}); got != want {
			t.Errorf("balance after a late void = %+v, want %+v", got, want)
		}
		if _, err := e.svc.Adjust(e.ctx, e.tenant, voided, AdjustInput{Amount: -1}, nil); kopilka.ErrorCode(err) != kopilka.CodeInsufficientPoints {
			t.Errorf("Adjust(-1) of points returned after expiry = %v, want insufficient_points", err)
		}
		e.verify(t, "after a late void and post")

		if got, want := e.runDue(t, 0), (DueResult{Customers: 1, Expired: 400}); got != want {
			t.Errorf("RunDue() after the late void = %+v, want %+v", got, want)
		}
		if got := e.runDue(t, 0); got != (DueResult{}) {
			t.Errorf("RunDue() again = %+v, want nothing done", got)
		}
		want := map[ledger.Account]int64{ledger.Issued: -2000, ledger.Expired: 1600, ledger.Redeemed: 400}
		if diff := cmp.Diff(want, e.system(t)); diff != "" {
			t.Errorf("system accounts mismatch (-want +got):\n%s", diff)
		}
		if got := e.pos(t, posted); got != (pos{}) {
			t.Errorf("balance of the posted customer = %+v, want nothing", got)
		}
		e.verify(t, "after the last run")
	})
}
