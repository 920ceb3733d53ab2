package loyalty_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

const day = 24 * time.Hour

func (e *env) runDue(t *testing.T, batch int) loyalty.DueResult {
	t.Helper()
	res, err := e.svc.RunDue(e.ctx, batch)
	if err != nil {
		t.Fatalf("RunDue(%d) = %v", batch, err)
	}
	return res
}

func TestRunDueExpiry(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.setProgram(t, func(p *kopilka.Program) { p.ExpiryDays = 10 })
		c := e.customer(t, kopilka.Customer{})
		others := make([]*kopilka.Customer, 6)
		for i := range others {
			others[i] = e.customer(t, kopilka.Customer{})
			e.adjust(t, others[i].ID, 100)
		}
		e.adjust(t, c.ID, 1000) // expires at t0+10d
		e.clock.Advance(2 * day)
		e.adjust(t, c.ID, 2000) // expires at t0+12d
		e.clock.Advance(day)
		e.adjust(t, c.ID, -300) // from the oldest-expiring lot: 700 of it left

		e.clock.Advance(7*day - time.Microsecond)
		if got := e.runDue(t, 2); got != (loyalty.DueResult{}) {
			t.Errorf("RunDue() a moment before expiry = %+v, want nothing done", got)
		}
		e.clock.Advance(time.Microsecond)
		want := loyalty.DueResult{Customers: 7, Expired: 700 + 600}
		if got := e.runDue(t, 2); got != want {
			t.Errorf("RunDue(batch 2) at the first expiry = %+v, want %+v", got, want)
		}
		wantB := &kopilka.Balance{Available: 2000, Tier: "Base", Expiring: []kopilka.Expiring{{Amount: 2000, ExpiresAt: t0.AddDate(0, 0, 12)}}}
		if diff := cmp.Diff(wantB, e.balance(t, c.ID)); diff != "" {
			t.Errorf("Balance() after the first expiry mismatch (-want +got):\n%s", diff)
		}
		ops := e.operations(t, c.ID)
		if len(ops) != 4 || ops[0].Type != kopilka.OpExpiry || ops[0].Amount != -700 || ops[0].Status != kopilka.StatusComplete {
			t.Errorf("Operations()[0] = %+v, want a complete expiry of -700", ops[0])
		}
		if got := e.runDue(t, 2); got != (loyalty.DueResult{}) {
			t.Errorf("RunDue() again = %+v, want nothing done", got)
		}
		if n := len(e.operations(t, c.ID)); n != 4 {
			t.Errorf("Operations() after a second RunDue = %d operations, want 4", n)
		}
		checkVerify(t, e.svc)

		e.clock.Advance(2 * day)
		if got, want := e.runDue(t, 0), (loyalty.DueResult{Customers: 1, Expired: 2000}); got != want {
			t.Errorf("RunDue() at the second expiry = %+v, want %+v", got, want)
		}
		if b := e.balance(t, c.ID); b.Available != 0 || len(b.Expiring) != 0 {
			t.Errorf("Balance() after the second expiry = %+v, want nothing left", b)
		}
		if got := e.systemBalances(t)[ledger.Expired]; got != 3300 {
			t.Errorf("expired = %d, want 3300", got)
		}

		// Points that never expire stay.
		e.setProgram(t, func(p *kopilka.Program) { p.ExpiryDays = 0 })
		e.adjust(t, c.ID, 900)
		e.clock.Advance(3650 * day)
		if got := e.runDue(t, 0); got != (loyalty.DueResult{}) {
			t.Errorf("RunDue() with points that never expire = %+v, want nothing done", got)
		}
		if b := e.balance(t, c.ID); b.Available != 900 {
			t.Errorf("Balance().Available = %d, want 900", b.Available)
		}
	})
}

// TestRunDueConcurrent runs two services on one database, as two server
// processes would, expiring the same points at once: every point expires
// exactly once.
func TestRunDueConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		clock := &testClock{now: t0}
		url := storagetest.URL(t, dialect)
		open := func() (*loyalty.Service, *sqldb.DB) {
			db, err := sqldb.Open(ctx, url, sqldb.Options{Clock: clock.Now, Keys: storagetest.Keys()})
			if err != nil {
				t.Fatalf("sqldb.Open() = %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return loyalty.New(db, clock.Now, nil), db
		}
		a, db := open()
		b, _ := open()

		type cust struct{ tenant, id string }
		var custs []cust
		perTenant := map[string]int64{}
		for _, name := range []string{"A", "B"} {
			ten, _, err := a.CreateTenant(ctx, name)
			if err != nil {
				t.Fatalf("CreateTenant() = %v", err)
			}
			p := kopilka.DefaultProgram()
			p.ExpiryDays = 30
			if err := a.SetProgram(ctx, ten.ID, &p); err != nil {
				t.Fatalf("SetProgram() = %v", err)
			}
			for range 12 {
				c, err := a.CreateCustomer(ctx, ten.ID, loyalty.CustomerInput{}, nil)
				if err != nil {
					t.Fatalf("CreateCustomer() = %v", err)
				}
				custs = append(custs, cust{ten.ID, c.ID})
			}
		}
		var total int64
		for lot := range 3 {
			for i, c := range custs {
				amount := kopilka.Amount(100*(lot+1) + i)
				if _, err := b.Adjust(ctx, c.tenant, c.id, loyalty.AdjustInput{Amount: amount}, nil); err != nil {
					t.Fatalf("Adjust() = %v", err)
				}
				total += amount
				perTenant[c.tenant] += amount
			}
			clock.Advance(time.Hour)
		}
		clock.Advance(31 * day)

		start := make(chan struct{})
		results := make([]loyalty.DueResult, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, svc := range []*loyalty.Service{a, b} {
			wg.Go(func() {
				<-start
				results[i], errs[i] = svc.RunDue(ctx, 0)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("RunDue() on service %d = %v", i, err)
			}
		}
		t.Logf("service A: %+v; service B: %+v", results[0], results[1])
		if got := results[0].Expired + results[1].Expired; got != total {
			t.Errorf("RunDue() expired %d + %d = %d, want %d exactly", results[0].Expired, results[1].Expired, got, total)
		}
		if got := results[0].Customers + results[1].Customers; got != len(custs) {
			t.Errorf("RunDue() customers %d + %d, want %d in all", results[0].Customers, results[1].Customers, len(custs))
		}
		if res, err := a.RunDue(ctx, 5); err != nil || res != (loyalty.DueResult{}) {
			t.Errorf("RunDue() after both = %+v, %v, want nothing left to do", res, err)
		}
		for _, c := range custs {
			page, err := a.Operations(ctx, c.tenant, c.id, "", 200)
			if err != nil {
				t.Fatalf("Operations() = %v", err)
			}
			expiries := 0
			for _, op := range page.Items {
				if op.Type == kopilka.OpExpiry {
					expiries++
				}
			}
			if expiries != 1 {
				t.Errorf("customer %s has %d expiry operations, want 1", c.id, expiries)
			}
			bal, err := b.Balance(ctx, c.tenant, c.id)
			if err != nil || bal.Available != 0 {
				t.Errorf("Balance(%s) = %+v, %v, want 0 available", c.id, bal, err)
			}
		}
		checkVerify(t, a)
		checkVerify(t, b)
		for ten, want := range perTenant {
			var sys map[ledger.Account]int64
			err := db.Read(ctx, func(tx storage.Tx) error {
				var err error
				sys, err = tx.SystemBalances(ctx, ten)
				return err
			})
			if err != nil || sys[ledger.Expired] != want {
				t.Errorf("tenant %s expired = %d, %v, want %d", ten, sys[ledger.Expired], err, want)
			}
		}
	})
}
