package storagetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// testMergeErase covers merged and deleted customers: what MergeCustomer
// moves, how lookups resolve a merged customer, what EraseCustomer erases,
// and that neither touches another customer or tenant.
func testMergeErase(t *testing.T, db storage.DB) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, db storage.DB)
	}{
		{"Merge", testMerge},
		{"MergeChain", testMergeChain},
		{"MergeRefused", testMergeRefused},
		{"PendingPurchases", testPendingPurchases},
		{"Erase", testErase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, db)
		})
	}
}

// mergeFixture is two customers of a tenant with cards, lots, a purchase
// and external ids, and a third customer that nothing should touch.
type mergeFixture struct {
	tenant                string
	survivor, from, other *kopilka.Customer
	fromLots              []*kopilka.Lot
	fromOp, purchase      string
}

func newMergeFixture(t *testing.T, db storage.DB) mergeFixture {
	t.Helper()
	ctx := t.Context()
	f := mergeFixture{tenant: newTenant(t, db)}
	f.survivor = newCustomer(t, db, f.tenant, "+79120000001", "S-1")
	f.from = newCustomer(t, db, f.tenant, "+79120000002", "F-1", "F-2")
	f.other = newCustomer(t, db, f.tenant, "+79120000003", "O-1")
	mustWrite(t, db, func(tx storage.Tx) error {
		now := tx.Now()
		in5, in9 := now.Add(5*24*time.Hour), now.Add(9*24*time.Hour)
		for _, s := range []lotSpec{
			{700, 700, kopilka.LotActive, now, &in9},
			{300, 300, kopilka.LotInactive, in5, &in9},
		} {
			op, l, err := addLot(tx, t, f.tenant, f.from.ID, s)
			if err != nil {
				return err
			}
			f.fromLots, f.fromOp = append(f.fromLots, l), op.ID
		}
		p := newPurchase(f.tenant, f.from.ID, "F-RECEIPT")
		f.purchase = p.ID
		if err := tx.CreatePurchase(ctx, p); err != nil {
			return err
		}
		return tx.WriteImport(ctx, f.tenant, &storage.ImportWrites{ExternalIDs: []storage.ExternalID{
			{Integration: storage.DefaultIntegration, ExternalID: "CRM-F", CustomerID: f.from.ID},
			{Integration: storage.DefaultIntegration, ExternalID: "CRM-O", CustomerID: f.other.ID},
		}})
	})
	return f
}

// merge merges from into the survivor, with the operation that moves
// from's points as the caller of MergeCustomer writes it.
func (f mergeFixture) merge(tx storage.Tx, t *testing.T) error {
	op := newOp(f.tenant, f.survivor.ID, kopilka.OpMerge, kopilka.StatusComplete, 1000)
	ps := []ledger.Posting{
		{Account: ledger.Available, CustomerID: f.from.ID, Amount: -700}, {Account: ledger.Available, CustomerID: f.survivor.ID, Amount: 700},
		{Account: ledger.Pending, CustomerID: f.from.ID, Amount: -300}, {Account: ledger.Pending, CustomerID: f.survivor.ID, Amount: 300},
	}
	if err := tx.InsertOperation(t.Context(), op, ps); err != nil {
		return err
	}
	return tx.MergeCustomer(t.Context(), f.tenant, f.from.ID, f.survivor.ID)
}

// lotView is what a merge must keep of a lot.
type lotView struct {
	ID, CustomerID, OperationID, State string
	Amount, Remaining                  int64
	ActivatesAt, ExpiresAt             int64 // Unix microseconds (0: never)
}

func lotViews(lots []kopilka.Lot) []lotView {
	var out []lotView
	for _, l := range lots {
		v := lotView{l.ID, l.CustomerID, l.OperationID, l.State, l.Amount, l.Remaining, l.ActivatesAt.UnixMicro(), 0}
		if l.ExpiresAt != nil {
			v.ExpiresAt = l.ExpiresAt.UnixMicro()
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b lotView) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func testMerge(t *testing.T, db storage.DB) {
	ctx := t.Context()
	f := newMergeFixture(t, db)
	var before *kopilka.Balance
	mustRead(t, db, func(tx storage.Tx) error {
		var err error
		before, err = tx.Balance(ctx, f.tenant, f.from.ID, tx.Now())
		return err
	})
	mustWrite(t, db, func(tx storage.Tx) error { return f.merge(tx, t) })
	mustRead(t, db, func(tx storage.Tx) error {
		st, err := tx.CustomerStatus(ctx, f.tenant, f.from.ID)
		checkErr(t, "CustomerStatus(from)", err, nil)
		diff(t, "CustomerStatus(from)", &storage.CustomerStatus{MergedInto: f.survivor.ID}, st)
		st, err = tx.CustomerStatus(ctx, f.tenant, f.survivor.ID)
		checkErr(t, "CustomerStatus(survivor)", err, nil)
		diff(t, "CustomerStatus(survivor)", &storage.CustomerStatus{}, st)

		// Every lookup of from resolves to the survivor, with all cards.
		c, err := tx.GetCustomer(ctx, f.tenant, f.from.ID, false)
		checkErr(t, "GetCustomer(from)", err, nil)
		var cards []string
		for _, k := range c.Cards {
			cards = append(cards, k.Number)
		}
		slices.Sort(cards)
		if c.ID != f.survivor.ID || !slices.Equal(cards, []string{"F-1", "F-2", "S-1"}) {
			t.Errorf("GetCustomer(from) = %s with cards %v, want the survivor %s with F-1, F-2, S-1", c.ID, cards, f.survivor.ID)
		}
		for _, ref := range [][2]string{{"id", f.from.ID}, {"phone", "+79120000002"}, {"card", "F-2"}} {
			for _, lock := range []bool{false, true} {
				c, err := tx.CustomerByRef(ctx, f.tenant, ref[0], ref[1], lock)
				if err != nil || c.ID != f.survivor.ID || (!lock && c.Spendable != 700) {
					t.Errorf("CustomerByRef(%s, lock %v) = %+v, %v, want the survivor with 700 spendable", ref, lock, c, err)
				}
			}
		}
		if c, err := tx.LockCustomer(ctx, f.tenant, f.from.ID); err != nil || c.ID != f.survivor.ID {
			t.Errorf("LockCustomer(from) = %+v, %v, want the survivor", c, err)
		}
		if id, err := tx.CustomerIDByPhone(ctx, f.tenant, "+79120000002"); err != nil || id != f.survivor.ID {
			t.Errorf("CustomerIDByPhone(from's phone) = %q, %v, want %s", id, err, f.survivor.ID)
		}
		// The lots, with their times, and the purchase are the survivor's.
		lots, err := tx.CustomerLots(ctx, f.tenant, f.survivor.ID, kopilka.LotActive, kopilka.LotInactive)
		checkErr(t, "CustomerLots(survivor)", err, nil)
		var want []kopilka.Lot
		for _, l := range f.fromLots {
			w := *l
			w.CustomerID = f.survivor.ID
			want = append(want, w)
		}
		diff(t, "CustomerLots(survivor)", lotViews(want), lotViews(lots))
		if left, _ := tx.CustomerLots(ctx, f.tenant, f.from.ID, kopilka.LotActive, kopilka.LotInactive); len(left) != 0 {
			t.Errorf("CustomerLots(from) = %v, want none left", left)
		}
		b, err := tx.Balance(ctx, f.tenant, f.survivor.ID, tx.Now())
		checkErr(t, "Balance(survivor)", err, nil)
		diff(t, "Balance(survivor)", before, b)
		b, err = tx.Balance(ctx, f.tenant, f.from.ID, tx.Now())
		checkErr(t, "Balance(from)", err, nil)
		diff(t, "Balance(from) resolves to the survivor", before, b)
		p, err := tx.GetPurchase(ctx, f.tenant, f.purchase)
		if err != nil || p.CustomerID != f.survivor.ID {
			t.Errorf("GetPurchase() = %+v, %v, want the survivor's", p, err)
		}
		// The history has from's operations and the merge.
		ops, err := tx.ListOperations(ctx, f.tenant, f.survivor.ID, "", 10)
		checkErr(t, "ListOperations(survivor)", err, nil)
		if len(ops) != 3 || !slices.ContainsFunc(ops, func(o kopilka.Operation) bool { return o.ID == f.fromOp }) {
			t.Errorf("ListOperations(survivor) = %v, want from's two operations and the merge", ops)
		}
		page, err := tx.ListOperations(ctx, f.tenant, f.survivor.ID, ops[0].ID, 10)
		checkErr(t, "ListOperations(survivor, after)", err, nil)
		diff(t, "ListOperations(survivor, after the first)", ops[1:], page)
		// External ids find the survivor; the other customer keeps its own.
		m, err := tx.ImportLookup(ctx, f.tenant, storage.DefaultIntegration, storage.ImportKeys{
			ExternalIDs: []string{"CRM-F", "CRM-O"}, IDs: []string{f.from.ID}, Phones: []string{"+79120000002"}, Cards: []string{"F-1"}})
		checkErr(t, "ImportLookup", err, nil)
		diff(t, "ImportLookup", &storage.ImportMatches{
			ExternalIDs: map[string]string{"CRM-F": f.survivor.ID, "CRM-O": f.other.ID},
			IDs:         map[string]string{f.from.ID: f.survivor.ID},
			Phones:      map[string]string{"+79120000002": f.survivor.ID},
			Cards:       map[string]string{"F-1": f.survivor.ID}, RetiredCards: map[string]bool{}}, m)
		o, err := tx.GetCustomer(ctx, f.tenant, f.other.ID, false)
		if err != nil || o.ID != f.other.ID || len(o.Cards) != 1 {
			t.Errorf("GetCustomer(other) = %+v, %v, want it untouched", o, err)
		}
		// The exports list the survivor, not the merged row.
		rows, err := tx.ExportCustomers(ctx, f.tenant, storage.DefaultIntegration, "", 10)
		checkErr(t, "ExportCustomers", err, nil)
		for _, r := range rows {
			if r.ID == f.from.ID {
				t.Errorf("ExportCustomers() lists the merged customer %s", f.from.ID)
			}
		}
		return nil
	})
	checkVerifies(t, db, f.tenant)
}

// testMergeChain merges a into b, then b into c: a's id and history
// follow to c.
func testMergeChain(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	a, b, c := newCustomer(t, db, tenantID, ""), newCustomer(t, db, tenantID, ""), newCustomer(t, db, tenantID, "")
	var aOp string
	mustWrite(t, db, func(tx storage.Tx) error {
		op, _, err := addLot(tx, t, tenantID, a.ID, lotSpec{100, 100, kopilka.LotActive, tx.Now(), nil})
		if err != nil {
			return err
		}
		aOp = op.ID
		if err := tx.InsertOperation(ctx, newOp(tenantID, b.ID, kopilka.OpMerge, kopilka.StatusComplete, 100), []ledger.Posting{
			{Account: ledger.Available, CustomerID: a.ID, Amount: -100}, {Account: ledger.Available, CustomerID: b.ID, Amount: 100}}); err != nil {
			return err
		}
		if err := tx.MergeCustomer(ctx, tenantID, a.ID, b.ID); err != nil {
			return err
		}
		if err := tx.InsertOperation(ctx, newOp(tenantID, c.ID, kopilka.OpMerge, kopilka.StatusComplete, 100), []ledger.Posting{
			{Account: ledger.Available, CustomerID: b.ID, Amount: -100}, {Account: ledger.Available, CustomerID: c.ID, Amount: 100}}); err != nil {
			return err
		}
		return tx.MergeCustomer(ctx, tenantID, b.ID, c.ID)
	})
	mustRead(t, db, func(tx storage.Tx) error {
		for _, id := range []string{a.ID, b.ID} {
			got, err := tx.GetCustomer(ctx, tenantID, id, false)
			if err != nil || got.ID != c.ID {
				t.Errorf("GetCustomer(%s) = %+v, %v, want %s", id, got, err, c.ID)
			}
			st, err := tx.CustomerStatus(ctx, tenantID, id)
			if err != nil || st.MergedInto != c.ID {
				t.Errorf("CustomerStatus(%s) = %+v, %v, want merged into %s", id, st, err, c.ID)
			}
		}
		ops, err := tx.ListOperations(ctx, tenantID, c.ID, "", 10)
		checkErr(t, "ListOperations(c)", err, nil)
		if len(ops) != 3 || !slices.ContainsFunc(ops, func(o kopilka.Operation) bool { return o.ID == aOp }) {
			t.Errorf("ListOperations(c) = %v, want a's credit and both merges", ops)
		}
		return nil
	})
	checkVerifies(t, db, tenantID)
}

// testMergeRefused: MergeCustomer of a merged, deleted or unknown
// customer, or of another tenant's, is ErrNotFound and changes nothing.
func testMergeRefused(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID, otherTenant := newTenant(t, db), newTenant(t, db)
	a, b, gone := newCustomer(t, db, tenantID, "", "A-1"), newCustomer(t, db, tenantID, ""), newCustomer(t, db, tenantID, "")
	foreign := newCustomer(t, db, otherTenant, "", "X-1")
	mustWrite(t, db, func(tx storage.Tx) error {
		if err := tx.EraseCustomer(ctx, tenantID, gone.ID); err != nil {
			return err
		}
		return tx.MergeCustomer(ctx, tenantID, b.ID, a.ID)
	})
	for _, tc := range []struct {
		name, tenant, from, into string
	}{
		{"Merged", tenantID, b.ID, a.ID},
		{"Deleted", tenantID, gone.ID, a.ID},
		{"Unknown", tenantID, kopilka.NewID("cus"), a.ID},
		{"OtherTenant", tenantID, foreign.ID, a.ID},
	} {
		err := db.Write(ctx, func(tx storage.Tx) error { return tx.MergeCustomer(ctx, tc.tenant, tc.from, tc.into) })
		checkErr(t, "MergeCustomer("+tc.name+")", err, storage.ErrNotFound)
	}
	mustRead(t, db, func(tx storage.Tx) error {
		c, err := tx.GetCustomer(ctx, otherTenant, foreign.ID, false)
		if err != nil || len(c.Cards) != 1 {
			t.Errorf("GetCustomer(foreign) = %+v, %v, want it with its card", c, err)
		}
		_, err = tx.CustomerStatus(ctx, otherTenant, a.ID)
		checkErr(t, "CustomerStatus(another tenant's)", err, storage.ErrNotFound)
		_, err = tx.GetCustomer(ctx, otherTenant, b.ID, false)
		checkErr(t, "GetCustomer(another tenant's merged id)", err, storage.ErrNotFound)
		return nil
	})
}

func testPendingPurchases(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	c, other := newCustomer(t, db, tenantID, ""), newCustomer(t, db, tenantID, "")
	var want []string
	mustWrite(t, db, func(tx storage.Tx) error {
		for i, ext := range []string{"P-1", "P-2", "P-3", "O-1"} {
			owner := c.ID
			if ext == "O-1" {
				owner = other.ID
			}
			p := newPurchase(tenantID, owner, ext)
			if err := tx.CreatePurchase(ctx, p); err != nil {
				return err
			}
			if i == 1 {
				p.Status = kopilka.PurchaseComplete
				if err := tx.UpdatePurchase(ctx, p); err != nil {
					return err
				}
			} else if owner == c.ID {
				want = append(want, p.ID)
			}
		}
		return nil
	})
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.PendingPurchases(ctx, tenantID, c.ID, 10)
		checkErr(t, "PendingPurchases", err, nil)
		slices.Sort(got)
		slices.Sort(want)
		diff(t, "PendingPurchases", want, got)
		got, err = tx.PendingPurchases(ctx, tenantID, c.ID, 1)
		if err != nil || len(got) != 1 {
			t.Errorf("PendingPurchases(limit 1) = %v, %v, want one", got, err)
		}
		return nil
	})
}

// testErase erases a customer and the one merged into it: no personal
// data is left in the rows, the history or the external ids, cards are
// blocked, lookups find nothing, ledger rows stay, others are untouched.
func testErase(t *testing.T, db storage.DB) {
	ctx := t.Context()
	f := newMergeFixture(t, db)
	now := time.Now().UTC().Truncate(time.Second)
	mustWrite(t, db, func(tx storage.Tx) error {
		for _, c := range []*kopilka.Customer{f.survivor, f.from, f.other} {
			c.ExtraPhone, c.Email, c.FirstName, c.LastName, c.MiddleName = "+79129999999", "x@example.com", "Анна", "Иванова", "Петровна"
			c.BirthDate, c.Gender, c.AdConsent, c.AdConsentAt, c.AdConsentVia, c.Tags = "1990-05-17", "female", true, &now, "api", []string{"vip"}
			if err := tx.UpdateCustomer(ctx, c); err != nil {
				return err
			}
		}
		if err := tx.AddCustomerChanges(ctx, f.tenant, []kopilka.CustomerChange{
			{CustomerID: f.survivor.ID, Field: "last_name", OldValue: "Петрова", NewValue: "Иванова", Actor: "key_1"},
			{CustomerID: f.from.ID, Field: "phone", OldValue: "+79120000009", NewValue: "+79120000002", Actor: "key_1"},
			{CustomerID: f.survivor.ID, Field: "group", OldValue: "", NewValue: "staff", Actor: "key_1"},
			{CustomerID: f.other.ID, Field: "last_name", OldValue: "Петрова", NewValue: "Иванова", Actor: "key_1"},
		}); err != nil {
			return err
		}
		return f.merge(tx, t)
	})
	for range 2 { // erasing again changes nothing and succeeds
		mustWrite(t, db, func(tx storage.Tx) error { return tx.EraseCustomer(ctx, f.tenant, f.survivor.ID) })
	}
	err := db.Write(ctx, func(tx storage.Tx) error { return tx.EraseCustomer(ctx, f.tenant, kopilka.NewID("cus")) })
	checkErr(t, "EraseCustomer(unknown)", err, storage.ErrNotFound)
	otherTenant := newTenant(t, db)
	err = db.Write(ctx, func(tx storage.Tx) error { return tx.EraseCustomer(ctx, otherTenant, f.other.ID) })
	checkErr(t, "EraseCustomer(another tenant's)", err, storage.ErrNotFound)

	mustRead(t, db, func(tx storage.Tx) error {
		for _, id := range []string{f.survivor.ID, f.from.ID} {
			st, err := tx.CustomerStatus(ctx, f.tenant, id)
			if err != nil || !st.Deleted {
				t.Errorf("CustomerStatus(%s) = %+v, %v, want deleted", id, st, err)
			}
			_, err = tx.GetCustomer(ctx, f.tenant, id, false)
			checkErr(t, "GetCustomer(erased)", err, storage.ErrNotFound)
			_, err = tx.Balance(ctx, f.tenant, id, tx.Now())
			checkErr(t, "Balance(erased)", err, storage.ErrNotFound)
			_, err = tx.LockCustomer(ctx, f.tenant, id)
			checkErr(t, "LockCustomer(erased)", err, storage.ErrNotFound)
			ch, err := tx.ListCustomerChanges(ctx, f.tenant, id, 0, 10)
			checkErr(t, "ListCustomerChanges(erased)", err, nil)
			for _, c := range ch {
				if c.Field != "group" && (c.OldValue != "" || c.NewValue != "") {
					t.Errorf("change %+v of an erased customer keeps its values", c)
				}
			}
		}
		for _, ref := range [][2]string{{"phone", "+79120000001"}, {"phone", "+79120000002"}, {"card", "S-1"}, {"card", "F-1"}, {"id", f.from.ID}} {
			_, err := tx.CustomerByRef(ctx, f.tenant, ref[0], ref[1], false)
			checkErr(t, "CustomerByRef("+ref[0]+" "+ref[1]+") after erasure", err, storage.ErrNotFound)
		}
		_, err := tx.CustomerIDByPhone(ctx, f.tenant, "+79120000001")
		checkErr(t, "CustomerIDByPhone(erased)", err, storage.ErrNotFound)
		for _, n := range []string{"S-1", "F-1", "F-2"} {
			k, err := tx.GetCard(ctx, f.tenant, n)
			if err != nil || k.Status != kopilka.CardBlocked {
				t.Errorf("GetCard(%s) = %+v, %v, want blocked", n, k, err)
			}
		}
		// The rows stay, with nothing personal in them.
		rows, err := tx.TransferCustomers(ctx, f.tenant, storage.DefaultIntegration, []string{f.survivor.ID, f.from.ID, f.other.ID}, false)
		checkErr(t, "TransferCustomers", err, nil)
		if len(rows) != 3 {
			t.Fatalf("TransferCustomers() = %d rows, want 3 (erased rows stay)", len(rows))
		}
		for _, r := range rows {
			personal := []string{r.Phone, r.ExtraPhone, r.Email, r.FirstName, r.LastName, r.MiddleName, r.BirthDate, r.Gender, r.AdConsentVia}
			erased := !slices.ContainsFunc(personal, func(s string) bool { return s != "" }) && !r.AdConsent && r.AdConsentAt == nil &&
				len(r.Tags) == 0 && len(r.ExternalIDs) == 0
			if want := r.ID != f.other.ID; erased != want {
				t.Errorf("customer %s erased = %v, want %v: %+v", r.ID, erased, want, r)
			}
		}
		m, err := tx.ImportLookup(ctx, f.tenant, storage.DefaultIntegration, storage.ImportKeys{ExternalIDs: []string{"CRM-F", "CRM-O"},
			IDs: []string{f.survivor.ID}, Cards: []string{"S-1"}})
		checkErr(t, "ImportLookup", err, nil)
		diff(t, "ImportLookup after erasure", &storage.ImportMatches{ExternalIDs: map[string]string{"CRM-O": f.other.ID},
			IDs: map[string]string{}, Phones: map[string]string{}, Cards: map[string]string{},
			RetiredCards: map[string]bool{"S-1": true}}, m)
		// Searches by e-mail, name and tag (terms now on both databases)
		// find only the customer not erased, who shares all three.
		for _, s := range []storage.CustomerSearch{{Email: "x@example.com"}, {Name: "Иванова"}, {Tag: "vip"}} {
			s.Limit = 10
			found, err := tx.SearchCustomers(ctx, f.tenant, s)
			checkErr(t, fmt.Sprintf("SearchCustomers(%+v) after erasure", s), err, nil)
			diff(t, fmt.Sprintf("SearchCustomers(%+v) after erasure", s), []string{f.other.ID}, ids(found))
		}
		ch, err := tx.ListCustomerChanges(ctx, f.tenant, f.other.ID, 0, 10)
		if err != nil || len(ch) != 1 || ch[0].NewValue != "Иванова" {
			t.Errorf("ListCustomerChanges(other) = %+v, %v, want its change kept", ch, err)
		}
		ops, err := tx.ListOperations(ctx, f.tenant, f.survivor.ID, "", 10)
		if err != nil || len(ops) != 3 {
			t.Errorf("ListOperations(erased) = %v, %v, want the three ledger operations kept", ops, err)
		}
		return nil
	})
	// The phone is free again.
	newCustomer(t, db, f.tenant, "+79120000001")
	checkVerifies(t, db, f.tenant)
}

// checkVerifies fails the test unless the tenant's ledger proves out.
func checkVerifies(t *testing.T, db storage.DB, tenantID string) {
	t.Helper()
	mustRead(t, db, func(tx storage.Tx) error {
		f, err := tx.VerifyFacts(t.Context(), tenantID)
		if err != nil {
			return err
		}
		for _, d := range ledger.Verify(*f) {
			t.Errorf("Verify() found %s", d)
		}
		return nil
	})
}
