package storagetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// Run runs the conformance suite: every behaviour of storage.DB and
// storage.Tx, each as a parallel subtest on a database of its own made by
// open. open must return an empty, migrated database that is closed when
// its t ends, and whose clock moves forward between transactions (a
// stepping test clock does; so does the wall clock).
func Run(t *testing.T, open func(t *testing.T) storage.DB) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, db storage.DB)
	}{
		{"Tenants", testTenants},
		{"APIKeys", testAPIKeys},
		{"Stores", testStores},
		{"Customers", testCustomers},
		{"CustomerLock", testCustomerLock},
		{"CustomerChanges", testCustomerChanges},
		{"Cards", testCards},
		{"People", testPeople},
		{"Program", testProgram},
		{"Operations", testOperations},
		{"ListOperations", testListOperations},
		{"Lots", testLots},
		{"Holds", testHolds},
		{"Balance", testBalance},
		{"DueCustomers", testDueCustomers},
		{"Purchases", testPurchases},
		{"Refunds", testRefunds},
		{"Promotions", testPromotions},
		{"Birthdays", testBirthdays},
		{"Idempotency", testIdempotency},
		{"Verify", testVerify},
		{"TenantIsolation", testTenantIsolation},
		{"Snapshot", testSnapshot},
		{"WriteAtomicity", testWriteAtomicity},
		{"WriteRetry", testWriteRetry},
		{"MergeErase", testMergeErase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open(t))
		})
	}
}

// ---------------------------------------------------------------------------
// Helpers.

func mustWrite(t *testing.T, db storage.DB, fn func(storage.Tx) error) {
	t.Helper()
	if err := db.Write(t.Context(), fn); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func mustRead(t *testing.T, db storage.DB, fn func(storage.Tx) error) {
	t.Helper()
	if err := db.Read(t.Context(), fn); err != nil {
		t.Fatalf("Read: %v", err)
	}
}

// checkErr reports unless err matches want; a nil want asks for no error.
func checkErr(t *testing.T, call string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s = %v, want nil", call, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s = %v, want %v", call, err, want)
	}
}

// diff reports a mismatch between want and got.
func diff(t *testing.T, call string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", call, d)
	}
}

func newTenant(t *testing.T, db storage.DB) string {
	t.Helper()
	id := kopilka.NewID("ten")
	mustWrite(t, db, func(tx storage.Tx) error {
		return tx.CreateTenant(t.Context(), &kopilka.Tenant{ID: id, Name: "tenant " + id})
	})
	return id
}

func newCustomer(t *testing.T, db storage.DB, tenantID, phone string, cards ...string) *kopilka.Customer {
	t.Helper()
	c := &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: tenantID, Kind: kopilka.Individual, Phone: phone, Tags: []string{}}
	for _, n := range cards {
		c.Cards = append(c.Cards, kopilka.Card{Number: n})
	}
	mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCustomer(t.Context(), c) })
	return c
}

// newOp returns an operation of a customer, not yet stored.
func newOp(tenantID, customerID string, typ kopilka.OpType, status kopilka.OpStatus, amount int64) *kopilka.Operation {
	return &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: tenantID, CustomerID: customerID, Type: typ,
		Status: status, Amount: amount, RequestHash: []byte{1, 2, 3}}
}

// lotSpec describes a lot for addLot.
type lotSpec struct {
	amount, remaining int64
	state             string
	activates         time.Time
	expires           *time.Time
}

// addLot writes, in tx, a complete accrual (pending while the lot is
// pending) crediting available (active lot) or pending (other states),
// and the lot itself.
func addLot(tx storage.Tx, t *testing.T, tenantID, customerID string, s lotSpec) (*kopilka.Operation, *kopilka.Lot, error) {
	status, to := kopilka.StatusComplete, ledger.Pending
	if s.state == kopilka.LotPending {
		status = kopilka.StatusPending
	}
	if s.state == kopilka.LotActive {
		to = ledger.Available
	}
	op := newOp(tenantID, customerID, kopilka.OpAccrual, status, s.amount)
	if err := tx.InsertOperation(t.Context(), op, ledger.Move(ledger.Issued, to, customerID, s.amount)); err != nil {
		return nil, nil, err
	}
	l := &kopilka.Lot{ID: kopilka.NewID("lot"), TenantID: tenantID, CustomerID: customerID, OperationID: op.ID,
		Amount: s.amount, Remaining: s.remaining, State: s.state, ActivatesAt: s.activates, ExpiresAt: s.expires}
	return op, l, tx.InsertLot(t.Context(), l)
}

// getLot reads a lot.
func getLot(t *testing.T, db storage.DB, tenantID, id string) *kopilka.Lot {
	t.Helper()
	var l *kopilka.Lot
	mustRead(t, db, func(tx storage.Tx) error {
		var err error
		l, err = tx.GetLot(t.Context(), tenantID, id)
		return err
	})
	return l
}

func ptr[T any](v T) *T { return &v }

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// ---------------------------------------------------------------------------
// Tenants, keys, stores.

func testTenants(t *testing.T, db storage.DB) {
	ctx := t.Context()
	a := &kopilka.Tenant{ID: kopilka.NewID("ten"), Name: "Аптека №1", Settings: kopilka.TenantSettings{AllowLegalEntities: true}}
	b := &kopilka.Tenant{ID: kopilka.NewID("ten"), Name: "Cafe"}
	mustWrite(t, db, func(tx storage.Tx) error {
		if err := tx.CreateTenant(ctx, a); err != nil {
			return err
		}
		return tx.CreateTenant(ctx, b)
	})
	err := db.Write(ctx, func(tx storage.Tx) error {
		return tx.CreateTenant(ctx, &kopilka.Tenant{ID: a.ID, Name: "duplicate"})
	})
	checkErr(t, "CreateTenant(existing id)", err, storage.ErrConflict)

	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetTenant(ctx, a.ID)
		checkErr(t, "GetTenant(a)", err, nil)
		diff(t, "GetTenant(a)", a, got)
		_, err = tx.GetTenant(ctx, kopilka.NewID("ten"))
		checkErr(t, "GetTenant(unknown)", err, storage.ErrNotFound)
		ids, err := tx.ListTenantIDs(ctx)
		checkErr(t, "ListTenantIDs", err, nil)
		want := []string{a.ID, b.ID}
		slices.Sort(want)
		diff(t, "ListTenantIDs", want, ids)
		return nil
	})
}

func testAPIKeys(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	k1 := &kopilka.APIKey{ID: kopilka.NewID("key"), TenantID: tenantID, Name: "back office",
		Scopes: []kopilka.Scope{kopilka.ScopeAdmin}, Digest: digest("one")}
	k2 := &kopilka.APIKey{ID: kopilka.NewID("key"), TenantID: tenantID, Name: "till 1",
		Scopes: []kopilka.Scope{kopilka.ScopePOS}, StoreID: kopilka.NewID("sto"), Digest: digest("two")}
	for _, k := range []*kopilka.APIKey{k1, k2} {
		mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateAPIKey(ctx, k) })
	}
	err := db.Write(ctx, func(tx storage.Tx) error {
		return tx.CreateAPIKey(ctx, &kopilka.APIKey{ID: k1.ID, TenantID: tenantID, Scopes: []kopilka.Scope{kopilka.ScopePOS}, Digest: digest("x")})
	})
	checkErr(t, "CreateAPIKey(existing id)", err, storage.ErrConflict)

	newestFirst := func(keys ...kopilka.APIKey) []kopilka.APIKey {
		sort.Slice(keys, func(i, j int) bool {
			if !keys[i].CreatedAt.Equal(keys[j].CreatedAt) {
				return keys[i].CreatedAt.After(keys[j].CreatedAt)
			}
			return keys[i].ID < keys[j].ID
		})
		return keys
	}
	mustRead(t, db, func(tx storage.Tx) error {
		for _, k := range []*kopilka.APIKey{k1, k2} {
			got, err := tx.GetAPIKey(ctx, k.ID)
			checkErr(t, "GetAPIKey", err, nil)
			diff(t, "GetAPIKey("+k.Name+")", k, got)
		}
		_, err := tx.GetAPIKey(ctx, kopilka.NewID("key"))
		checkErr(t, "GetAPIKey(unknown)", err, storage.ErrNotFound)
		got, err := tx.ListAPIKeys(ctx, tenantID)
		checkErr(t, "ListAPIKeys", err, nil)
		diff(t, "ListAPIKeys", newestFirst(*k1, *k2), got)
		return nil
	})

	var revokedAt time.Time
	mustWrite(t, db, func(tx storage.Tx) error {
		revokedAt = tx.Now()
		return tx.RevokeAPIKey(ctx, tenantID, k1.ID)
	})
	k1.RevokedAt = &revokedAt
	for _, id := range []string{k1.ID, kopilka.NewID("key")} {
		err := db.Write(ctx, func(tx storage.Tx) error { return tx.RevokeAPIKey(ctx, tenantID, id) })
		checkErr(t, fmt.Sprintf("RevokeAPIKey(%s) after revocation or unknown", id), err, storage.ErrNotFound)
	}
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetAPIKey(ctx, k1.ID)
		checkErr(t, "GetAPIKey(revoked)", err, nil)
		diff(t, "GetAPIKey(revoked)", k1, got)
		list, err := tx.ListAPIKeys(ctx, tenantID)
		checkErr(t, "ListAPIKeys", err, nil)
		diff(t, "ListAPIKeys after revocation", newestFirst(*k1, *k2), list)
		return nil
	})
}

func testStores(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	s1 := &kopilka.Store{ID: kopilka.NewID("sto"), TenantID: tenantID, Name: "Центральный", Address: "Ленина, 1",
		Phone: "+74951234567", Hours: []byte(`{"mon":"09:00-21:00","sun":"closed"}`)}
	s2 := &kopilka.Store{ID: kopilka.NewID("sto"), TenantID: tenantID, Name: "Аэропорт"}
	mustWrite(t, db, func(tx storage.Tx) error {
		if err := tx.CreateStore(ctx, s1); err != nil {
			return err
		}
		return tx.CreateStore(ctx, s2)
	})
	err := db.Write(ctx, func(tx storage.Tx) error {
		return tx.CreateStore(ctx, &kopilka.Store{ID: s1.ID, TenantID: tenantID, Name: "duplicate"})
	})
	checkErr(t, "CreateStore(existing id)", err, storage.ErrConflict)

	want2 := *s2
	want2.Hours = []byte("null") // no hours given: JSON null
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetStore(ctx, tenantID, s1.ID)
		checkErr(t, "GetStore(s1)", err, nil)
		diff(t, "GetStore(s1)", s1, got)
		_, err = tx.GetStore(ctx, tenantID, kopilka.NewID("sto"))
		checkErr(t, "GetStore(unknown)", err, storage.ErrNotFound)
		list, err := tx.ListStores(ctx, tenantID)
		checkErr(t, "ListStores", err, nil)
		diff(t, "ListStores (by name)", []kopilka.Store{want2, *s1}, list)
		return nil
	})
}

// ---------------------------------------------------------------------------
// Customers.

func testCustomers(t *testing.T, db storage.DB) {
	t.Run("CreateAndGet", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		consent := time.Date(2025, 3, 1, 12, 30, 0, 123000, time.UTC)
		c := &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: tenantID, Kind: kopilka.Individual,
			Phone: "+79161234567", ExtraPhone: "+79160000000", Email: "anna@example.com", FirstName: "Анна",
			LastName: "Иванова", MiddleName: "Сергеевна", BirthDate: "1990-05-17", Gender: "female",
			AdConsent: true, AdConsentAt: &consent, AdConsentVia: "pos", Group: "vip", Tags: []string{"a", "б"},
			PurchasesTotal: 12345,
			Cards:          []kopilka.Card{{Number: "2000000000017", Kind: "electronic"}, {Number: "2000000000024"}}}
		mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCustomer(ctx, c) })
		for i, card := range c.Cards {
			if card.CustomerID != c.ID || card.Status != "active" || card.CreatedAt.IsZero() {
				t.Errorf("CreateCustomer card %d = %+v, want customer %s, status active, created", i, card, c.ID)
			}
		}
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.GetCustomer(ctx, tenantID, c.ID, false)
			checkErr(t, "GetCustomer(lock=false)", err, nil)
			diff(t, "GetCustomer(lock=false)", c, got)
			_, err = tx.GetCustomer(ctx, tenantID, kopilka.NewID("cus"), false)
			checkErr(t, "GetCustomer(unknown)", err, storage.ErrNotFound)
			return nil
		})
		mustWrite(t, db, func(tx storage.Tx) error {
			got, err := tx.GetCustomer(ctx, tenantID, c.ID, true)
			checkErr(t, "GetCustomer(lock=true)", err, nil)
			diff(t, "GetCustomer(lock=true)", c, got)
			_, err = tx.GetCustomer(ctx, tenantID, kopilka.NewID("cus"), true)
			checkErr(t, "GetCustomer(unknown, lock=true)", err, storage.ErrNotFound)
			return nil
		})
		mustWrite(t, db, func(tx storage.Tx) error {
			got, err := tx.LockCustomer(ctx, tenantID, c.ID)
			checkErr(t, "LockCustomer", err, nil)
			if err != nil {
				return nil
			}
			// Only what the ledger needs is promised: compare that.
			want := []any{c.ID, tenantID, c.Kind, c.Debt, c.PurchasesTotal}
			diff(t, "LockCustomer id, tenant, kind, debt, purchases", want, []any{got.ID, got.TenantID, got.Kind, got.Debt, got.PurchasesTotal})
			return nil
		})
		err := db.Write(ctx, func(tx storage.Tx) error {
			_, err := tx.LockCustomer(ctx, tenantID, kopilka.NewID("cus"))
			return err
		})
		checkErr(t, "LockCustomer(unknown)", err, storage.ErrNotFound)
	})

	t.Run("ByPhoneAndCard", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "+79161110000", "100", "101")
		other := newCustomer(t, db, tenantID, "+79162220000", "200")
		noPhone1 := newCustomer(t, db, tenantID, "")
		noPhone2 := newCustomer(t, db, tenantID, "") // phone absent twice is no conflict
		mustRead(t, db, func(tx storage.Tx) error {
			for _, tc := range []struct {
				name, phone, card, want string
				err                     error
			}{
				{name: "phone", phone: c.Phone, want: c.ID},
				{name: "other phone", phone: other.Phone, want: other.ID},
				{name: "unknown phone", phone: "+79163330000", err: storage.ErrNotFound},
				{name: "card", card: "100", want: c.ID},
				{name: "second card", card: "101", want: c.ID},
				{name: "other card", card: "200", want: other.ID},
				{name: "unknown card", card: "300", err: storage.ErrNotFound},
			} {
				var got string
				var err error
				if tc.phone != "" {
					got, err = tx.CustomerIDByPhone(ctx, tenantID, tc.phone)
				} else {
					got, err = tx.CustomerIDByCard(ctx, tenantID, tc.card)
				}
				checkErr(t, tc.name, err, tc.err)
				if got != tc.want {
					t.Errorf("%s: CustomerIDBy…(%s%s) = %q, want %q", tc.name, tc.phone, tc.card, got, tc.want)
				}
			}
			for _, id := range []string{noPhone1.ID, noPhone2.ID} {
				got, err := tx.GetCustomer(ctx, tenantID, id, false)
				checkErr(t, "GetCustomer(no phone)", err, nil)
				if err == nil && got.Phone != "" {
					t.Errorf("GetCustomer(no phone).Phone = %q, want empty", got.Phone)
				}
			}
			return nil
		})
	})

	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "+79161110000", "100")
		for _, tc := range []struct {
			name  string
			phone string
			cards []string
		}{
			{"DuplicatePhone", c.Phone, []string{"new-1"}},
			{"DuplicateCard", "+79169990000", []string{"new-2", "100"}},
		} {
			dup := &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: tenantID, Kind: kopilka.Individual, Phone: tc.phone}
			for _, n := range tc.cards {
				dup.Cards = append(dup.Cards, kopilka.Card{Number: n})
			}
			err := db.Write(ctx, func(tx storage.Tx) error { return tx.CreateCustomer(ctx, dup) })
			checkErr(t, "CreateCustomer("+tc.name+")", err, storage.ErrConflict)
			mustRead(t, db, func(tx storage.Tx) error {
				_, err := tx.GetCustomer(ctx, tenantID, dup.ID, false)
				checkErr(t, tc.name+": GetCustomer(refused)", err, storage.ErrNotFound)
				_, err = tx.CustomerIDByCard(ctx, tenantID, tc.cards[0])
				checkErr(t, tc.name+": CustomerIDByCard(card of refused)", err, storage.ErrNotFound)
				return nil
			})
		}
		err := db.Write(ctx, func(tx storage.Tx) error {
			return tx.CreateCard(ctx, tenantID, &kopilka.Card{Number: "100", CustomerID: c.ID})
		})
		checkErr(t, "CreateCard(taken number)", err, storage.ErrConflict)
		card := &kopilka.Card{Number: "102", CustomerID: c.ID, Kind: "electronic", Status: "blocked"}
		mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCard(ctx, tenantID, card) })
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.GetCustomer(ctx, tenantID, c.ID, false)
			checkErr(t, "GetCustomer", err, nil)
			if err == nil {
				diff(t, "GetCustomer cards", append(slices.Clone(c.Cards), *card), got.Cards)
			}
			return nil
		})
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c1 := newCustomer(t, db, tenantID, "+79161110000")
		c2 := newCustomer(t, db, tenantID, "+79162220000", "200")

		taken := *c2
		taken.Phone = c1.Phone
		err := db.Write(ctx, func(tx storage.Tx) error { return tx.UpdateCustomer(ctx, &taken) })
		checkErr(t, "UpdateCustomer(taken phone)", err, storage.ErrConflict)
		unknown := *c2
		unknown.ID = kopilka.NewID("cus")
		err = db.Write(ctx, func(tx storage.Tx) error { return tx.UpdateCustomer(ctx, &unknown) })
		checkErr(t, "UpdateCustomer(unknown)", err, storage.ErrNotFound)

		upd := *c2
		upd.Phone, upd.Email, upd.FirstName, upd.Tags = "+79163330000", "b@example.com", "Борис", []string{"new"}
		upd.AdConsent, upd.AdConsentAt, upd.AdConsentVia = true, ptr(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)), "web"
		upd.PurchasesTotal, upd.Debt = 999, 999 // not profile fields: must not be written
		mustWrite(t, db, func(tx storage.Tx) error { return tx.UpdateCustomer(ctx, &upd) })
		want := upd
		want.PurchasesTotal, want.Debt = c2.PurchasesTotal, c2.Debt
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.GetCustomer(ctx, tenantID, c2.ID, false)
			checkErr(t, "GetCustomer(updated)", err, nil)
			diff(t, "GetCustomer(updated)", &want, got)
			id, err := tx.CustomerIDByPhone(ctx, tenantID, upd.Phone)
			if err != nil || id != c2.ID {
				t.Errorf("CustomerIDByPhone(new phone) = %q, %v, want %q", id, err, c2.ID)
			}
			_, err = tx.CustomerIDByPhone(ctx, tenantID, c2.Phone)
			checkErr(t, "CustomerIDByPhone(old phone)", err, storage.ErrNotFound)
			got1, err := tx.GetCustomer(ctx, tenantID, c1.ID, false)
			checkErr(t, "GetCustomer(c1)", err, nil)
			diff(t, "GetCustomer(c1) after refused update", c1, got1, cmpopts.EquateEmpty())
			return nil
		})
	})

	t.Run("SetBalances", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "+79161110000")
		mustWrite(t, db, func(tx storage.Tx) error { return tx.SetCustomerBalances(ctx, tenantID, c.ID, 250, 99900) })
		for _, tc := range []struct {
			name        string
			id          string
			debt, total int64
			want        error
		}{
			{"NegativeDebt", c.ID, -1, 5, storage.ErrInsufficient},
			{"Unknown", kopilka.NewID("cus"), 1, 1, storage.ErrNotFound},
		} {
			err := db.Write(ctx, func(tx storage.Tx) error {
				return tx.SetCustomerBalances(ctx, tenantID, tc.id, tc.debt, tc.total)
			})
			checkErr(t, "SetCustomerBalances("+tc.name+")", err, tc.want)
		}
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.GetCustomer(ctx, tenantID, c.ID, false)
			checkErr(t, "GetCustomer", err, nil)
			if err == nil && (got.Debt != 250 || got.PurchasesTotal != 99900) {
				t.Errorf("GetCustomer debt, purchases = %d, %d, want 250, 99900", got.Debt, got.PurchasesTotal)
			}
			return nil
		})
	})
}

// testCustomerLock proves GetCustomer(lock) and LockCustomer serialise
// read-modify-write of one customer: concurrent increments lose none.
func testCustomerLock(t *testing.T, db storage.DB) {
	for _, tc := range []struct {
		name string
		lock func(ctx context.Context, tx storage.Tx, tenantID, id string) (*kopilka.Customer, error)
	}{
		{"GetCustomer", func(ctx context.Context, tx storage.Tx, tenantID, id string) (*kopilka.Customer, error) {
			return tx.GetCustomer(ctx, tenantID, id, true)
		}},
		{"LockCustomer", func(ctx context.Context, tx storage.Tx, tenantID, id string) (*kopilka.Customer, error) {
			return tx.LockCustomer(ctx, tenantID, id)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			tenantID := newTenant(t, db)
			c := newCustomer(t, db, tenantID, "+79161110000")
			const n = 24
			start := make(chan struct{})
			errs := make(chan error, n)
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					<-start
					errs <- db.Write(ctx, func(tx storage.Tx) error {
						got, err := tc.lock(ctx, tx, tenantID, c.ID)
						if err != nil {
							return err
						}
						return tx.SetCustomerBalances(ctx, tenantID, c.ID, got.Debt+1, got.PurchasesTotal+100)
					})
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				checkErr(t, "Write(locked increment)", err, nil)
			}
			mustRead(t, db, func(tx storage.Tx) error {
				got, err := tx.GetCustomer(ctx, tenantID, c.ID, false)
				checkErr(t, "GetCustomer", err, nil)
				if err == nil && (got.Debt != n || got.PurchasesTotal != n*100) {
					t.Errorf("after %d locked increments debt, purchases = %d, %d, want %d, %d", n, got.Debt, got.PurchasesTotal, n, n*100)
				}
				return nil
			})
		})
	}
}

func testCustomerChanges(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	c := newCustomer(t, db, tenantID, "+79161110000")
	other := newCustomer(t, db, tenantID, "+79162220000")
	var want []kopilka.CustomerChange // oldest first, ids unknown yet
	for batch, fields := range [][]string{{"f1", "f2", "f3"}, {"f4", "f5"}} {
		mustWrite(t, db, func(tx storage.Tx) error {
			var chs []kopilka.CustomerChange
			for _, f := range fields {
				ch := kopilka.CustomerChange{CustomerID: c.ID, Field: f, OldValue: "old " + f, NewValue: "new " + f,
					Actor: fmt.Sprintf("key_%d", batch), ChangedAt: tx.Now()}
				chs = append(chs, ch)
				want = append(want, ch)
			}
			chs = append(chs, kopilka.CustomerChange{CustomerID: other.ID, Field: "x", Actor: "cli"})
			return tx.AddCustomerChanges(ctx, tenantID, chs)
		})
	}
	slices.Reverse(want) // newest first
	mustRead(t, db, func(tx storage.Tx) error {
		all, err := tx.ListCustomerChanges(ctx, tenantID, c.ID, 0, 100)
		checkErr(t, "ListCustomerChanges(all)", err, nil)
		diff(t, "ListCustomerChanges(all)", want, all, cmpopts.IgnoreFields(kopilka.CustomerChange{}, "ID"))
		if len(all) != len(want) {
			return nil
		}
		for i := 1; i < len(all); i++ {
			if all[i].ID >= all[i-1].ID {
				t.Errorf("ListCustomerChanges ids %d then %d, want descending", all[i-1].ID, all[i].ID)
			}
		}
		var before int64
		for _, wantPage := range [][]kopilka.CustomerChange{all[:2], all[2:4], all[4:], nil} {
			page, err := tx.ListCustomerChanges(ctx, tenantID, c.ID, before, 2)
			checkErr(t, "ListCustomerChanges(page)", err, nil)
			diff(t, fmt.Sprintf("ListCustomerChanges(before=%d, limit=2)", before), wantPage, page, cmpopts.EquateEmpty())
			if len(page) > 0 {
				before = page[len(page)-1].ID
			}
		}
		return nil
	})
}

func testProgram(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	otherID := newTenant(t, db)
	get := func(id string) *kopilka.Program {
		t.Helper()
		var p *kopilka.Program
		mustRead(t, db, func(tx storage.Tx) error {
			var err error
			p, err = tx.GetProgram(ctx, id)
			return err
		})
		return p
	}
	def := kopilka.DefaultProgram()
	diff(t, "GetProgram(unset)", &def, get(tenantID))

	p1 := kopilka.DefaultProgram()
	p1.Tiers = []kopilka.Tier{
		{Name: "Base", AccrualPercent: 25000, MaxRedeemPercent: 300000},
		{Name: "Gold", Threshold: 5000000, AccrualPercent: 51234, MaxRedeemPercent: 500000},
	}
	p1.ActivationDelayDays, p1.ExpiryDays, p1.WelcomeBonus = 14, 365, 10000
	p1.ExcludedSKUs = []string{"tobacco-1"}
	p1.Verification = kopilka.Verification{Mode: "above:500", WaitSeconds: 30}
	p2 := kopilka.DefaultProgram()
	p2.Currency, p2.BirthdayBonus = "USD", 500
	for _, p := range []*kopilka.Program{&p1, &p2} {
		mustWrite(t, db, func(tx storage.Tx) error { return tx.PutProgram(ctx, tenantID, p) })
		diff(t, "GetProgram after PutProgram", p, get(tenantID))
	}
	diff(t, "GetProgram(other tenant)", &def, get(otherID))
}

// ---------------------------------------------------------------------------
// Operations.

func testOperations(t *testing.T, db storage.DB) {
	t.Run("InsertAndGet", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "")
		op := newOp(tenantID, c.ID, kopilka.OpAccrual, kopilka.StatusComplete, 1000)
		op.PurchaseID, op.ExternalID, op.Message = kopilka.NewID("pur"), "check-1", "спасибо"
		var now time.Time
		mustWrite(t, db, func(tx storage.Tx) error {
			now = tx.Now()
			return tx.InsertOperation(ctx, op, ledger.Move(ledger.Issued, ledger.Available, c.ID, 1000))
		})
		if !op.CreatedAt.Equal(now) || !op.UpdatedAt.Equal(now) {
			t.Errorf("InsertOperation times = %v, %v, want %v", op.CreatedAt, op.UpdatedAt, now)
		}
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.GetOperation(ctx, tenantID, op.ID)
			checkErr(t, "GetOperation", err, nil)
			diff(t, "GetOperation", op, got)
			_, err = tx.GetOperation(ctx, tenantID, kopilka.NewID("op"))
			checkErr(t, "GetOperation(unknown)", err, storage.ErrNotFound)
			return nil
		})

		bad := newOp(tenantID, c.ID, kopilka.OpAdjustment, kopilka.StatusComplete, 100)
		err := db.Write(ctx, func(tx storage.Tx) error {
			return tx.InsertOperation(ctx, bad, []ledger.Posting{{Account: ledger.Available, CustomerID: c.ID, Amount: 100}})
		})
		if err == nil {
			t.Errorf("InsertOperation(postings summing to 100) = nil, want an error")
		}
		mustRead(t, db, func(tx storage.Tx) error {
			_, err := tx.GetOperation(ctx, tenantID, bad.ID)
			checkErr(t, "GetOperation(refused unbalanced)", err, storage.ErrNotFound)
			return nil
		})
	})

	t.Run("ExternalID", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID, otherTenant := newTenant(t, db), newTenant(t, db)
		c := newCustomer(t, db, tenantID, "")
		oc := newCustomer(t, db, otherTenant, "")
		mk := func(tenant, cus string, typ kopilka.OpType, ext string) *kopilka.Operation {
			op := newOp(tenant, cus, typ, kopilka.StatusComplete, 0)
			op.ExternalID = ext
			return op
		}
		first := mk(tenantID, c.ID, kopilka.OpAccrual, "ext-1")
		refund := mk(tenantID, c.ID, kopilka.OpRefund, "ext-1")
		foreign := mk(otherTenant, oc.ID, kopilka.OpAccrual, "ext-1")
		for _, tc := range []struct {
			name string
			op   *kopilka.Operation
			want error
		}{
			{"First", first, nil},
			{"SameTypeSameKey", mk(tenantID, c.ID, kopilka.OpAccrual, "ext-1"), storage.ErrConflict},
			{"OtherType", refund, nil},
			{"OtherTenant", foreign, nil},
			{"NoExternalID1", mk(tenantID, c.ID, kopilka.OpAccrual, ""), nil},
			{"NoExternalID2", mk(tenantID, c.ID, kopilka.OpAccrual, ""), nil},
		} {
			err := db.Write(ctx, func(tx storage.Tx) error { return tx.InsertOperation(ctx, tc.op, nil) })
			checkErr(t, "InsertOperation("+tc.name+")", err, tc.want)
		}
		mustRead(t, db, func(tx storage.Tx) error {
			for _, tc := range []struct {
				name   string
				tenant string
				typ    kopilka.OpType
				want   *kopilka.Operation
			}{
				{"accrual", tenantID, kopilka.OpAccrual, first},
				{"refund", tenantID, kopilka.OpRefund, refund},
				{"other tenant", otherTenant, kopilka.OpAccrual, foreign},
				{"no such type", tenantID, kopilka.OpRedemption, nil},
			} {
				got, err := tx.OperationByExternalID(ctx, tc.tenant, tc.typ, "ext-1")
				if tc.want == nil {
					checkErr(t, "OperationByExternalID("+tc.name+")", err, storage.ErrNotFound)
					continue
				}
				checkErr(t, "OperationByExternalID("+tc.name+")", err, nil)
				diff(t, "OperationByExternalID("+tc.name+")", tc.want, got)
			}
			return nil
		})
	})

	t.Run("Finish", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "")
		hold := ledger.Move(ledger.Available, ledger.Held, c.ID, 300)
		post := ledger.Move(ledger.Held, ledger.Redeemed, c.ID, 300)
		void := ledger.Move(ledger.Held, ledger.Available, c.ID, 300)
		posted := newOp(tenantID, c.ID, kopilka.OpRedemption, kopilka.StatusPending, -300)
		voided := newOp(tenantID, c.ID, kopilka.OpRedemption, kopilka.StatusPending, -300)
		kept := newOp(tenantID, c.ID, kopilka.OpRedemption, kopilka.StatusPending, -300)
		complete := newOp(tenantID, c.ID, kopilka.OpAdjustment, kopilka.StatusComplete, 300)
		mustWrite(t, db, func(tx storage.Tx) error {
			for _, op := range []*kopilka.Operation{posted, voided, kept} {
				if err := tx.InsertOperation(ctx, op, hold); err != nil {
					return err
				}
			}
			return tx.InsertOperation(ctx, complete, ledger.Move(ledger.Issued, ledger.Available, c.ID, 300))
		})
		finishedAt := map[string]time.Time{}
		for _, tc := range []struct {
			name string
			op   *kopilka.Operation
			to   kopilka.OpStatus
			note string
			ps   []ledger.Posting
			want error
		}{
			{"Post", posted, kopilka.StatusComplete, "; 1.00 of them repaid the debt", post, nil},
			{"PostAgain", posted, kopilka.StatusComplete, "; again", post, storage.ErrConflict},
			{"VoidPosted", posted, kopilka.StatusVoided, "", void, storage.ErrConflict},
			{"Void", voided, kopilka.StatusVoided, "", void, nil},
			{"PostVoided", voided, kopilka.StatusComplete, "", post, storage.ErrConflict},
			{"Complete", complete, kopilka.StatusVoided, "", nil, storage.ErrConflict},
			{"Unknown", newOp(tenantID, c.ID, kopilka.OpRedemption, kopilka.StatusPending, 0), kopilka.StatusComplete, "", nil, storage.ErrConflict},
		} {
			err := db.Write(ctx, func(tx storage.Tx) error {
				finishedAt[tc.op.ID] = tx.Now()
				return tx.FinishOperation(ctx, tenantID, tc.op.ID, tc.to, tc.note, tc.ps)
			})
			checkErr(t, "FinishOperation("+tc.name+")", err, tc.want)
			if err == nil {
				tc.op.Status, tc.op.UpdatedAt = tc.to, finishedAt[tc.op.ID]
				tc.op.Message += tc.note
			}
		}
		err := db.Write(ctx, func(tx storage.Tx) error {
			return tx.FinishOperation(ctx, tenantID, kept.ID, kopilka.StatusComplete, "", post[:1])
		})
		if err == nil {
			t.Errorf("FinishOperation(unbalanced postings) = nil, want an error")
		}
		mustRead(t, db, func(tx storage.Tx) error {
			for _, op := range []*kopilka.Operation{posted, voided, kept, complete} {
				got, err := tx.GetOperation(ctx, tenantID, op.ID)
				checkErr(t, "GetOperation", err, nil)
				diff(t, "GetOperation after FinishOperation", op, got)
			}
			sys, err := tx.SystemBalances(ctx, tenantID)
			checkErr(t, "SystemBalances", err, nil)
			diff(t, "SystemBalances", map[ledger.Account]int64{ledger.Issued: -300, ledger.Redeemed: 300}, sys)
			f, err := tx.VerifyFacts(ctx, tenantID)
			checkErr(t, "VerifyFacts", err, nil)
			// 3 holds of 300, one posted, one voided back, one still held.
			diff(t, "VerifyFacts customer sums", map[string]ledger.AccountSums{c.ID: {Available: 300 - 900 + 300, Held: 300}}, f.Customers)
			return nil
		})
	})

	t.Run("InsertCredit", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "")
		credit := func(amount, remaining int64, ext string) (*kopilka.Operation, *kopilka.Lot) {
			op := newOp(tenantID, c.ID, kopilka.OpAccrual, kopilka.StatusComplete, amount)
			op.ExternalID = ext
			exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			lot := &kopilka.Lot{ID: kopilka.NewID("lot"), TenantID: tenantID, CustomerID: c.ID, OperationID: op.ID,
				Amount: amount, Remaining: remaining, State: kopilka.LotActive,
				ActivatesAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ExpiresAt: &exp}
			return op, lot
		}
		op, lot := credit(700, 650, "ext-1")
		mustWrite(t, db, func(tx storage.Tx) error {
			return tx.InsertCredit(ctx, op, ledger.Move(ledger.Issued, ledger.Available, c.ID, 700), lot)
		})
		for _, tc := range []struct {
			name              string
			amount, remaining int64
			ext               string
			ps                func(amount int64) []ledger.Posting
			want              error // nil: any error
		}{
			{"TakenExternalID", 100, 100, "ext-1", func(a int64) []ledger.Posting { return ledger.Move(ledger.Issued, ledger.Available, c.ID, a) }, storage.ErrConflict},
			{"RemainingAboveAmount", 100, 101, "", func(a int64) []ledger.Posting { return ledger.Move(ledger.Issued, ledger.Available, c.ID, a) }, storage.ErrInsufficient},
			{"Unbalanced", 100, 100, "", func(a int64) []ledger.Posting { return ledger.Move(ledger.Issued, ledger.Available, c.ID, a)[1:] }, nil},
		} {
			bad, badLot := credit(tc.amount, tc.remaining, tc.ext)
			err := db.Write(ctx, func(tx storage.Tx) error { return tx.InsertCredit(ctx, bad, tc.ps(tc.amount), badLot) })
			if tc.want == nil && err == nil {
				t.Errorf("InsertCredit(%s) = nil, want an error", tc.name)
			} else if tc.want != nil {
				checkErr(t, "InsertCredit("+tc.name+")", err, tc.want)
			}
			mustRead(t, db, func(tx storage.Tx) error {
				_, err := tx.GetOperation(ctx, tenantID, bad.ID)
				checkErr(t, "GetOperation(refused "+tc.name+")", err, storage.ErrNotFound)
				_, err = tx.GetLot(ctx, tenantID, badLot.ID)
				checkErr(t, "GetLot(refused "+tc.name+")", err, storage.ErrNotFound)
				return nil
			})
		}
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.GetOperation(ctx, tenantID, op.ID)
			checkErr(t, "GetOperation(credit)", err, nil)
			diff(t, "GetOperation(credit)", op, got)
			gotLot, err := tx.GetLot(ctx, tenantID, lot.ID)
			checkErr(t, "GetLot(credit)", err, nil)
			if !lot.CreatedAt.Equal(op.CreatedAt) {
				t.Errorf("InsertCredit lot CreatedAt = %v, want the transaction's %v", lot.CreatedAt, op.CreatedAt)
			}
			diff(t, "GetLot(credit)", lot, gotLot)
			f, err := tx.VerifyFacts(ctx, tenantID)
			checkErr(t, "VerifyFacts", err, nil)
			diff(t, "VerifyFacts customer sums", map[string]ledger.AccountSums{c.ID: {Available: 700}}, f.Customers)
			return nil
		})
	})

	t.Run("AddPostings", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "")
		op := newOp(tenantID, c.ID, kopilka.OpAccrual, kopilka.StatusComplete, 500)
		activate := ledger.Move(ledger.Pending, ledger.Available, c.ID, 500)
		mustWrite(t, db, func(tx storage.Tx) error {
			return tx.InsertOperation(ctx, op, ledger.Move(ledger.Issued, ledger.Pending, c.ID, 500))
		})
		for _, tc := range []struct {
			name string
			ps   []ledger.Posting
			want error
		}{
			{"Activate", activate, nil},
			{"SamePhaseAgain", activate, storage.ErrConflict},
		} {
			err := db.Write(ctx, func(tx storage.Tx) error {
				return tx.AddPostings(ctx, tenantID, op.ID, storage.PhaseActivate, tc.ps)
			})
			checkErr(t, "AddPostings("+tc.name+")", err, tc.want)
		}
		err := db.Write(ctx, func(tx storage.Tx) error {
			return tx.AddPostings(ctx, tenantID, op.ID, storage.PhaseActivate+10, activate[1:])
		})
		if err == nil {
			t.Errorf("AddPostings(unbalanced) = nil, want an error")
		}
		mustRead(t, db, func(tx storage.Tx) error {
			f, err := tx.VerifyFacts(ctx, tenantID)
			checkErr(t, "VerifyFacts", err, nil)
			diff(t, "VerifyFacts customer sums", map[string]ledger.AccountSums{c.ID: {Available: 500}}, f.Customers)
			return nil
		})
	})
}

// testListOperations pages a history whose operations share created_at
// within a transaction and differ between transactions.
func testListOperations(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	c := newCustomer(t, db, tenantID, "")
	other := newCustomer(t, db, tenantID, "")
	var want []kopilka.Operation
	for _, n := range []int{3, 3, 1} {
		mustWrite(t, db, func(tx storage.Tx) error {
			for i := range n {
				op := newOp(tenantID, c.ID, kopilka.OpAdjustment, kopilka.StatusComplete, int64(100*(i+1)))
				if err := tx.InsertOperation(ctx, op, ledger.Move(ledger.Issued, ledger.Available, c.ID, op.Amount)); err != nil {
					return err
				}
				want = append(want, *op)
			}
			return tx.InsertOperation(ctx, newOp(tenantID, other.ID, kopilka.OpAdjustment, kopilka.StatusComplete, 0), nil)
		})
	}
	sort.Slice(want, func(i, j int) bool {
		if !want[i].CreatedAt.Equal(want[j].CreatedAt) {
			return want[i].CreatedAt.After(want[j].CreatedAt)
		}
		return want[i].ID > want[j].ID
	})
	if !want[0].CreatedAt.After(want[len(want)-1].CreatedAt) {
		t.Fatalf("operations of three transactions all created at %v: the database clock must move forward", want[0].CreatedAt)
	}
	mustRead(t, db, func(tx storage.Tx) error {
		all, err := tx.ListOperations(ctx, tenantID, c.ID, "", 100)
		checkErr(t, "ListOperations(all)", err, nil)
		diff(t, "ListOperations(all) newest first", want, all)
		var got []kopilka.Operation
		var sizes []int
		after := ""
		for range len(want) + 2 {
			page, err := tx.ListOperations(ctx, tenantID, c.ID, after, 2)
			checkErr(t, "ListOperations(page)", err, nil)
			sizes = append(sizes, len(page))
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].ID
		}
		diff(t, "ListOperations pages of 2", want, got)
		diff(t, "ListOperations page sizes", []int{2, 2, 2, 1, 0}, sizes)
		return nil
	})
}

// ---------------------------------------------------------------------------
// Lots, holds, balances.

func testLots(t *testing.T, db storage.DB) {
	t.Run("InsertAndList", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "")
		other := newCustomer(t, db, tenantID, "")
		var now time.Time
		lots := map[string]*kopilka.Lot{}
		mustWrite(t, db, func(tx storage.Tx) error {
			now = tx.Now()
			exp := now.Add(30 * 24 * time.Hour)
			for _, s := range []struct {
				name string
				cus  string
				spec lotSpec
			}{
				{"active", c.ID, lotSpec{1000, 700, kopilka.LotActive, now.Add(-time.Hour), &exp}},
				{"inactive", c.ID, lotSpec{500, 500, kopilka.LotInactive, now.Add(time.Hour), nil}},
				{"pending", c.ID, lotSpec{200, 200, kopilka.LotPending, now, nil}},
				{"voided", c.ID, lotSpec{300, 300, kopilka.LotVoided, now, nil}},
				{"spent", c.ID, lotSpec{100, 0, kopilka.LotActive, now, nil}},
				{"other", other.ID, lotSpec{900, 900, kopilka.LotActive, now, nil}},
			} {
				_, l, err := addLot(tx, t, tenantID, s.cus, s.spec)
				if err != nil {
					return err
				}
				lots[s.name] = l
			}
			return nil
		})
		for _, l := range lots {
			if !l.CreatedAt.Equal(now) {
				t.Errorf("InsertLot CreatedAt = %v, want %v", l.CreatedAt, now)
			}
		}
		byID := func(a, b kopilka.Lot) bool { return a.ID < b.ID }
		mustRead(t, db, func(tx storage.Tx) error {
			for _, tc := range []struct {
				name   string
				states []string
				want   []string
			}{
				{"active (spent lot has no points left)", []string{kopilka.LotActive}, []string{"active"}},
				{"inactive+pending", []string{kopilka.LotInactive, kopilka.LotPending}, []string{"inactive", "pending"}},
				{"voided", []string{kopilka.LotVoided}, []string{"voided"}},
			} {
				var want []kopilka.Lot
				for _, n := range tc.want {
					want = append(want, *lots[n])
				}
				got, err := tx.CustomerLots(ctx, tenantID, c.ID, tc.states...)
				checkErr(t, "CustomerLots("+tc.name+")", err, nil)
				diff(t, "CustomerLots("+tc.name+")", want, got, cmpopts.SortSlices(byID))
			}
			for name, l := range lots {
				got, err := tx.GetLot(ctx, tenantID, l.ID)
				checkErr(t, "GetLot("+name+")", err, nil)
				diff(t, "GetLot("+name+")", l, got)
			}
			_, err := tx.GetLot(ctx, tenantID, kopilka.NewID("lot"))
			checkErr(t, "GetLot(unknown)", err, storage.ErrNotFound)
			return nil
		})
		for _, tc := range []struct {
			name string
			lot  kopilka.Lot
			want error
		}{
			{"DuplicateID", *lots["active"], storage.ErrConflict},
			{"RemainingAboveAmount", kopilka.Lot{ID: kopilka.NewID("lot"), TenantID: tenantID, CustomerID: c.ID,
				Amount: 10, Remaining: 11, State: kopilka.LotActive, ActivatesAt: now}, storage.ErrInsufficient},
		} {
			err := db.Write(ctx, func(tx storage.Tx) error { return tx.InsertLot(ctx, &tc.lot) })
			checkErr(t, "InsertLot("+tc.name+")", err, tc.want)
		}
	})

	t.Run("AddRemaining", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "")
		var lot *kopilka.Lot
		mustWrite(t, db, func(tx storage.Tx) error {
			var err error
			_, lot, err = addLot(tx, t, tenantID, c.ID, lotSpec{100, 60, kopilka.LotActive, tx.Now(), nil})
			return err
		})
		for _, tc := range []struct {
			name  string
			delta int64
			want  error
			left  int64 // remaining afterwards
		}{
			{"BelowZero", -61, storage.ErrInsufficient, 60},
			{"AboveAmount", 41, storage.ErrInsufficient, 60},
			{"ToZero", -60, nil, 0},
			{"BelowZeroFromZero", -1, storage.ErrInsufficient, 0},
			{"ToAmount", 100, nil, 100},
			{"AboveAmountFromFull", 1, storage.ErrInsufficient, 100},
			{"Spend", -30, nil, 70},
		} {
			err := db.Write(ctx, func(tx storage.Tx) error { return tx.AddLotRemaining(ctx, tenantID, lot.ID, tc.delta) })
			checkErr(t, fmt.Sprintf("AddLotRemaining(%s, %d)", tc.name, tc.delta), err, tc.want)
			if got := getLot(t, db, tenantID, lot.ID).Remaining; got != tc.left {
				t.Errorf("after AddLotRemaining(%s, %d) remaining = %d, want %d", tc.name, tc.delta, got, tc.left)
			}
		}
		err := db.Write(ctx, func(tx storage.Tx) error { return tx.AddLotRemaining(ctx, tenantID, kopilka.NewID("lot"), 1) })
		checkErr(t, "AddLotRemaining(unknown)", err, storage.ErrNotFound)
	})

	t.Run("SetState", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "")
		var lot *kopilka.Lot
		mustWrite(t, db, func(tx storage.Tx) error {
			var err error
			_, lot, err = addLot(tx, t, tenantID, c.ID, lotSpec{100, 100, kopilka.LotInactive, tx.Now(), nil})
			return err
		})
		mustWrite(t, db, func(tx storage.Tx) error { return tx.SetLotState(ctx, tenantID, lot.ID, kopilka.LotActive) })
		err := db.Write(ctx, func(tx storage.Tx) error {
			return tx.SetLotState(ctx, tenantID, kopilka.NewID("lot"), kopilka.LotActive)
		})
		checkErr(t, "SetLotState(unknown)", err, storage.ErrNotFound)
		want := *lot
		want.State = kopilka.LotActive
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.CustomerLots(ctx, tenantID, c.ID, kopilka.LotActive)
			checkErr(t, "CustomerLots(active)", err, nil)
			diff(t, "CustomerLots(active) after SetLotState", []kopilka.Lot{want}, got)
			return nil
		})
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		tenantID := newTenant(t, db)
		c := newCustomer(t, db, tenantID, "")
		var lot *kopilka.Lot
		mustWrite(t, db, func(tx storage.Tx) error {
			var err error
			_, lot, err = addLot(tx, t, tenantID, c.ID, lotSpec{100, 100, kopilka.LotPending, tx.Now(), nil})
			return err
		})
		upd := *lot
		exp := lot.ActivatesAt.Add(365 * 24 * time.Hour)
		upd.State, upd.Remaining, upd.ActivatesAt, upd.ExpiresAt = kopilka.LotInactive, 80, lot.ActivatesAt.Add(14*24*time.Hour), &exp
		upd.Amount, upd.CustomerID = 5, "cus_other" // not written by UpdateLot
		mustWrite(t, db, func(tx storage.Tx) error { return tx.UpdateLot(ctx, &upd) })
		want := upd
		want.Amount, want.CustomerID = lot.Amount, lot.CustomerID
		diff(t, "GetLot after UpdateLot", &want, getLot(t, db, tenantID, lot.ID))

		over := want
		over.Remaining = over.Amount + 1
		unknown := want
		unknown.ID = kopilka.NewID("lot")
		for _, tc := range []struct {
			name string
			lot  *kopilka.Lot
			err  error
		}{{"RemainingAboveAmount", &over, storage.ErrInsufficient}, {"Unknown", &unknown, storage.ErrNotFound}} {
			err := db.Write(ctx, func(tx storage.Tx) error { return tx.UpdateLot(ctx, tc.lot) })
			checkErr(t, "UpdateLot("+tc.name+")", err, tc.err)
		}
		diff(t, "GetLot after refused UpdateLot", &want, getLot(t, db, tenantID, lot.ID))
	})
}

func testHolds(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	c := newCustomer(t, db, tenantID, "")
	var l1, l2 *kopilka.Lot
	op1 := newOp(tenantID, c.ID, kopilka.OpRedemption, kopilka.StatusPending, -150)
	op2 := newOp(tenantID, c.ID, kopilka.OpRedemption, kopilka.StatusPending, -30)
	h := func(op *kopilka.Operation, l *kopilka.Lot, amount int64, state string) storage.Hold {
		return storage.Hold{OperationID: op.ID, LotID: l.ID, CustomerID: c.ID, Amount: amount, State: state}
	}
	mustWrite(t, db, func(tx storage.Tx) error {
		var err error
		if _, l1, err = addLot(tx, t, tenantID, c.ID, lotSpec{500, 500, kopilka.LotActive, tx.Now(), nil}); err != nil {
			return err
		}
		if _, l2, err = addLot(tx, t, tenantID, c.ID, lotSpec{500, 500, kopilka.LotActive, tx.Now(), nil}); err != nil {
			return err
		}
		for _, op := range []*kopilka.Operation{op1, op2} {
			if err := tx.InsertOperation(ctx, op, ledger.Move(ledger.Available, ledger.Held, c.ID, -op.Amount)); err != nil {
				return err
			}
		}
		for _, hd := range []storage.Hold{h(op1, l1, 100, storage.HoldHeld), h(op1, l2, 50, storage.HoldHeld), h(op2, l1, 30, storage.HoldHeld)} {
			if err := tx.InsertHold(ctx, tenantID, &hd); err != nil {
				return err
			}
		}
		return nil
	})
	err := db.Write(ctx, func(tx storage.Tx) error {
		hd := h(op1, l1, 1, storage.HoldHeld)
		return tx.InsertHold(ctx, tenantID, &hd)
	})
	checkErr(t, "InsertHold(same operation and lot)", err, storage.ErrConflict)

	byLot := cmpopts.SortSlices(func(a, b storage.Hold) bool { return a.LotID < b.LotID })
	check := func(step string, want1, want2 []storage.Hold) {
		t.Helper()
		mustRead(t, db, func(tx storage.Tx) error {
			got1, err := tx.OperationHolds(ctx, tenantID, op1.ID)
			checkErr(t, "OperationHolds(op1)", err, nil)
			diff(t, step+": OperationHolds(op1)", want1, got1, byLot)
			got2, err := tx.OperationHolds(ctx, tenantID, op2.ID)
			checkErr(t, "OperationHolds(op2)", err, nil)
			diff(t, step+": OperationHolds(op2)", want2, got2, byLot)
			none, err := tx.OperationHolds(ctx, tenantID, kopilka.NewID("op"))
			checkErr(t, "OperationHolds(unknown)", err, nil)
			diff(t, step+": OperationHolds(unknown)", []storage.Hold(nil), none, cmpopts.EquateEmpty())
			return nil
		})
	}
	check("inserted", []storage.Hold{h(op1, l1, 100, storage.HoldHeld), h(op1, l2, 50, storage.HoldHeld)},
		[]storage.Hold{h(op2, l1, 30, storage.HoldHeld)})
	mustWrite(t, db, func(tx storage.Tx) error {
		return tx.SetHoldsState(ctx, tenantID, op1.ID, storage.HoldHeld, storage.HoldPosted)
	})
	posted := []storage.Hold{h(op1, l1, 100, storage.HoldPosted), h(op1, l2, 50, storage.HoldPosted)}
	check("posted", posted, []storage.Hold{h(op2, l1, 30, storage.HoldHeld)})
	mustWrite(t, db, func(tx storage.Tx) error {
		return tx.SetHoldsState(ctx, tenantID, op1.ID, storage.HoldHeld, storage.HoldVoided)
	})
	check("void of posted holds changes nothing", posted, []storage.Hold{h(op2, l1, 30, storage.HoldHeld)})
}

func testBalance(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	c := newCustomer(t, db, tenantID, "")
	var now time.Time
	mustWrite(t, db, func(tx storage.Tx) error {
		now = tx.Now()
		in5, in10, ago := now.Add(5*24*time.Hour), now.Add(10*24*time.Hour), now.Add(-time.Hour)
		past := now.Add(-48 * time.Hour)
		var first *kopilka.Lot
		for i, s := range []lotSpec{
			{1000, 1000, kopilka.LotActive, past, nil},  // spendable, never expires
			{500, 300, kopilka.LotActive, past, &in10},  // spendable until +10d
			{200, 200, kopilka.LotActive, past, &in5},   // spendable until +5d
			{150, 150, kopilka.LotActive, past, &in5},   // same expiry: grouped
			{400, 400, kopilka.LotActive, past, &ago},   // expired, not yet processed
			{100, 0, kopilka.LotActive, past, &in5},     // spent
			{700, 700, kopilka.LotInactive, in5, &in10}, // pending activation
			{50, 50, kopilka.LotPending, now, nil},      // pending operation
			{90, 90, kopilka.LotVoided, past, nil},      // voided
		} {
			_, l, err := addLot(tx, t, tenantID, c.ID, s)
			if err != nil {
				return err
			}
			if i == 0 {
				first = l
			}
		}
		for _, hd := range []struct {
			amount int64
			state  string
		}{{120, storage.HoldHeld}, {60, storage.HoldPosted}, {40, storage.HoldVoided}} {
			op := newOp(tenantID, c.ID, kopilka.OpRedemption, kopilka.StatusPending, -hd.amount)
			if err := tx.InsertOperation(ctx, op, nil); err != nil {
				return err
			}
			if err := tx.InsertHold(ctx, tenantID, &storage.Hold{OperationID: op.ID, LotID: first.ID, CustomerID: c.ID, Amount: hd.amount, State: hd.state}); err != nil {
				return err
			}
		}
		return nil
	})
	other := newCustomer(t, db, tenantID, "")
	for _, tc := range []struct {
		name     string
		customer string
		at       time.Time
		want     *kopilka.Balance
	}{
		{"Now", c.ID, now, &kopilka.Balance{Available: 1000 + 300 + 200 + 150, Pending: 700 + 50, Reserved: 120,
			Expiring: []kopilka.Expiring{{Amount: 350, ExpiresAt: now.Add(5 * 24 * time.Hour)}, {Amount: 300, ExpiresAt: now.Add(10 * 24 * time.Hour)}}}},
		{"AfterFirstExpiry", c.ID, now.Add(6 * 24 * time.Hour), &kopilka.Balance{Available: 1000 + 300, Pending: 750, Reserved: 120,
			Expiring: []kopilka.Expiring{{Amount: 300, ExpiresAt: now.Add(10 * 24 * time.Hour)}}}},
		{"OtherCustomer", other.ID, now, &kopilka.Balance{Expiring: []kopilka.Expiring{}}},
	} {
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.Balance(ctx, tenantID, tc.customer, tc.at)
			checkErr(t, "Balance("+tc.name+")", err, nil)
			diff(t, "Balance("+tc.name+")", tc.want, got)
			sum, err := tx.SpendableSum(ctx, tenantID, tc.customer, tc.at)
			checkErr(t, "SpendableSum("+tc.name+")", err, nil)
			if sum != tc.want.Available {
				t.Errorf("SpendableSum(%s) = %d, want %d", tc.name, sum, tc.want.Available)
			}
			return nil
		})
	}
}

func testDueCustomers(t *testing.T, db storage.DB) {
	ctx := t.Context()
	t1, t2 := newTenant(t, db), newTenant(t, db)
	activate := newCustomer(t, db, t1, "")
	expire := newCustomer(t, db, t2, "")
	both := newCustomer(t, db, t1, "")
	neither := newCustomer(t, db, t1, "")
	var now time.Time
	mustWrite(t, db, func(tx storage.Tx) error {
		now = tx.Now()
		past, future := now.Add(-time.Hour), now.Add(time.Hour)
		for _, s := range []struct {
			tenant, cus string
			spec        lotSpec
		}{
			{t1, activate.ID, lotSpec{100, 100, kopilka.LotInactive, now, nil}}, // activation time reached exactly
			{t2, expire.ID, lotSpec{100, 40, kopilka.LotActive, past, &now}},    // expiry reached exactly
			{t1, both.ID, lotSpec{100, 100, kopilka.LotInactive, past, nil}},
			{t1, both.ID, lotSpec{100, 100, kopilka.LotActive, past, &past}},
			// Several lots due on each count: still one customer.
			{t1, both.ID, lotSpec{100, 100, kopilka.LotInactive, past, nil}},
			{t1, both.ID, lotSpec{100, 100, kopilka.LotActive, past, &past}},
			{t1, both.ID, lotSpec{100, 100, kopilka.LotActive, past, &past}},
			{t1, both.ID, lotSpec{100, 100, kopilka.LotActive, past, &past}},
			{t1, neither.ID, lotSpec{100, 100, kopilka.LotInactive, future, nil}}, // not yet
			{t1, neither.ID, lotSpec{100, 100, kopilka.LotActive, past, &future}}, // not yet
			{t1, neither.ID, lotSpec{100, 0, kopilka.LotActive, past, &past}},     // expired but empty
			{t1, neither.ID, lotSpec{100, 100, kopilka.LotVoided, past, &past}},   // voided
			{t1, neither.ID, lotSpec{100, 100, kopilka.LotPending, past, &past}},  // its operation pending
			{t1, neither.ID, lotSpec{100, 100, kopilka.LotActive, past, nil}},     // never expires
		} {
			if _, _, err := addLot(tx, t, s.tenant, s.cus, s.spec); err != nil {
				return err
			}
		}
		return nil
	})
	sorted := cmpopts.SortSlices(func(a, b storage.TenantCustomer) bool { return a.CustomerID < b.CustomerID })
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.DueCustomers(ctx, now, 100)
		checkErr(t, "DueCustomers", err, nil)
		want := []storage.TenantCustomer{{TenantID: t1, CustomerID: activate.ID}, {TenantID: t2, CustomerID: expire.ID}, {TenantID: t1, CustomerID: both.ID}}
		diff(t, "DueCustomers(now)", want, got, sorted)
		got, err = tx.DueCustomers(ctx, now.Add(-2*time.Hour), 100)
		checkErr(t, "DueCustomers(earlier)", err, nil)
		diff(t, "DueCustomers(2h earlier)", []storage.TenantCustomer(nil), got, cmpopts.EquateEmpty())
		for limit := 1; limit <= 3; limit++ { // distinct customers, though one has several lots due on both counts
			got, err = tx.DueCustomers(ctx, now, limit)
			checkErr(t, fmt.Sprintf("DueCustomers(limit %d)", limit), err, nil)
			if len(got) != limit || len(got) != len(slices.Compact(slices.SortedFunc(slices.Values(got),
				func(a, b storage.TenantCustomer) int { return strings.Compare(a.CustomerID, b.CustomerID) }))) {
				t.Errorf("DueCustomers(limit %d) = %v, want %d distinct customers", limit, got, limit)
			}
		}
		return nil
	})
}

// newPurchase returns a purchase with every field set, not yet stored.
func newPurchase(tenantID, customerID, ext string) *kopilka.Purchase {
	return &kopilka.Purchase{ID: kopilka.NewID("pur"), TenantID: tenantID, ExternalID: ext, CustomerID: customerID,
		StoreID: kopilka.NewID("sto"), Status: kopilka.PurchasePending, Tier: "Gold", Total: 150000, Eligible: 140000,
		MaxRedeem: 42000, MaxRedeemPercent: 300000, Available: 50000, Redeem: 10000, ToPay: 140000, Accrue: 7000,
		Lines: []kopilka.PurchaseLine{
			{SKU: "A-1", Name: "Кофе", Category: "drinks", Quantity: 1500, Price: 100000, Amount: 150000, Redeem: 10000, ToPay: 140000, Accrue: 7000},
			{SKU: "T-1", Name: "Табак", Quantity: 1000, Excluded: true},
		},
		RedeemOpID: kopilka.NewID("op"), RequestHash: digest(ext)}
}

func testPurchases(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID, otherTenant := newTenant(t, db), newTenant(t, db)
	c := newCustomer(t, db, tenantID, "")
	p := newPurchase(tenantID, c.ID, "check-1")
	foreign := newPurchase(otherTenant, c.ID, "check-1") // same external id, other tenant
	for _, pp := range []*kopilka.Purchase{p, foreign} {
		mustWrite(t, db, func(tx storage.Tx) error { return tx.CreatePurchase(ctx, pp) })
	}
	err := db.Write(ctx, func(tx storage.Tx) error { return tx.CreatePurchase(ctx, newPurchase(tenantID, c.ID, "check-1")) })
	checkErr(t, "CreatePurchase(taken external id)", err, storage.ErrConflict)

	get := func(step string, want *kopilka.Purchase) {
		t.Helper()
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.GetPurchase(ctx, want.TenantID, want.ID)
			checkErr(t, step+": GetPurchase", err, nil)
			diff(t, step+": GetPurchase", want, got)
			got, err = tx.PurchaseByExternalID(ctx, want.TenantID, want.ExternalID)
			checkErr(t, step+": PurchaseByExternalID", err, nil)
			diff(t, step+": PurchaseByExternalID", want, got)
			return nil
		})
	}
	get("created", p)
	get("other tenant", foreign)
	mustRead(t, db, func(tx storage.Tx) error {
		_, err := tx.GetPurchase(ctx, tenantID, kopilka.NewID("pur"))
		checkErr(t, "GetPurchase(unknown)", err, storage.ErrNotFound)
		_, err = tx.PurchaseByExternalID(ctx, tenantID, "check-2")
		checkErr(t, "PurchaseByExternalID(unknown)", err, storage.ErrNotFound)
		return nil
	})

	upd := *p
	upd.Lines = slices.Clone(p.Lines)
	upd.Status, upd.Lines[0].Refunded = kopilka.PurchaseComplete, 500
	upd.RedeemOpID, upd.AccrueOpID, upd.AccrueLotID = kopilka.NewID("op"), kopilka.NewID("op"), kopilka.NewID("lot")
	upd.Total, upd.Redeem, upd.ExternalID = 1, 1, "changed" // not written by UpdatePurchase
	var now time.Time
	mustWrite(t, db, func(tx storage.Tx) error {
		now = tx.Now()
		return tx.UpdatePurchase(ctx, &upd)
	})
	want := upd
	want.Total, want.Redeem, want.ExternalID, want.UpdatedAt = p.Total, p.Redeem, p.ExternalID, now
	get("updated", &want)
	unknown := upd
	unknown.ID = kopilka.NewID("pur")
	err = db.Write(ctx, func(tx storage.Tx) error { return tx.UpdatePurchase(ctx, &unknown) })
	checkErr(t, "UpdatePurchase(unknown)", err, storage.ErrNotFound)
	get("other tenant after update", foreign)
}

func testRefunds(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID, otherTenant := newTenant(t, db), newTenant(t, db)
	purchase, otherPurchase := kopilka.NewID("pur"), kopilka.NewID("pur")
	refund := func(tenant, purchaseID, ext string) *kopilka.Refund {
		return &kopilka.Refund{ID: kopilka.NewID("ref"), TenantID: tenant, PurchaseID: purchaseID, ExternalID: ext,
			Lines: []kopilka.RefundLine{{Line: 1, Quantity: 500}, {Line: 3, Quantity: 1000}}, PointsReturned: 1000,
			PointsRevoked: 700, Debt: 200, Amount: 50000, Total: 150000, RequestHash: digest(ext)}
	}
	r1, r2 := refund(tenantID, purchase, "ret-1"), refund(tenantID, purchase, "ret-2")
	other := refund(tenantID, otherPurchase, "ret-3")
	foreign := refund(otherTenant, purchase, "ret-1")
	for _, r := range []*kopilka.Refund{r1, r2, other, foreign} {
		mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateRefund(ctx, r) })
	}
	err := db.Write(ctx, func(tx storage.Tx) error { return tx.CreateRefund(ctx, refund(tenantID, otherPurchase, "ret-1")) })
	checkErr(t, "CreateRefund(taken external id)", err, storage.ErrConflict)

	mustRead(t, db, func(tx storage.Tx) error {
		for _, r := range []*kopilka.Refund{r1, r2, other, foreign} {
			got, err := tx.RefundByExternalID(ctx, r.TenantID, r.ExternalID)
			checkErr(t, "RefundByExternalID", err, nil)
			diff(t, fmt.Sprintf("RefundByExternalID(%s, %s)", r.TenantID, r.ExternalID), r, got)
		}
		_, err := tx.RefundByExternalID(ctx, tenantID, "ret-9")
		checkErr(t, "RefundByExternalID(unknown)", err, storage.ErrNotFound)
		list, err := tx.ListRefunds(ctx, tenantID, purchase)
		checkErr(t, "ListRefunds", err, nil)
		diff(t, "ListRefunds (oldest first)", []kopilka.Refund{*r1, *r2}, list)
		list, err = tx.ListRefunds(ctx, tenantID, kopilka.NewID("pur"))
		checkErr(t, "ListRefunds(unknown purchase)", err, nil)
		diff(t, "ListRefunds(unknown purchase)", []kopilka.Refund(nil), list, cmpopts.EquateEmpty())
		return nil
	})
}

func testPromotions(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	promo := func(kind string, starts time.Time, ends *time.Time) *kopilka.Promotion {
		p := &kopilka.Promotion{ID: kopilka.NewID("pro"), TenantID: tenantID, Kind: kind, Name: "Весна " + kind,
			StartsAt: starts, EndsAt: ends, SKUs: []string{"A-1"}, Categories: []string{}, StoreIDs: []string{"sto_1"},
			Tags: []string{}, Groups: []string{}, Multiplier: 20000, ExtraPercent: 5000}
		if kind == kopilka.KindOffer {
			p.Tags, p.Groups = []string{"vip"}, []string{"staff"}
		}
		return p
	}
	current := promo(kopilka.KindPromotion, t0, ptr(t0.Add(10*24*time.Hour)))
	offer := promo(kopilka.KindOffer, t0.Add(time.Hour), nil)
	ended := promo(kopilka.KindPromotion, t0.Add(-30*24*time.Hour), ptr(t0))
	mustWrite(t, db, func(tx storage.Tx) error {
		for _, p := range []*kopilka.Promotion{current, offer, ended} {
			if err := tx.CreatePromotion(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
	err := db.Write(ctx, func(tx storage.Tx) error { return tx.CreatePromotion(ctx, promo(kopilka.KindPromotion, t0, nil)) })
	checkErr(t, "CreatePromotion(new id)", err, nil)
	dup := *current
	err = db.Write(ctx, func(tx storage.Tx) error { return tx.CreatePromotion(ctx, &dup) })
	checkErr(t, "CreatePromotion(existing id)", err, storage.ErrConflict)

	mustRead(t, db, func(tx storage.Tx) error {
		for _, p := range []*kopilka.Promotion{current, offer, ended} {
			got, err := tx.GetPromotion(ctx, tenantID, p.Kind, p.ID)
			checkErr(t, "GetPromotion", err, nil)
			diff(t, "GetPromotion("+p.Kind+")", p, got)
		}
		_, err := tx.GetPromotion(ctx, tenantID, kopilka.KindOffer, current.ID)
		checkErr(t, "GetPromotion(other kind)", err, storage.ErrNotFound)
		_, err = tx.GetPromotion(ctx, tenantID, kopilka.KindPromotion, kopilka.NewID("pro"))
		checkErr(t, "GetPromotion(unknown)", err, storage.ErrNotFound)
		ids := func(ps []kopilka.Promotion) []string {
			var out []string
			for _, p := range ps {
				out = append(out, p.ID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			kind string
			at   time.Time
			want []*kopilka.Promotion
		}{
			{"AllAtStart (ended exactly then excluded)", "", t0, []*kopilka.Promotion{current, offer}},
			{"OffersAtStart", kopilka.KindOffer, t0, []*kopilka.Promotion{offer}},
			{"AllBeforeEnd", "", t0.Add(-time.Microsecond), []*kopilka.Promotion{ended, current, offer}},
			{"AllAfterCurrentEnded", "", t0.Add(11 * 24 * time.Hour), []*kopilka.Promotion{offer}},
		} {
			got, err := tx.ListPromotions(ctx, tenantID, tc.kind, tc.at)
			checkErr(t, "ListPromotions("+tc.name+")", err, nil)
			var want []kopilka.Promotion
			for _, p := range tc.want {
				want = append(want, *p)
			}
			// The promotion created alone (no end, starts at t0) is listed too.
			got = slices.DeleteFunc(got, func(p kopilka.Promotion) bool {
				return !slices.Contains([]string{current.ID, offer.ID, ended.ID}, p.ID)
			})
			diff(t, "ListPromotions("+tc.name+") ids", ids(want), ids(got))
		}
		return nil
	})

	for _, tc := range []struct {
		name, kind, id string
		want           error
	}{
		{"OtherKind", kopilka.KindOffer, current.ID, storage.ErrNotFound},
		{"Delete", kopilka.KindPromotion, current.ID, nil},
		{"Again", kopilka.KindPromotion, current.ID, storage.ErrNotFound},
	} {
		err := db.Write(ctx, func(tx storage.Tx) error { return tx.DeletePromotion(ctx, tenantID, tc.kind, tc.id) })
		checkErr(t, "DeletePromotion("+tc.name+")", err, tc.want)
	}
	mustRead(t, db, func(tx storage.Tx) error {
		_, err := tx.GetPromotion(ctx, tenantID, kopilka.KindPromotion, current.ID)
		checkErr(t, "GetPromotion(deleted)", err, storage.ErrNotFound)
		got, err := tx.GetPromotion(ctx, tenantID, kopilka.KindOffer, offer.ID)
		checkErr(t, "GetPromotion(kept)", err, nil)
		diff(t, "GetPromotion(kept)", offer, got)
		return nil
	})
}

func testBirthdays(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID, otherTenant := newTenant(t, db), newTenant(t, db)
	born := func(tenant, date string) *kopilka.Customer {
		c := &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: tenant, Kind: kopilka.Individual, BirthDate: date, Tags: []string{}}
		mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCustomer(ctx, c) })
		return c
	}
	may17a, may18, may17b := born(tenantID, "1990-05-17"), born(tenantID, "1985-05-18"), born(tenantID, "2000-05-17")
	december := born(tenantID, "1990-12-01")
	born(tenantID, "")
	born(otherTenant, "1990-05-17")
	list := func(step string, days []string, kind, period string, limit int, want ...*kopilka.Customer) {
		t.Helper()
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.BirthdayCustomers(ctx, tenantID, days, kind, period, limit)
			checkErr(t, step+": BirthdayCustomers", err, nil)
			w := []storage.TenantCustomer{}
			for _, c := range want {
				w = append(w, storage.TenantCustomer{TenantID: tenantID, CustomerID: c.ID})
			}
			sort.Slice(w, func(i, j int) bool { return w[i].CustomerID < w[j].CustomerID })
			diff(t, fmt.Sprintf("%s: BirthdayCustomers(%v, %s, %s, %d)", step, days, kind, period, limit), w, got, cmpopts.EquateEmpty())
			return nil
		})
	}
	list("one day", []string{"05-17"}, "birthday", "2026", 100, may17a, may17b)
	list("two days", []string{"05-17", "05-18"}, "birthday", "2026", 100, may17a, may17b, may18)
	list("no one", []string{"02-29"}, "birthday", "2026", 100)

	opID := kopilka.NewID("op")
	mustWrite(t, db, func(tx storage.Tx) error { return tx.GrantBonus(ctx, tenantID, may17a.ID, "birthday", "2026", opID) })
	err := db.Write(ctx, func(tx storage.Tx) error {
		return tx.GrantBonus(ctx, tenantID, may17a.ID, "birthday", "2026", kopilka.NewID("op"))
	})
	checkErr(t, "GrantBonus(same period again)", err, storage.ErrConflict)
	list("granted", []string{"05-17"}, "birthday", "2026", 100, may17b)
	list("next period", []string{"05-17"}, "birthday", "2027", 100, may17a, may17b)
	list("other kind", []string{"05-17"}, "other", "2026", 100, may17a, may17b)

	upd := *december
	upd.BirthDate = "1990-05-18"
	mustWrite(t, db, func(tx storage.Tx) error { return tx.UpdateCustomer(ctx, &upd) })
	list("after a birth date changed", []string{"05-18"}, "birthday", "2026", 100, may18, december)
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.BirthdayCustomers(ctx, tenantID, []string{"05-17", "05-18"}, "birthday", "2026", 2)
		checkErr(t, "BirthdayCustomers(limit 2)", err, nil)
		if len(got) != 2 {
			t.Errorf("BirthdayCustomers(limit 2) = %v, want 2 customers", got)
		}
		return nil
	})
}

func testIdempotency(t *testing.T, db storage.DB) {
	ctx := t.Context()
	t1, t2 := newTenant(t, db), newTenant(t, db)
	const scope, other = "POST /v1/customers/{id}/adjustments", "POST /v1/customers"
	rec := func(tenant, scope, key, body string) *storage.Idempotency {
		return &storage.Idempotency{TenantID: tenant, Scope: scope, Key: key, RequestHash: digest(body), Status: 201, Body: []byte(body)}
	}
	first := []*storage.Idempotency{rec(t1, scope, "k1", `{"a":1}`), rec(t1, other, "k1", `{"b":2}`), rec(t2, scope, "k1", `{"c":3}`)}
	later := []*storage.Idempotency{rec(t1, scope, "k2", `{"d":4}`)}
	for _, rs := range [][]*storage.Idempotency{first, later} {
		mustWrite(t, db, func(tx storage.Tx) error {
			for _, r := range rs {
				if err := tx.PutIdempotency(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if !later[0].CreatedAt.After(first[0].CreatedAt) {
		t.Fatalf("answers of two transactions stored at %v and %v: the database clock must move forward", first[0].CreatedAt, later[0].CreatedAt)
	}
	err := db.Write(ctx, func(tx storage.Tx) error { return tx.PutIdempotency(ctx, rec(t1, scope, "k1", `{"x":0}`)) })
	checkErr(t, "PutIdempotency(taken key)", err, storage.ErrConflict)

	get := func(r *storage.Idempotency) (*storage.Idempotency, error) {
		var got *storage.Idempotency
		err := db.Read(ctx, func(tx storage.Tx) error {
			var err error
			got, err = tx.GetIdempotency(ctx, r.TenantID, r.Scope, r.Key)
			return err
		})
		return got, err
	}
	for _, r := range append(slices.Clone(first), later...) {
		got, err := get(r)
		checkErr(t, "GetIdempotency", err, nil)
		diff(t, fmt.Sprintf("GetIdempotency(%s, %s, %s)", r.TenantID, r.Scope, r.Key), r, got)
	}
	_, err = get(rec(t2, other, "k1", ""))
	checkErr(t, "GetIdempotency(unknown)", err, storage.ErrNotFound)

	for _, tc := range []struct {
		name   string
		before time.Time
		want   int64
	}{
		{"AtFirst", first[0].CreatedAt, 0},
		{"JustAfterFirst", first[0].CreatedAt.Add(time.Microsecond), int64(len(first))},
		{"AgainJustAfterFirst", first[0].CreatedAt.Add(time.Microsecond), 0},
	} {
		var n int64
		mustWrite(t, db, func(tx storage.Tx) error {
			var err error
			n, err = tx.PurgeIdempotency(ctx, tc.before)
			return err
		})
		if n != tc.want {
			t.Errorf("PurgeIdempotency(%s) = %d, want %d", tc.name, n, tc.want)
		}
	}
	for _, r := range first {
		_, err := get(r)
		checkErr(t, "GetIdempotency(purged)", err, storage.ErrNotFound)
	}
	got, err := get(later[0])
	checkErr(t, "GetIdempotency(kept)", err, nil)
	diff(t, "GetIdempotency(kept)", later[0], got)
}

// ---------------------------------------------------------------------------
// Verify.

// testVerify builds a small ledger by hand — accruals, a posted and a held
// redemption, an activation, a refund debt, an expiry — and checks the
// facts, the system balances and ledger.Verify; then it breaks a lot.
func testVerify(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	var cs [5]*kopilka.Customer
	for i := range cs {
		cs[i] = newCustomer(t, db, tenantID, "")
	}
	var redeemedLot string
	mustWrite(t, db, func(tx storage.Tx) error {
		var err error
		redeemedLot, err = buildLedger(t, tx, tenantID, cs)
		return err
	})

	wantSystem := map[ledger.Account]int64{ledger.Issued: -(1000 + 500 + 200 + 100 + 80), ledger.Redeemed: 300 + 100,
		ledger.Revoked: 30, ledger.Expired: 80}
	want := &ledger.TenantFacts{
		TenantID: tenantID,
		Customers: map[string]ledger.AccountSums{
			cs[0].ID: {Available: 600, Held: 100},
			cs[1].ID: {Pending: 500},
			cs[2].ID: {Available: 200},
			cs[3].ID: {Available: -30},
			cs[4].ID: {},
		},
		States: map[string]ledger.CustomerState{
			cs[0].ID: {ActiveRemaining: 600, Held: 100},
			cs[1].ID: {PendingRemaining: 500},
			cs[2].ID: {ActiveRemaining: 200},
			cs[3].ID: {Debt: 30},
			cs[4].ID: {},
		},
		SystemAccounts: wantSystem,
	}
	facts := func() *ledger.TenantFacts {
		var f *ledger.TenantFacts
		err := db.Snapshot(ctx, func(tx storage.Tx) error {
			var err error
			if f, err = tx.VerifyFacts(ctx, tenantID); err != nil {
				return err
			}
			sys, err := tx.SystemBalances(ctx, tenantID)
			checkErr(t, "SystemBalances", err, nil)
			diff(t, "SystemBalances", wantSystem, sys)
			return nil
		})
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		return f
	}
	got := facts()
	diff(t, "VerifyFacts", want, got, cmpopts.EquateEmpty())
	diff(t, "ledger.Verify(VerifyFacts)", []ledger.Discrepancy(nil), ledger.Verify(*got), cmpopts.EquateEmpty())

	// Negative control: a lot that lost a point without a posting.
	mustWrite(t, db, func(tx storage.Tx) error { return tx.AddLotRemaining(ctx, tenantID, redeemedLot, -1) })
	wantBroken := []ledger.Discrepancy{{TenantID: tenantID, Account: "customer " + cs[0].ID + "/available", Postings: 600, State: 599}}
	diff(t, "ledger.Verify after breaking a lot", wantBroken, ledger.Verify(*facts()))
}

// buildLedger writes the ledger of testVerify and returns the id of the
// lot the redemptions took from.
func buildLedger(t *testing.T, tx storage.Tx, tenantID string, cs [5]*kopilka.Customer) (string, error) {
	ctx := t.Context()
	now := tx.Now()
	past, future := now.Add(-time.Hour), now.Add(24*time.Hour)
	// c0: accrue 1000; redeem 300 (posted); hold 100 (pending).
	_, l0, err := addLot(tx, t, tenantID, cs[0].ID, lotSpec{1000, 1000, kopilka.LotActive, past, nil})
	if err != nil {
		return "", err
	}
	for _, amount := range []int64{300, 100} {
		op := newOp(tenantID, cs[0].ID, kopilka.OpRedemption, kopilka.StatusPending, -amount)
		if err := tx.AddLotRemaining(ctx, tenantID, l0.ID, -amount); err != nil {
			return "", err
		}
		if err := tx.InsertOperation(ctx, op, ledger.Move(ledger.Available, ledger.Held, cs[0].ID, amount)); err != nil {
			return "", err
		}
		h := &storage.Hold{OperationID: op.ID, LotID: l0.ID, CustomerID: cs[0].ID, Amount: amount, State: storage.HoldHeld}
		if err := tx.InsertHold(ctx, tenantID, h); err != nil {
			return "", err
		}
		if amount == 100 {
			continue
		}
		if err := tx.FinishOperation(ctx, tenantID, op.ID, kopilka.StatusComplete, "", ledger.Move(ledger.Held, ledger.Redeemed, cs[0].ID, amount)); err != nil {
			return "", err
		}
		if err := tx.SetHoldsState(ctx, tenantID, op.ID, storage.HoldHeld, storage.HoldPosted); err != nil {
			return "", err
		}
	}
	// c1: 500 waiting for activation.
	if _, _, err := addLot(tx, t, tenantID, cs[1].ID, lotSpec{500, 500, kopilka.LotInactive, future, nil}); err != nil {
		return "", err
	}
	// c2: 200 accrued inactive, then activated.
	op, l2, err := addLot(tx, t, tenantID, cs[2].ID, lotSpec{200, 200, kopilka.LotInactive, past, nil})
	if err != nil {
		return "", err
	}
	if err := tx.AddPostings(ctx, tenantID, op.ID, storage.PhaseActivate, ledger.Move(ledger.Pending, ledger.Available, cs[2].ID, 200)); err != nil {
		return "", err
	}
	if err := tx.SetLotState(ctx, tenantID, l2.ID, kopilka.LotActive); err != nil {
		return "", err
	}
	// c3: accrue 100 and spend it all; a refund then revokes 30 more: debt 30.
	// c4: accrue 80 that expires.
	type out struct {
		typ    kopilka.OpType
		to     ledger.Account
		amount int64
	}
	for _, s := range []struct {
		c       *kopilka.Customer
		amount  int64
		expires *time.Time
		outs    []out
		debt    int64
	}{
		{cs[3], 100, nil, []out{{kopilka.OpRedemption, ledger.Redeemed, 100}, {kopilka.OpRefund, ledger.Revoked, 30}}, 30},
		{cs[4], 80, &past, []out{{kopilka.OpExpiry, ledger.Expired, 80}}, 0},
	} {
		_, l, err := addLot(tx, t, tenantID, s.c.ID, lotSpec{s.amount, s.amount, kopilka.LotActive, past, s.expires})
		if err != nil {
			return "", err
		}
		if err := tx.AddLotRemaining(ctx, tenantID, l.ID, -s.amount); err != nil {
			return "", err
		}
		for _, o := range s.outs {
			op := newOp(tenantID, s.c.ID, o.typ, kopilka.StatusComplete, -o.amount)
			if err := tx.InsertOperation(ctx, op, ledger.Move(ledger.Available, o.to, s.c.ID, o.amount)); err != nil {
				return "", err
			}
		}
		if s.debt > 0 {
			if err := tx.SetCustomerBalances(ctx, tenantID, s.c.ID, s.debt, 0); err != nil {
				return "", err
			}
		}
	}
	return l0.ID, nil
}

// ---------------------------------------------------------------------------
// Tenant isolation (STYLE rule 6, RELIABILITY S1 at the storage level).

// tenantData is one tenant's rows, built with the same shape in each tenant
// of the isolation test: the same phone, card number, external id and
// idempotency key, different ids and amounts.
type tenantData struct {
	tenant                  string
	key, store, customer    string
	posted, pending, lot    string
	purchase, refund, promo string
	phone, card, ext, idKey string
	accrued                 int64
	now                     time.Time
}

func buildTenant(t *testing.T, db storage.DB, accrued int64) tenantData {
	t.Helper()
	ctx := t.Context()
	d := tenantData{tenant: kopilka.NewID("ten"), key: kopilka.NewID("key"), store: kopilka.NewID("sto"),
		phone: "+79161234567", card: "7000", ext: "check-1", idKey: "idem-1", accrued: accrued}
	mustWrite(t, db, func(tx storage.Tx) error {
		d.now = tx.Now()
		exp := d.now.Add(time.Hour)
		c := &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: d.tenant, Kind: kopilka.Individual, Phone: d.phone,
			BirthDate: "1990-05-17", Tags: []string{}, Cards: []kopilka.Card{{Number: d.card}}}
		d.customer = c.ID
		p := kopilka.DefaultProgram()
		p.WelcomeBonus = accrued
		posted := newOp(d.tenant, c.ID, kopilka.OpAccrual, kopilka.StatusComplete, accrued)
		posted.ExternalID = d.ext
		pending := newOp(d.tenant, c.ID, kopilka.OpRedemption, kopilka.StatusPending, -10)
		lot := &kopilka.Lot{ID: kopilka.NewID("lot"), TenantID: d.tenant, CustomerID: c.ID, OperationID: posted.ID,
			Amount: accrued, Remaining: accrued - 10, State: kopilka.LotActive, ActivatesAt: d.now, ExpiresAt: &exp}
		d.posted, d.pending, d.lot = posted.ID, pending.ID, lot.ID
		purchase := newPurchase(d.tenant, c.ID, d.ext)
		refund := &kopilka.Refund{ID: kopilka.NewID("ref"), TenantID: d.tenant, PurchaseID: purchase.ID, ExternalID: d.ext,
			Lines: []kopilka.RefundLine{{Line: 1, Quantity: 1000}}, Amount: accrued, RequestHash: digest(d.ext)}
		d.purchase, d.refund = purchase.ID, refund.ID
		promo := &kopilka.Promotion{ID: kopilka.NewID("pro"), TenantID: d.tenant, Kind: kopilka.KindPromotion, Name: "x",
			StartsAt: d.now, SKUs: []string{"A-1"}, Multiplier: 20000}
		d.promo = promo.ID
		for _, step := range []func() error{
			func() error { return tx.CreateTenant(ctx, &kopilka.Tenant{ID: d.tenant, Name: "shop"}) },
			func() error {
				return tx.CreateAPIKey(ctx, &kopilka.APIKey{ID: d.key, TenantID: d.tenant, Scopes: []kopilka.Scope{kopilka.ScopeAdmin}, Digest: digest(d.key)})
			},
			func() error {
				return tx.CreateStore(ctx, &kopilka.Store{ID: d.store, TenantID: d.tenant, Name: "main"})
			},
			func() error { return tx.CreateCustomer(ctx, c) },
			func() error {
				return tx.AddCustomerChanges(ctx, d.tenant, []kopilka.CustomerChange{{CustomerID: c.ID, Field: "phone", NewValue: d.phone, Actor: "cli"}})
			},
			func() error { return tx.PutProgram(ctx, d.tenant, &p) },
			func() error {
				return tx.InsertOperation(ctx, posted, ledger.Move(ledger.Issued, ledger.Available, c.ID, accrued))
			},
			func() error { return tx.InsertLot(ctx, lot) },
			func() error {
				return tx.InsertOperation(ctx, pending, ledger.Move(ledger.Available, ledger.Held, c.ID, 10))
			},
			func() error {
				return tx.InsertHold(ctx, d.tenant, &storage.Hold{OperationID: pending.ID, LotID: lot.ID, CustomerID: c.ID, Amount: 10, State: storage.HoldHeld})
			},
			func() error { return tx.CreatePurchase(ctx, purchase) },
			func() error { return tx.CreateRefund(ctx, refund) },
			func() error { return tx.CreatePromotion(ctx, promo) },
			func() error {
				return tx.PutIdempotency(ctx, &storage.Idempotency{TenantID: d.tenant, Scope: "s", Key: d.idKey,
					RequestHash: digest(d.tenant), Status: 200, Body: []byte(d.tenant)})
			},
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	return d
}

// tenantView is everything the read methods show of one tenant.
type tenantView struct {
	Tenant   *kopilka.Tenant
	Keys     []kopilka.APIKey
	Stores   []kopilka.Store
	Customer *kopilka.Customer
	Changes  []kopilka.CustomerChange
	Program  *kopilka.Program
	Ops      []kopilka.Operation
	Lots     []kopilka.Lot
	Lot      *kopilka.Lot
	Holds    []storage.Hold
	Purchase *kopilka.Purchase
	Refunds  []kopilka.Refund
	Spend    int64
	Promos   []kopilka.Promotion
	Birthday []storage.TenantCustomer
	Balance  *kopilka.Balance
	Idem     *storage.Idempotency
	Facts    *ledger.TenantFacts
	System   map[ledger.Account]int64
}

func viewTenant(t *testing.T, db storage.DB, d tenantData) tenantView {
	t.Helper()
	ctx := t.Context()
	var v tenantView
	mustRead(t, db, func(tx storage.Tx) error {
		var err error
		for _, step := range []func() error{
			func() error { v.Tenant, err = tx.GetTenant(ctx, d.tenant); return err },
			func() error { v.Keys, err = tx.ListAPIKeys(ctx, d.tenant); return err },
			func() error { v.Stores, err = tx.ListStores(ctx, d.tenant); return err },
			func() error { v.Customer, err = tx.GetCustomer(ctx, d.tenant, d.customer, false); return err },
			func() error { v.Changes, err = tx.ListCustomerChanges(ctx, d.tenant, d.customer, 0, 100); return err },
			func() error { v.Program, err = tx.GetProgram(ctx, d.tenant); return err },
			func() error { v.Ops, err = tx.ListOperations(ctx, d.tenant, d.customer, "", 100); return err },
			func() error {
				v.Lots, err = tx.CustomerLots(ctx, d.tenant, d.customer, kopilka.LotPending, kopilka.LotInactive, kopilka.LotActive, kopilka.LotVoided)
				return err
			},
			func() error { v.Lot, err = tx.GetLot(ctx, d.tenant, d.lot); return err },
			func() error { v.Holds, err = tx.OperationHolds(ctx, d.tenant, d.pending); return err },
			func() error { v.Purchase, err = tx.GetPurchase(ctx, d.tenant, d.purchase); return err },
			func() error { v.Refunds, err = tx.ListRefunds(ctx, d.tenant, d.purchase); return err },
			func() error { v.Spend, err = tx.SpendableSum(ctx, d.tenant, d.customer, d.now); return err },
			func() error { v.Promos, err = tx.ListPromotions(ctx, d.tenant, "", d.now); return err },
			func() error {
				v.Birthday, err = tx.BirthdayCustomers(ctx, d.tenant, []string{"05-17"}, "birthday", "2026", 100)
				return err
			},
			func() error { v.Balance, err = tx.Balance(ctx, d.tenant, d.customer, d.now); return err },
			func() error { v.Idem, err = tx.GetIdempotency(ctx, d.tenant, "s", d.idKey); return err },
			func() error { v.Facts, err = tx.VerifyFacts(ctx, d.tenant); return err },
			func() error { v.System, err = tx.SystemBalances(ctx, d.tenant); return err },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	return v
}

// testTenantIsolation builds tenants A and B alike, then calls every read
// method with B's tenant id and A's object ids (it must find nothing of A)
// and every write method the same way (it must change nothing of A).
func testTenantIsolation(t *testing.T, db storage.DB) {
	ctx := t.Context()
	a, b := buildTenant(t, db, 1000), buildTenant(t, db, 700)
	beforeA, beforeB := viewTenant(t, db, a), viewTenant(t, db, b)

	// Positive control: B's view is B's own and differs from A's.
	if beforeB.Customer.ID != b.customer || beforeB.Balance.Available != 700-10 || beforeA.Balance.Available != 1000-10 {
		t.Fatalf("fixture: B customer %s balance %d, A balance %d; want %s, 690, 990", beforeB.Customer.ID, beforeB.Balance.Available, beforeA.Balance.Available, b.customer)
	}

	t.Run("Reads", func(t *testing.T) {
		mustRead(t, db, func(tx storage.Tx) error {
			notFound := func(call string, err error) { t.Helper(); checkErr(t, call, err, storage.ErrNotFound) }
			_, err := tx.GetStore(ctx, b.tenant, a.store)
			notFound("GetStore(B, A's store)", err)
			_, err = tx.GetCustomer(ctx, b.tenant, a.customer, false)
			notFound("GetCustomer(B, A's customer)", err)
			_, err = tx.GetOperation(ctx, b.tenant, a.posted)
			notFound("GetOperation(B, A's operation)", err)
			_, err = tx.GetLot(ctx, b.tenant, a.lot)
			notFound("GetLot(B, A's lot)", err)
			_, err = tx.GetPurchase(ctx, b.tenant, a.purchase)
			notFound("GetPurchase(B, A's purchase)", err)
			_, err = tx.GetPromotion(ctx, b.tenant, kopilka.KindPromotion, a.promo)
			notFound("GetPromotion(B, A's promotion)", err)
			pur, err := tx.PurchaseByExternalID(ctx, b.tenant, a.ext)
			if err != nil || pur.ID != b.purchase {
				t.Errorf("PurchaseByExternalID(B, shared external id) = %v, %v, want B's %s", pur, err, b.purchase)
			}
			ref, err := tx.RefundByExternalID(ctx, b.tenant, a.ext)
			if err != nil || ref.ID != b.refund {
				t.Errorf("RefundByExternalID(B, shared external id) = %v, %v, want B's %s", ref, err, b.refund)
			}

			id, err := tx.CustomerIDByPhone(ctx, b.tenant, a.phone)
			if err != nil || id != b.customer {
				t.Errorf("CustomerIDByPhone(B, shared phone) = %q, %v, want B's %q", id, err, b.customer)
			}
			id, err = tx.CustomerIDByCard(ctx, b.tenant, a.card)
			if err != nil || id != b.customer {
				t.Errorf("CustomerIDByCard(B, shared card) = %q, %v, want B's %q", id, err, b.customer)
			}
			op, err := tx.OperationByExternalID(ctx, b.tenant, kopilka.OpAccrual, a.ext)
			if err != nil || op.ID != b.posted {
				t.Errorf("OperationByExternalID(B, shared external id) = %v, %v, want B's %s", op, err, b.posted)
			}
			rec, err := tx.GetIdempotency(ctx, b.tenant, "s", a.idKey)
			if err != nil || rec.TenantID != b.tenant || string(rec.Body) != b.tenant {
				t.Errorf("GetIdempotency(B, shared key) = %+v, %v, want B's answer", rec, err)
			}
			key, err := tx.GetAPIKey(ctx, a.key) // by design across tenants: it names its tenant
			if err != nil || key.TenantID != a.tenant {
				t.Errorf("GetAPIKey(A's key) = %+v, %v, want tenant %s", key, err, a.tenant)
			}

			empty := func(call string, n int, err error) {
				t.Helper()
				if err != nil || n != 0 {
					t.Errorf("%s = %d rows, %v; want none", call, n, err)
				}
			}
			changes, err := tx.ListCustomerChanges(ctx, b.tenant, a.customer, 0, 100)
			empty("ListCustomerChanges(B, A's customer)", len(changes), err)
			ops, err := tx.ListOperations(ctx, b.tenant, a.customer, "", 100)
			empty("ListOperations(B, A's customer)", len(ops), err)
			ops, err = tx.ListOperations(ctx, b.tenant, b.customer, a.posted, 100)
			for _, op := range ops {
				if op.TenantID != b.tenant {
					t.Errorf("ListOperations(B, after A's operation) returned %s of tenant %s", op.ID, op.TenantID)
				}
			}
			checkErr(t, "ListOperations(B, after A's operation)", err, nil)
			lots, err := tx.CustomerLots(ctx, b.tenant, a.customer, kopilka.LotPending, kopilka.LotInactive, kopilka.LotActive, kopilka.LotVoided)
			empty("CustomerLots(B, A's customer)", len(lots), err)
			holds, err := tx.OperationHolds(ctx, b.tenant, a.pending)
			empty("OperationHolds(B, A's operation)", len(holds), err)
			refunds, err := tx.ListRefunds(ctx, b.tenant, a.purchase)
			empty("ListRefunds(B, A's purchase)", len(refunds), err)
			sum, err := tx.SpendableSum(ctx, b.tenant, a.customer, a.now)
			empty("SpendableSum(B, A's customer)", int(sum), err)
			bal, err := tx.Balance(ctx, b.tenant, a.customer, a.now)
			checkErr(t, "Balance(B, A's customer)", err, storage.ErrNotFound)
			if bal != nil {
				t.Errorf("Balance(B, A's customer) = %+v, want nil", bal)
			}
			return nil
		})
		// Whole-tenant reads with B's id return exactly B's rows.
		diff(t, "view of B", beforeB, viewTenant(t, db, b))
	})

	t.Run("Writes", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(tx storage.Tx) error
			want error // what the call itself returns
		}{
			{"RevokeAPIKey", func(tx storage.Tx) error { return tx.RevokeAPIKey(ctx, b.tenant, a.key) }, storage.ErrNotFound},
			{"GetCustomer(lock)", func(tx storage.Tx) error { _, err := tx.GetCustomer(ctx, b.tenant, a.customer, true); return err }, storage.ErrNotFound},
			{"LockCustomer", func(tx storage.Tx) error { _, err := tx.LockCustomer(ctx, b.tenant, a.customer); return err }, storage.ErrNotFound},
			{"UpdateLot", func(tx storage.Tx) error {
				l := *beforeA.Lot
				l.TenantID, l.Remaining, l.State = b.tenant, 1, kopilka.LotVoided
				return tx.UpdateLot(ctx, &l)
			}, storage.ErrNotFound},
			{"UpdatePurchase", func(tx storage.Tx) error {
				p := *beforeA.Purchase
				p.TenantID, p.Status = b.tenant, kopilka.PurchaseCancelled
				return tx.UpdatePurchase(ctx, &p)
			}, storage.ErrNotFound},
			{"DeletePromotion", func(tx storage.Tx) error { return tx.DeletePromotion(ctx, b.tenant, kopilka.KindPromotion, a.promo) }, storage.ErrNotFound},
			{"CreatePromotion", func(tx storage.Tx) error {
				return tx.CreatePromotion(ctx, &kopilka.Promotion{ID: a.promo, TenantID: b.tenant, Kind: kopilka.KindPromotion, Name: "copy", StartsAt: a.now})
			}, nil},
			{"GrantBonus", func(tx storage.Tx) error {
				return tx.GrantBonus(ctx, b.tenant, a.customer, "birthday", "2026", a.posted)
			}, nil},
			{"CreatePurchase", func(tx storage.Tx) error {
				p := newPurchase(b.tenant, a.customer, "check-2")
				p.ID = a.purchase
				return tx.CreatePurchase(ctx, p)
			}, nil},
			{"CreateRefund", func(tx storage.Tx) error {
				return tx.CreateRefund(ctx, &kopilka.Refund{ID: kopilka.NewID("ref"), TenantID: b.tenant, PurchaseID: a.purchase,
					ExternalID: "ret-2", RequestHash: digest("x")})
			}, nil},
			{"InsertCredit", func(tx storage.Tx) error {
				op := newOp(b.tenant, a.customer, kopilka.OpAccrual, kopilka.StatusComplete, 3)
				op.ID = a.posted
				return tx.InsertCredit(ctx, op, ledger.Move(ledger.Issued, ledger.Available, a.customer, 3), &kopilka.Lot{ID: a.pending,
					TenantID: b.tenant, CustomerID: a.customer, OperationID: a.posted, Amount: 3, Remaining: 3, State: kopilka.LotActive, ActivatesAt: a.now})
			}, nil},
			{"UpdateCustomer", func(tx storage.Tx) error {
				c := *beforeA.Customer
				c.TenantID, c.FirstName, c.Phone = b.tenant, "stolen", "+79990000000"
				return tx.UpdateCustomer(ctx, &c)
			}, storage.ErrNotFound},
			{"SetCustomerBalances", func(tx storage.Tx) error { return tx.SetCustomerBalances(ctx, b.tenant, a.customer, 5, 5) }, storage.ErrNotFound},
			{"AddLotRemaining", func(tx storage.Tx) error { return tx.AddLotRemaining(ctx, b.tenant, a.lot, -1) }, storage.ErrNotFound},
			{"SetLotState", func(tx storage.Tx) error { return tx.SetLotState(ctx, b.tenant, a.lot, kopilka.LotVoided) }, storage.ErrNotFound},
			{"FinishOperation", func(tx storage.Tx) error {
				return tx.FinishOperation(ctx, b.tenant, a.pending, kopilka.StatusComplete, "", ledger.Move(ledger.Held, ledger.Redeemed, a.customer, 10))
			}, storage.ErrConflict},
			{"SetHoldsState", func(tx storage.Tx) error {
				return tx.SetHoldsState(ctx, b.tenant, a.pending, storage.HoldHeld, storage.HoldVoided)
			}, nil},
			{"AddCustomerChanges", func(tx storage.Tx) error {
				return tx.AddCustomerChanges(ctx, b.tenant, []kopilka.CustomerChange{{CustomerID: a.customer, Field: "x", Actor: "b"}})
			}, nil},
			{"CreateCard", func(tx storage.Tx) error {
				return tx.CreateCard(ctx, b.tenant, &kopilka.Card{Number: "7001", CustomerID: a.customer})
			}, nil},
			{"PutProgram", func(tx storage.Tx) error {
				p := kopilka.DefaultProgram()
				p.WelcomeBonus = 1
				return tx.PutProgram(ctx, b.tenant, &p)
			}, nil},
			{"AddPostings", func(tx storage.Tx) error {
				return tx.AddPostings(ctx, b.tenant, a.posted, storage.PhaseActivate, ledger.Move(ledger.Issued, ledger.Available, a.customer, 1))
			}, nil},
			{"InsertHold", func(tx storage.Tx) error {
				return tx.InsertHold(ctx, b.tenant, &storage.Hold{OperationID: a.pending, LotID: a.lot, CustomerID: a.customer, Amount: 1, State: storage.HoldHeld})
			}, nil},
			{"InsertLot", func(tx storage.Tx) error {
				return tx.InsertLot(ctx, &kopilka.Lot{ID: a.lot, TenantID: b.tenant, CustomerID: a.customer, OperationID: a.posted,
					Amount: 5, Remaining: 5, State: kopilka.LotActive, ActivatesAt: a.now})
			}, nil},
			{"InsertOperation", func(tx storage.Tx) error {
				op := newOp(b.tenant, a.customer, kopilka.OpAccrual, kopilka.StatusComplete, 1)
				op.ID = a.pending
				return tx.InsertOperation(ctx, op, ledger.Move(ledger.Issued, ledger.Available, a.customer, 1))
			}, nil},
			{"CreateStore", func(tx storage.Tx) error {
				return tx.CreateStore(ctx, &kopilka.Store{ID: a.store, TenantID: b.tenant, Name: "copy"})
			}, nil},
			{"CreateCustomer", func(tx storage.Tx) error {
				return tx.CreateCustomer(ctx, &kopilka.Customer{ID: a.customer, TenantID: b.tenant, Kind: kopilka.Individual, Tags: []string{}})
			}, nil},
		} {
			// The call's outcome is kept and the transaction committed, so
			// any change it made to A would stay.
			var callErr error
			err := db.Write(ctx, func(tx storage.Tx) error {
				callErr = tc.fn(tx)
				if tc.want == nil {
					return callErr
				}
				return nil
			})
			checkErr(t, tc.name+" with B's tenant id", callErr, tc.want)
			checkErr(t, "Write("+tc.name+")", err, nil)
		}
		diff(t, "A after B's writes", beforeA, viewTenant(t, db, a))
	})

	t.Run("NegativeControl", func(t *testing.T) {
		// The same view notices a write made with A's own id.
		mustWrite(t, db, func(tx storage.Tx) error { return tx.AddLotRemaining(ctx, a.tenant, a.lot, -1) })
		if cmp.Equal(beforeA, viewTenant(t, db, a)) {
			t.Errorf("view of A unchanged after AddLotRemaining(A, A's lot, -1): the isolation check cannot fail")
		}
	})
}

// ---------------------------------------------------------------------------
// Writes: atomicity under group commit, retries.

// testSnapshot: every read of a Snapshot sees the database as it was at
// its first read, even after a write commits meanwhile; Read sees each
// committed write.
func testSnapshot(t *testing.T, db storage.DB) {
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		run   func(context.Context, func(storage.Tx) error) error
		after int // stores seen after a second store commits
	}{
		{"Snapshot", db.Snapshot, 1},
		{"Read", db.Read, 2},
	} {
		tenantID := newTenant(t, db)
		addStore := func() {
			t.Helper()
			mustWrite(t, db, func(tx storage.Tx) error {
				return tx.CreateStore(ctx, &kopilka.Store{ID: kopilka.NewID("sto"), TenantID: tenantID, Name: "s"})
			})
		}
		count := func(tx storage.Tx) int {
			t.Helper()
			ss, err := tx.ListStores(ctx, tenantID)
			checkErr(t, tc.name+": ListStores", err, nil)
			return len(ss)
		}
		addStore()
		var before, after int
		err := tc.run(ctx, func(tx storage.Tx) error {
			before = count(tx)
			addStore()
			after = count(tx)
			return nil
		})
		checkErr(t, tc.name, err, nil)
		if before != 1 || after != tc.after {
			t.Errorf("%s: stores before, after a concurrent write = %d, %d, want 1, %d", tc.name, before, after, tc.after)
		}
	}
}

// testWriteAtomicity runs many writes at once; some fail after writing
// (their own error, or a unique violation in the database), some ask for
// a retry once. Failed writes leave nothing; all others commit.
func testWriteAtomicity(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	taken := newCustomer(t, db, tenantID, "+79161110000")
	errBoom := errors.New("boom")
	const n = 64
	kinds := []string{"ok", "fail", "conflict", "retry"}
	type result struct {
		kind  string
		store string
		err   error
		calls int32
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		r := &results[i]
		r.kind, r.store = kinds[i%len(kinds)], kopilka.NewID("sto")
		wg.Go(func() {
			var calls atomic.Int32
			<-start
			r.err = db.Write(ctx, func(tx storage.Tx) error {
				call := calls.Add(1)
				if err := tx.CreateStore(ctx, &kopilka.Store{ID: r.store, TenantID: tenantID, Name: r.kind + " " + r.store}); err != nil {
					return err
				}
				switch {
				case r.kind == "fail":
					return fmt.Errorf("write %s: %w", r.store, errBoom)
				case r.kind == "conflict":
					return tx.CreateCustomer(ctx, &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: tenantID, Kind: kopilka.Individual, Phone: taken.Phone})
				case r.kind == "retry" && call == 1:
					return fmt.Errorf("write %s: %w", r.store, storage.ErrRetry)
				}
				return nil
			})
			r.calls = calls.Load()
		})
	}
	close(start)
	wg.Wait()

	var stores []kopilka.Store
	mustRead(t, db, func(tx storage.Tx) error {
		var err error
		stores, err = tx.ListStores(ctx, tenantID)
		return err
	})
	kept := map[string]int{}
	for _, s := range stores {
		kept[s.ID]++
	}
	for _, r := range results {
		want := map[string]error{"ok": nil, "fail": errBoom, "conflict": storage.ErrConflict, "retry": nil}[r.kind]
		checkErr(t, "Write("+r.kind+")", r.err, want)
		if wantKept := want == nil; (kept[r.store] == 1) != wantKept {
			t.Errorf("store of a %q write kept %d times, want kept = %v", r.kind, kept[r.store], wantKept)
		}
		if r.kind == "retry" && r.calls != 2 {
			t.Errorf("retry write ran %d times, want 2", r.calls)
		}
	}
	if len(stores) != n/2 {
		t.Errorf("ListStores = %d stores, want %d", len(stores), n/2)
	}
}

func testWriteRetry(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	for _, tc := range []struct {
		name      string
		failCalls int32 // calls that ask for a retry; -1: every call
		wantErr   error
		wantKept  bool
	}{
		{"Once", 1, nil, true},
		{"Always", -1, storage.ErrRetry, false},
	} {
		id := kopilka.NewID("sto")
		var calls atomic.Int32
		err := db.Write(ctx, func(tx storage.Tx) error {
			call := calls.Add(1)
			if err := tx.CreateStore(ctx, &kopilka.Store{ID: id, TenantID: tenantID, Name: tc.name}); err != nil {
				return err
			}
			if tc.failCalls < 0 || call <= tc.failCalls {
				return fmt.Errorf("serialization failure: %w", storage.ErrRetry)
			}
			return nil
		})
		checkErr(t, "Write(retry "+tc.name+")", err, tc.wantErr)
		if calls.Load() < 2 {
			t.Errorf("Write(retry %s) ran fn %d times, want at least 2", tc.name, calls.Load())
		}
		mustRead(t, db, func(tx storage.Tx) error {
			_, err := tx.GetStore(ctx, tenantID, id)
			if kept := err == nil; kept != tc.wantKept || (err != nil && !errors.Is(err, storage.ErrNotFound)) {
				t.Errorf("Write(retry %s): GetStore = %v, want kept = %v", tc.name, err, tc.wantKept)
			}
			return nil
		})
	}
}
