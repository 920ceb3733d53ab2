package loyalty_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// t0 is when every test's clock starts.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// testClock is a clock the test moves by hand; the service and the
// database read it, so a transaction's "now" follows it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one test's world: a database of its own, a clock, a service and
// a tenant.
type env struct {
	ctx    context.Context
	clock  *testClock
	db     *sqldb.DB
	svc    *loyalty.Service
	tenant *kopilka.Tenant
	key    *loyalty.NewKey
}

func newEnv(t *testing.T, dialect string) *env {
	t.Helper()
	clock := &testClock{now: t0}
	db := storagetest.Open(t, dialect, sqldb.Options{Clock: clock.Now})
	e := &env{ctx: context.Background(), clock: clock, db: db, svc: loyalty.New(db, clock.Now, nil)}
	var err error
	e.tenant, e.key, err = e.svc.CreateTenant(e.ctx, "Аптека №1")
	if err != nil {
		t.Fatalf("CreateTenant() = %v", err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			checkVerify(t, e.svc)
		}
	})
	return e
}

// forEachDialect runs fn as a parallel subtest on SQLite and PostgreSQL.
func forEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// checkVerify fails the test unless the ledger proves consistent.
func checkVerify(t *testing.T, svc *loyalty.Service) {
	t.Helper()
	ds, _, err := svc.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	for _, d := range ds {
		t.Errorf("Verify() found %s", d)
	}
}

// wantCode fails the test unless err carries the code.
func wantCode(t *testing.T, what string, err error, code kopilka.Code) {
	t.Helper()
	if got := kopilka.ErrorCode(err); got != code {
		t.Fatalf("%s error = %v (code %q), want code %q", what, err, got, code)
	}
}

func (e *env) customer(t *testing.T, c kopilka.Customer) *kopilka.Customer {
	t.Helper()
	got, err := e.svc.CreateCustomer(e.ctx, e.tenant.ID, loyalty.CustomerInput{Customer: c}, nil)
	if err != nil {
		t.Fatalf("CreateCustomer(%+v) = %v", c, err)
	}
	return got
}

func (e *env) adjust(t *testing.T, customerID string, amount kopilka.Amount) *kopilka.Operation {
	t.Helper()
	op, err := e.svc.Adjust(e.ctx, e.tenant.ID, customerID, loyalty.AdjustInput{Amount: amount, Reason: "test"}, nil)
	if err != nil {
		t.Fatalf("Adjust(%s, %d) = %v", customerID, amount, err)
	}
	return op
}

func (e *env) balance(t *testing.T, customerID string) *kopilka.Balance {
	t.Helper()
	b, err := e.svc.Balance(e.ctx, e.tenant.ID, customerID)
	if err != nil {
		t.Fatalf("Balance(%s) = %v", customerID, err)
	}
	return b
}

func (e *env) setProgram(t *testing.T, edit func(p *kopilka.Program)) {
	t.Helper()
	p := kopilka.DefaultProgram()
	edit(&p)
	if err := e.svc.SetProgram(e.ctx, e.tenant.ID, &p); err != nil {
		t.Fatalf("SetProgram() = %v", err)
	}
}

// operations returns every operation of a customer, newest first.
func (e *env) operations(t *testing.T, customerID string) []kopilka.Operation {
	t.Helper()
	page, err := e.svc.Operations(e.ctx, e.tenant.ID, customerID, "", 200)
	if err != nil {
		t.Fatalf("Operations(%s) = %v", customerID, err)
	}
	return page.Items
}

// systemBalances reads the tenant's system accounts.
func (e *env) systemBalances(t *testing.T) map[ledger.Account]int64 {
	t.Helper()
	var out map[ledger.Account]int64
	err := e.db.Read(e.ctx, func(tx storage.Tx) error {
		var err error
		out, err = tx.SystemBalances(e.ctx, e.tenant.ID)
		return err
	})
	if err != nil {
		t.Fatalf("SystemBalances() = %v", err)
	}
	return out
}

// lots reads a customer's lots with points left in any live state.
func (e *env) lots(t *testing.T, customerID string) []kopilka.Lot {
	t.Helper()
	var out []kopilka.Lot
	err := e.db.Read(e.ctx, func(tx storage.Tx) error {
		var err error
		out, err = tx.CustomerLots(e.ctx, e.tenant.ID, customerID, kopilka.LotPending, kopilka.LotInactive, kopilka.LotActive)
		return err
	})
	if err != nil {
		t.Fatalf("CustomerLots(%s) = %v", customerID, err)
	}
	return out
}
