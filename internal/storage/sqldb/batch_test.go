package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// batchWrite is one write of a batch: its context (which may name the
// customer it locks) and its function.
type batchWrite struct {
	ctx context.Context
	fn  func(storage.Tx) error
}

// batchRun is what became of one write: its answer and the transaction of
// each of its runs.
type batchRun struct {
	err error
	txs []any
}

// inOneBatch queues the writes behind one that holds the only committer,
// so that they run as one group commit, in this order; it returns each
// write's outcome. The database must have one committer and MaxBatch ≥
// len(writes).
func inOneBatch(t *testing.T, db *sqldb.DB, writes []batchWrite) []batchRun {
	t.Helper()
	ctx := t.Context()
	running, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	blocked := make(chan error, 1)
	go func() {
		blocked <- db.Write(ctx, func(storage.Tx) error {
			once.Do(func() { close(running) })
			<-release
			return nil
		})
	}()
	<-running
	runs := make([]batchRun, len(writes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, w := range writes {
		// Queue them one by one, so the batch keeps their order.
		queued := sqldb.QueueLen(db)
		wg.Go(func() {
			runs[i].err = db.Write(w.ctx, func(tx storage.Tx) error {
				mu.Lock()
				runs[i].txs = append(runs[i].txs, sqldb.SQLTx(tx))
				mu.Unlock()
				return w.fn(tx)
			})
		})
		for deadline := time.Now().Add(10 * time.Second); sqldb.QueueLen(db) <= queued; time.Sleep(100 * time.Microsecond) {
			if time.Now().After(deadline) {
				t.Fatalf("write %d was not queued", i)
			}
		}
	}
	close(release)
	wg.Wait()
	if err := <-blocked; err != nil {
		t.Fatalf("blocking Write: %v", err)
	}
	return runs
}

// ledgerFixture is a tenant with customers, on a database with one
// committer.
type ledgerFixture struct {
	t      *testing.T
	db     *sqldb.DB
	tenant string
}

func newLedgerFixture(t *testing.T, dialect string) *ledgerFixture {
	t.Helper()
	db := storagetest.Open(t, dialect, sqldb.Options{Committers: 1, MaxBatch: 32, Clock: stepClock()})
	f := &ledgerFixture{t: t, db: db, tenant: kopilka.NewID("ten")}
	if err := db.Write(t.Context(), func(tx storage.Tx) error {
		return tx.CreateTenant(t.Context(), &kopilka.Tenant{ID: f.tenant, Name: "t"})
	}); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return f
}

func (f *ledgerFixture) customer() string {
	f.t.Helper()
	id := kopilka.NewID("cus")
	if err := f.db.Write(f.t.Context(), func(tx storage.Tx) error {
		return tx.CreateCustomer(f.t.Context(), &kopilka.Customer{ID: id, TenantID: f.tenant, Kind: kopilka.Individual})
	}); err != nil {
		f.t.Fatalf("CreateCustomer: %v", err)
	}
	return id
}

// credit gathers a credit of amount to the customer as a new lot.
func (f *ledgerFixture) credit(ctx context.Context, tx storage.Tx, customerID string, amount kopilka.Amount, expires *time.Time, ext string) error {
	if _, err := tx.LockCustomer(ctx, f.tenant, customerID); err != nil {
		return err
	}
	op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: f.tenant, CustomerID: customerID, Type: kopilka.OpAdjustment,
		Status: kopilka.StatusComplete, Amount: amount, ExternalID: ext}
	lot := &kopilka.Lot{ID: kopilka.NewID("lot"), TenantID: f.tenant, CustomerID: customerID, OperationID: op.ID, Amount: amount,
		Remaining: amount, State: kopilka.LotActive, ActivatesAt: tx.Now(), ExpiresAt: expires}
	return tx.Apply(ctx, f.tenant, &storage.Writes{Ops: []storage.OpWrite{{Op: op, Postings: ledger.Move(ledger.Issued, ledger.Available, customerID, int64(amount))}},
		Lots: []*kopilka.Lot{lot}})
}

// debit gathers a debit of amount, soonest expiry first, as the ledger's
// use cases do: it reads the customer's lots under the customer's lock.
func (f *ledgerFixture) debit(ctx context.Context, tx storage.Tx, customerID string, amount kopilka.Amount) error {
	if _, err := tx.LockCustomer(ctx, f.tenant, customerID); err != nil {
		return err
	}
	lots, err := tx.CustomerLots(ctx, f.tenant, customerID, kopilka.LotActive)
	if err != nil {
		return err
	}
	spendable := make([]ledger.SpendableLot, len(lots))
	for i, l := range lots {
		spendable[i] = ledger.SpendableLot{ID: l.ID, Remaining: int64(l.Remaining), ExpiresAt: l.ExpiresAt, Seq: int64(i)}
	}
	takes, ok := ledger.Spend(spendable, int64(amount))
	if !ok {
		return errShort
	}
	op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: f.tenant, CustomerID: customerID, Type: kopilka.OpAdjustment,
		Status: kopilka.StatusComplete, Amount: -amount}
	w := &storage.Writes{Ops: []storage.OpWrite{{Op: op, Postings: ledger.Move(ledger.Available, ledger.Revoked, customerID, int64(amount))}}}
	for _, tk := range takes {
		w.AddDelta(tk.LotID, kopilka.Amount(-tk.Amount))
	}
	return tx.Apply(ctx, f.tenant, w)
}

var errShort = errors.New("not enough points")

// lots returns the customer's active lots with points left, by id.
func (f *ledgerFixture) lots(customerID string) map[string]kopilka.Lot {
	f.t.Helper()
	out := map[string]kopilka.Lot{}
	if err := f.db.Read(f.t.Context(), func(tx storage.Tx) error {
		lots, err := tx.CustomerLots(f.t.Context(), f.tenant, customerID, kopilka.LotActive)
		for _, l := range lots {
			out[l.ID] = l
		}
		return err
	}); err != nil {
		f.t.Fatalf("CustomerLots: %v", err)
	}
	return out
}

// available sums the customer's active lots.
func (f *ledgerFixture) available(customerID string) kopilka.Amount {
	var sum kopilka.Amount
	for _, l := range f.lots(customerID) {
		sum += l.Remaining
	}
	return sum
}

// verify checks the tenant's ledger.
func (f *ledgerFixture) verify() {
	f.t.Helper()
	if err := f.db.Snapshot(f.t.Context(), func(tx storage.Tx) error {
		facts, err := tx.VerifyFacts(f.t.Context(), f.tenant)
		if err != nil {
			return err
		}
		if d := ledger.Verify(*facts); len(d) > 0 {
			f.t.Errorf("verify: %+v", d)
		}
		return nil
	}); err != nil {
		f.t.Fatalf("VerifyFacts: %v", err)
	}
}

// TestBatchGatheredWrites proves that gathering a batch's writes and
// sending them at its end is the same as running the writes one by one:
// every case runs its writes as one group commit, with and without the
// customers named ahead (storage.WithCustomerLots, which on PostgreSQL
// locks and reads them for the whole batch at once).
func TestBatchGatheredWrites(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		for _, ahead := range []bool{false, true} {
			name := dialect + "/plain"
			if ahead {
				name = dialect + "/ahead"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testBatchGatheredWrites(t, dialect, ahead)
			})
		}
	}
}

func testBatchGatheredWrites(t *testing.T, dialect string, ahead bool) {
	f := newLedgerFixture(t, dialect)
	ctxFor := func(customerID string) context.Context {
		if ahead {
			return storage.WithCustomerLots(t.Context(), f.tenant, customerID)
		}
		return storage.WithKey(t.Context(), customerID)
	}
	same := func(runs []batchRun) {
		t.Helper()
		for i, r := range runs {
			if len(r.txs) == 0 || r.txs[0] != runs[0].txs[0] {
				t.Fatalf("write %d did not run in the shared batch transaction", i)
			}
		}
	}

	t.Run("LaterWriteReadsEarlierOfSameCustomer", func(t *testing.T) {
		// A credit and then a debit of the same customer in one batch: the
		// debit must see the credit's lot although it is not sent yet,
		// and a second debit must see the first one's spending.
		c := f.customer()
		runs := inOneBatch(t, f.db, []batchWrite{
			{ctxFor(c), func(tx storage.Tx) error { return f.credit(ctxFor(c), tx, c, 100, nil, "") }},
			{ctxFor(c), func(tx storage.Tx) error { return f.debit(ctxFor(c), tx, c, 60) }},
			{ctxFor(c), func(tx storage.Tx) error { return f.debit(ctxFor(c), tx, c, 30) }},
			{ctxFor(c), func(tx storage.Tx) error { return f.debit(ctxFor(c), tx, c, 30) }}, // 10 left: refused
		})
		same(runs[:1])
		for i, want := range []error{nil, nil, nil, errShort} {
			if !errors.Is(runs[i].err, want) || (want == nil && runs[i].err != nil) {
				t.Errorf("write %d = %v, want %v", i, runs[i].err, want)
			}
		}
		if got := f.available(c); got != 10 {
			t.Errorf("available = %d, want 10", got)
		}
		f.verify()
	})

	t.Run("WriteReadsItsOwnGatheredRows", func(t *testing.T) {
		c := f.customer()
		var seen int
		runs := inOneBatch(t, f.db, []batchWrite{
			{ctxFor(c), func(tx storage.Tx) error {
				if err := f.credit(ctxFor(c), tx, c, 50, nil, ""); err != nil {
					return err
				}
				lots, err := tx.CustomerLots(t.Context(), f.tenant, c, kopilka.LotActive)
				seen = len(lots)
				return err
			}},
			{ctxFor(c), func(tx storage.Tx) error { return f.credit(ctxFor(c), tx, c, 5, nil, "") }},
		})
		same(runs)
		if runs[0].err != nil || runs[1].err != nil {
			t.Fatalf("writes = %v, %v", runs[0].err, runs[1].err)
		}
		if seen != 1 {
			t.Errorf("the write saw %d lots of its own, want 1", seen)
		}
		if got := f.available(c); got != 55 {
			t.Errorf("available = %d, want 55", got)
		}
		f.verify()
	})

	t.Run("FailedWriteLeavesNothing", func(t *testing.T) {
		// The failing write gathered a credit and also wrote directly
		// (a savepoint): both vanish; the writes around it stay.
		c1, c2 := f.customer(), f.customer()
		errBoom := errors.New("boom")
		runs := inOneBatch(t, f.db, []batchWrite{
			{ctxFor(c1), func(tx storage.Tx) error { return f.credit(ctxFor(c1), tx, c1, 7, nil, "") }},
			{ctxFor(c2), func(tx storage.Tx) error {
				if err := f.credit(ctxFor(c2), tx, c2, 1000, nil, ""); err != nil {
					return err
				}
				return errBoom
			}},
			{ctxFor(c2), func(tx storage.Tx) error {
				if err := tx.SetCustomerBalances(t.Context(), f.tenant, c2, 0, 12345); err != nil {
					return err
				}
				if err := f.credit(ctxFor(c2), tx, c2, 2000, nil, ""); err != nil {
					return err
				}
				return errBoom
			}},
			{ctxFor(c2), func(tx storage.Tx) error { return f.credit(ctxFor(c2), tx, c2, 3, nil, "") }},
		})
		same(runs)
		for i, want := range []error{nil, errBoom, errBoom, nil} {
			if !errors.Is(runs[i].err, want) || (want == nil && runs[i].err != nil) {
				t.Errorf("write %d = %v, want %v", i, runs[i].err, want)
			}
		}
		if got := f.available(c1); got != 7 {
			t.Errorf("available of the first = %d, want 7", got)
		}
		if got := f.available(c2); got != 3 {
			t.Errorf("available of the second = %d, want 3", got)
		}
		var purchases kopilka.Amount
		if err := f.db.Read(t.Context(), func(tx storage.Tx) error {
			c, err := tx.GetCustomer(t.Context(), f.tenant, c2, false)
			if err == nil {
				purchases = c.PurchasesTotal
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if purchases != 0 {
			t.Errorf("purchases_total = %d after the write that set it failed, want 0", purchases)
		}
		f.verify()
	})

	t.Run("DirectWriteSeesAndKeepsEarlierGathered", func(t *testing.T) {
		// A direct write (a savepoint) after gathered writes of the same
		// customer, then a lock of that customer: the order holds.
		c := f.customer()
		var purchases kopilka.Amount
		runs := inOneBatch(t, f.db, []batchWrite{
			{ctxFor(c), func(tx storage.Tx) error { return f.credit(ctxFor(c), tx, c, 40, nil, "") }},
			{ctxFor(c), func(tx storage.Tx) error { return tx.SetCustomerBalances(t.Context(), f.tenant, c, 0, 15) }},
			{ctxFor(c), func(tx storage.Tx) error {
				got, err := tx.LockCustomer(t.Context(), f.tenant, c)
				if err == nil {
					purchases = got.PurchasesTotal
				}
				return err
			}},
		})
		same(runs)
		for i, r := range runs {
			if r.err != nil {
				t.Errorf("write %d = %v", i, r.err)
			}
		}
		if purchases != 15 {
			t.Errorf("the lock read purchases_total %d after the write that set it to 15", purchases)
		}
		f.verify()
		if got := f.available(c); got != 40 {
			t.Errorf("available = %d, want 40", got)
		}
	})

	t.Run("ClashRunsEveryWriteAlone", func(t *testing.T) {
		// Two customers' credits under one external id: the batch's one
		// statement fails on the unique index, and each write runs again
		// alone; exactly one wins.
		c1, c2, c3 := f.customer(), f.customer(), f.customer()
		ext := kopilka.NewID("ext")
		runs := inOneBatch(t, f.db, []batchWrite{
			{ctxFor(c3), func(tx storage.Tx) error { return f.credit(ctxFor(c3), tx, c3, 1, nil, "") }},
			{ctxFor(c1), func(tx storage.Tx) error { return f.credit(ctxFor(c1), tx, c1, 10, nil, ext) }},
			{ctxFor(c2), func(tx storage.Tx) error { return f.credit(ctxFor(c2), tx, c2, 20, nil, ext) }},
		})
		if runs[0].err != nil || runs[1].err != nil {
			t.Errorf("writes = %v, %v, want both to succeed", runs[0].err, runs[1].err)
		}
		if !errors.Is(runs[2].err, storage.ErrConflict) {
			t.Errorf("the clashing write = %v, want ErrConflict", runs[2].err)
		}
		for i, r := range runs {
			if len(r.txs) != 2 || r.txs[1] == r.txs[0] {
				t.Errorf("write %d ran %d times, want twice: in the batch, then alone", i, len(r.txs))
			}
		}
		if a, b, c := f.available(c1), f.available(c2), f.available(c3); a != 10 || b != 0 || c != 1 {
			t.Errorf("available = %d, %d, %d, want 10, 0, 1", a, b, c)
		}
		f.verify()
	})

	t.Run("SpendsSoonestExpiryFirst", func(t *testing.T) {
		c := f.customer()
		soon, late := time.Now().Add(240*time.Hour), time.Now().Add(2400*time.Hour)
		if err := f.db.Write(ctxFor(c), func(tx storage.Tx) error {
			if err := f.credit(ctxFor(c), tx, c, 100, &late, ""); err != nil {
				return err
			}
			return f.credit(ctxFor(c), tx, c, 30, &soon, "")
		}); err != nil {
			t.Fatal(err)
		}
		other := f.customer()
		runs := inOneBatch(t, f.db, []batchWrite{
			{ctxFor(other), func(tx storage.Tx) error { return f.credit(ctxFor(other), tx, other, 5, nil, "") }},
			{ctxFor(c), func(tx storage.Tx) error { return f.debit(ctxFor(c), tx, c, 50) }},
		})
		same(runs)
		if runs[1].err != nil {
			t.Fatalf("debit = %v", runs[1].err)
		}
		var rem []kopilka.Amount
		for _, l := range f.lots(c) {
			rem = append(rem, l.Remaining)
		}
		if len(rem) != 1 || rem[0] != 80 {
			t.Errorf("lots left %v, want the later lot alone with 80", rem)
		}
		f.verify()
	})
}

// TestBatchBusyCustomer: on PostgreSQL a batch skips a customer row that
// another transaction holds (it must neither wait, which could deadlock
// two batches, nor fail, which would lose the batch); the write runs again
// alone after the batch and waits there for the row.
func TestBatchBusyCustomer(t *testing.T) {
	t.Parallel()
	for _, ahead := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "ahead"}[ahead], func(t *testing.T) {
			t.Parallel()
			f := newLedgerFixture(t, "postgres")
			busy, free := f.customer(), f.customer()
			ctxFor := func(customerID string) context.Context {
				if ahead {
					return storage.WithCustomer(t.Context(), f.tenant, customerID)
				}
				return storage.WithKey(t.Context(), customerID)
			}
			holder, err := sqldb.Writer(f.db).BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Rollback() //nolint:errcheck // released below
			if _, err := holder.ExecContext(t.Context(), `SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, f.tenant, busy); err != nil {
				t.Fatal(err)
			}
			done := make(chan []batchRun)
			go func() {
				done <- inOneBatch(t, f.db, []batchWrite{
					{ctxFor(free), func(tx storage.Tx) error { return f.credit(ctxFor(free), tx, free, 1, nil, "") }},
					{ctxFor(busy), func(tx storage.Tx) error { return f.credit(ctxFor(busy), tx, busy, 2, nil, "") }},
					{ctxFor(free), func(tx storage.Tx) error { return f.credit(ctxFor(free), tx, free, 4, nil, "") }},
				})
			}()
			// The free customer's writes commit while the busy row is held.
			for deadline := time.Now().Add(20 * time.Second); f.available(free) != 5; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the free customer's writes did not commit while another customer's row was held")
				}
			}
			if err := holder.Rollback(); err != nil {
				t.Fatal(err)
			}
			runs := <-done
			for i, r := range runs {
				if r.err != nil {
					t.Errorf("write %d = %v", i, r.err)
				}
			}
			if len(runs[1].txs) != 2 || runs[1].txs[1] == runs[1].txs[0] {
				t.Errorf("the busy customer's write ran %d times, want twice (skipped in the batch, then alone)", len(runs[1].txs))
			}
			if got := f.available(busy); got != 2 {
				t.Errorf("available = %d, want 2", got)
			}
			f.verify()
		})
	}
}

// TestBatchPurchaseRefs: purchases that name their customer ahead
// (storage.WithPurchaseRef) get from PurchaseCustomer inside a batch what
// a lookup alone gives — by id, card and phone, with the spendable sum
// and the purchase already holding the external id — and a write of the
// customer earlier in the batch is seen.
func TestBatchPurchaseRefs(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			f := newLedgerFixture(t, dialect)
			c := kopilka.NewID("cus")
			card, phone := "LG-"+kopilka.NewID("c"), "+7916"+fmt.Sprint(time.Now().UnixNano()%10_000_000 + 10_000_000)[:7]
			// The fixture's clock starts on 2026-01-15 09:00.
			soon, gone := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)
			taken := kopilka.NewID("ext")
			if err := f.db.Write(ctx, func(tx storage.Tx) error {
				if err := tx.CreateCustomer(ctx, &kopilka.Customer{ID: c, TenantID: f.tenant, Kind: kopilka.Individual, Phone: phone}); err != nil {
					return err
				}
				if err := tx.CreateCard(ctx, f.tenant, &kopilka.Card{Number: card, CustomerID: c, Kind: kopilka.CardPlastic, Status: kopilka.CardActive}); err != nil {
					return err
				}
				if err := tx.SetCustomerBalances(ctx, f.tenant, c, 7, 500); err != nil {
					return err
				}
				if err := f.credit(ctx, tx, c, 100, &soon, ""); err != nil {
					return err
				}
				if err := f.credit(ctx, tx, c, 40, &gone, ""); err != nil { // expired: not spendable
					return err
				}
				return tx.Apply(ctx, f.tenant, &storage.Writes{Purchase: &kopilka.Purchase{ID: kopilka.NewID("pur"), ExternalID: taken,
					CustomerID: c, Status: kopilka.PurchasePending, RequestHash: []byte{1}}})
			}); err != nil {
				t.Fatal(err)
			}
			type got struct {
				id, existing string
				spendable    kopilka.Amount
				debt         kopilka.Amount
				purchases    kopilka.Amount
			}
			lookup := func(tx storage.Tx, by, value, ext string) (got, error) {
				cu, existing, err := tx.PurchaseCustomer(ctx, f.tenant, by, value, ext)
				if err != nil {
					return got{}, err
				}
				return got{cu.ID, existing, cu.Spendable, cu.Debt, cu.PurchasesTotal}, nil
			}
			refs := []struct{ by, value, ext string }{{"id", c, "new-1"}, {"card", card, taken}, {"phone", phone, "new-2"}}
			// What a lookup alone says.
			want := make([]got, len(refs))
			if err := f.db.Write(ctx, func(tx storage.Tx) error {
				for i, r := range refs {
					var err error
					if want[i], err = lookup(tx, r.by, r.value, r.ext); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if want[0].spendable != 100 || want[1].existing == "" || want[0].existing != "" {
				t.Fatalf("lookup alone = %+v: the fixture is not what the test needs", want)
			}
			// The same lookups, each the first of its own write in one
			// batch, after another customer's write (so the batch is a real
			// one) — and once more after a write of this customer.
			other := f.customer()
			ahead := func(r struct{ by, value, ext string }) context.Context {
				return storage.WithPurchaseRef(storage.WithKey(ctx, c), storage.PurchaseRef{TenantID: f.tenant, By: r.by, Value: r.value, ExternalID: r.ext})
			}
			gots := make([]got, len(refs)+1)
			writes := []batchWrite{{storage.WithCustomer(ctx, f.tenant, other), func(tx storage.Tx) error { return f.credit(ctx, tx, other, 1, nil, "") }}}
			for i, r := range refs {
				writes = append(writes, batchWrite{ahead(r), func(tx storage.Tx) error {
					var err error
					gots[i], err = lookup(tx, r.by, r.value, r.ext)
					return err
				}})
			}
			writes = append(writes,
				batchWrite{storage.WithKey(ctx, c), func(tx storage.Tx) error { return f.credit(ctx, tx, c, 5, nil, "") }},
				batchWrite{ahead(refs[1]), func(tx storage.Tx) error {
					var err error
					gots[len(refs)], err = lookup(tx, refs[1].by, refs[1].value, refs[1].ext)
					return err
				}})
			runs := inOneBatch(t, f.db, writes)
			for i, r := range runs {
				if r.err != nil {
					t.Fatalf("write %d = %v", i, r.err)
				}
				if r.txs[0] != runs[0].txs[0] {
					t.Fatalf("write %d did not run in the batch", i)
				}
			}
			for i := range refs {
				if gots[i] != want[i] {
					t.Errorf("by %s in a batch = %+v, want %+v", refs[i].by, gots[i], want[i])
				}
			}
			after := want[1]
			after.spendable += 5
			if gots[len(refs)] != after {
				t.Errorf("after a credit in the batch = %+v, want %+v", gots[len(refs)], after)
			}
		})
	}
}
