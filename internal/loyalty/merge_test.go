package loyalty_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage"
)

// enrol creates a customer with a card.
func (e *env) enrol(t *testing.T, c kopilka.Customer, card string) *kopilka.Customer {
	t.Helper()
	got, err := e.svc.CreateCustomer(e.ctx, e.tenant.ID, loyalty.CustomerInput{Customer: c, Card: card}, nil)
	if err != nil {
		t.Fatalf("CreateCustomer(%+v, %q) = %v", c, card, err)
	}
	return got
}

// indebt leaves c owing points: it buys with 1000.00 credited, spends
// everything, then refunds the purchase, which revokes the spent accrual.
// It returns the debt.
func (e *env) indebt(t *testing.T, c *kopilka.Customer) kopilka.Amount {
	t.Helper()
	e.adjust(t, c.ID, 100000)
	in := shopInput(c.ID, "DEBT-"+c.ID, 0)
	in.Confirm = true
	p := e.createPurchase(t, in)
	if p.Accrue <= 0 {
		t.Fatalf("purchase %s accrued %d, want some", p.ID, p.Accrue)
	}
	e.adjust(t, c.ID, -e.balance(t, c.ID).Available)
	e.refund(t, p.ID, loyalty.RefundInput{ExternalID: "DEBT-RF-" + c.ID})
	b := e.balance(t, c.ID)
	if b.Debt != p.Accrue || b.Available != -p.Accrue {
		t.Fatalf("after the refund debt = %d, available = %d, want %d and %d", b.Debt, b.Available, p.Accrue, -p.Accrue)
	}
	return b.Debt
}

func (e *env) merge(t *testing.T, into, from string) *kopilka.Customer {
	t.Helper()
	c, err := e.svc.MergeCustomers(e.ctx, e.tenant.ID, into, from, nil)
	if err != nil {
		t.Fatalf("MergeCustomers(%s, %s) = %v", into, from, err)
	}
	return c
}

func opTypes(ops []kopilka.Operation) map[kopilka.OpType]int {
	out := map[kopilka.OpType]int{}
	for _, op := range ops {
		out[op.Type]++
	}
	return out
}

// TestMerge merges two customers into a third: lots keep their expiry,
// pending points wait for their activation, debts and purchase sums add
// up, the debt is repaid from the points taken over, the old ids, phone
// and cards find the survivor, and the history shows everything.
func TestMerge(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil) // expiry 365 days, no activation delay
		s := e.enrol(t, kopilka.Customer{Phone: "+79120000001", FirstName: "Анна", Tags: []string{"vip"}}, "S-1")
		g := e.enrol(t, kopilka.Customer{Phone: "+79120000002", Email: "g@example.com", Tags: []string{"кофе"}}, "G-1")
		f := e.enrol(t, kopilka.Customer{LastName: "Петрова", BirthDate: "1990-05-17"}, "F-1")

		// The debt first (it takes every point f has), at t0.
		debt := e.indebt(t, f)
		e.adjust(t, s.ID, 30000) // burns t0 + 365 d
		e.adjust(t, g.ID, 15000) // burns t0 + 365 d
		e.clock.Advance(30 * 24 * time.Hour)
		e.shopProgram(t, func(p *kopilka.Program) { p.ExpiryDays = 100 })
		e.adjust(t, s.ID, 20000) // burns t0 + 130 d
		e.adjust(t, g.ID, 5000)  // burns t0 + 130 d
		// f's purchase waits 7 days for activation, then burns 100 days on.
		e.shopProgram(t, func(p *kopilka.Program) { p.ExpiryDays = 100; p.ActivationDelayDays = 7 })
		in := shopInput(f.ID, "F-PENDING", 0)
		in.Confirm = true
		fp := e.createPurchase(t, in)

		before := map[string]*kopilka.Balance{}
		for _, c := range []*kopilka.Customer{s, g, f} {
			before[c.ID] = e.balance(t, c.ID)
		}
		if before[f.ID].Pending != fp.Accrue || before[f.ID].Debt != debt {
			t.Fatalf("f before the merge = %+v, want pending %d and debt %d", before[f.ID], fp.Accrue, debt)
		}
		system := e.systemBalances(t)

		e.merge(t, s.ID, g.ID)
		got := e.merge(t, s.ID, f.ID)

		// Profile: the survivor keeps its own and fills its blanks.
		wantProfile := kopilka.Customer{Phone: "+79120000001", ExtraPhone: "+79120000002", Email: "g@example.com",
			FirstName: "Анна", LastName: "Петрова", BirthDate: "1990-05-17", Tags: []string{"vip", "кофе"}}
		gotProfile := kopilka.Customer{Phone: got.Phone, ExtraPhone: got.ExtraPhone, Email: got.Email, FirstName: got.FirstName,
			LastName: got.LastName, BirthDate: got.BirthDate, Tags: got.Tags}
		if diff := cmp.Diff(wantProfile, gotProfile); diff != "" {
			t.Errorf("survivor profile mismatch (-want +got):\n%s", diff)
		}
		var cards []string
		for _, k := range got.Cards {
			cards = append(cards, k.Number+"/"+k.Status)
		}
		slices.Sort(cards)
		if diff := cmp.Diff([]string{"F-1/active", "G-1/active", "S-1/active"}, cards); diff != "" {
			t.Errorf("survivor cards mismatch (-want +got):\n%s", diff)
		}

		// Points: the sum of the three, the debt repaid from the soonest
		// expiring points, each lot's expiry kept.
		b := e.balance(t, s.ID)
		var sum kopilka.Balance
		for _, x := range before {
			sum.Available += x.Available
			sum.Pending += x.Pending
			sum.PurchasesTotal += x.PurchasesTotal
		}
		if b.Available != sum.Available || b.Pending != sum.Pending || b.Debt != 0 || b.PurchasesTotal != sum.PurchasesTotal {
			t.Errorf("survivor balance = %+v, want available %d, pending %d, debt 0, purchases_total %d",
				b, sum.Available, sum.Pending, sum.PurchasesTotal)
		}
		if b.Tier != "Silver" {
			t.Errorf("survivor tier = %q, want Silver (purchases_total %d)", b.Tier, b.PurchasesTotal)
		}
		wantExpiring := []kopilka.Expiring{
			{Amount: 25000 - debt, ExpiresAt: t0.AddDate(0, 0, 130)},
			{Amount: 45000, ExpiresAt: t0.AddDate(0, 0, 365)},
		}
		if diff := cmp.Diff(wantExpiring, b.Expiring); diff != "" {
			t.Errorf("survivor expiring mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(system, e.systemBalances(t)); diff != "" {
			t.Errorf("a merge changed the system accounts (-before +after):\n%s", diff)
		}

		// The old ids, phone and cards find the survivor.
		for _, ref := range []loyalty.Ref{{ID: f.ID}, {ID: g.ID}, {Phone: "+79120000002"}, {Card: "F-1"}, {Card: "G-1"}} {
			c, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, ref)
			if err != nil || c.ID != s.ID {
				t.Errorf("FindCustomer(%+v) = %v, %v, want the survivor %s", ref, c, err, s.ID)
			}
		}
		if c, _, err := e.svc.GetCustomer(e.ctx, e.tenant.ID, f.ID); err != nil || c.ID != s.ID {
			t.Errorf("GetCustomer(%s) = %v, %v, want the survivor %s", f.ID, c, err, s.ID)
		}
		if fb := e.balance(t, f.ID); fb.Available != b.Available {
			t.Errorf("Balance(merged %s).Available = %d, want the survivor's %d", f.ID, fb.Available, b.Available)
		}

		// History: everyone's operations, and the two merges in Russian.
		ops := e.operations(t, s.ID)
		want := map[kopilka.OpType]int{kopilka.OpAdjustment: 6, kopilka.OpAccrual: 2, kopilka.OpRefund: 1, kopilka.OpMerge: 2}
		if diff := cmp.Diff(want, opTypes(ops)); diff != "" {
			t.Errorf("survivor history types mismatch (-want +got):\n%s", diff)
		}
		i := slices.IndexFunc(ops, func(op kopilka.Operation) bool {
			return op.Type == kopilka.OpMerge && strings.Contains(op.Message, f.ID)
		})
		if i < 0 || !strings.Contains(ops[i].Message, "Объединение") || ops[i].CustomerID != s.ID {
			t.Fatalf("survivor history %+v, want the merge of %s with a Russian message", ops, f.ID)
		}
		// f's available is −debt and its pending the same accrual: 0 net.
		if ops[i].Amount != before[f.ID].Available+before[f.ID].Pending {
			t.Errorf("merge amount = %d, want f's available + pending %d", ops[i].Amount, before[f.ID].Available+before[f.ID].Pending)
		}
		checkVerify(t, e.svc)

		// f's pending points activate as the survivor's, and its purchase
		// refunds from the survivor (before activation: from the lot).
		e.refund(t, fp.ID, loyalty.RefundInput{ExternalID: "F-RF", Lines: []kopilka.RefundLine{{Line: 1, Quantity: 1000}}})
		e.clock.Advance(8 * 24 * time.Hour)
		if _, err := e.svc.RunDue(e.ctx, 0); err != nil {
			t.Fatalf("RunDue() = %v", err)
		}
		b = e.balance(t, s.ID)
		if b.Pending != 0 || b.Available <= sum.Available {
			t.Errorf("after activation balance = %+v, want nothing pending and more than %d available", b, sum.Available)
		}
		checkVerify(t, e.svc)
		// And the soonest lots burn on their own date (f's, activated at
		// t0 + 37 d, burn at t0 + 137 d).
		e.clock.Advance(93 * 24 * time.Hour)
		res, err := e.svc.RunDue(e.ctx, 0)
		if err != nil || res.Expired != 25000-debt {
			t.Errorf("RunDue() at t0 + 131 d = %+v, %v, want %d expired", res, err, 25000-debt)
		}
	})
}

// TestMergeRefused: bad merges are refused with their code and change
// nothing.
func TestMergeRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		a := e.enrol(t, kopilka.Customer{Phone: "+79120000001"}, "A-1")
		b := e.enrol(t, kopilka.Customer{Phone: "+79120000002"}, "B-1")
		c := e.enrol(t, kopilka.Customer{}, "")
		d := e.enrol(t, kopilka.Customer{}, "")
		e.adjust(t, a.ID, 10000)
		e.adjust(t, b.ID, 10000)
		pending := e.createPurchase(t, shopInput(b.ID, "B-PENDING", 1000))
		e.merge(t, c.ID, d.ID)
		if _, err := e.svc.SetSettings(e.ctx, e.tenant.ID, kopilka.TenantSettings{AllowLegalEntities: true}); err != nil {
			t.Fatalf("SetSettings() = %v", err)
		}
		company := e.enrol(t, kopilka.Customer{Kind: kopilka.LegalEntity}, "")
		x := e.enrol(t, kopilka.Customer{}, "")
		if err := e.svc.DeleteCustomer(e.ctx, e.tenant.ID, x.ID); err != nil {
			t.Fatalf("DeleteCustomer(%s) = %v", x.ID, err)
		}
		balances := func() map[string]*kopilka.Balance {
			return map[string]*kopilka.Balance{a.ID: e.balance(t, a.ID), b.ID: e.balance(t, b.ID), c.ID: e.balance(t, c.ID)}
		}
		start := balances()

		for _, tc := range []struct {
			name, into, from string
			code             kopilka.Code
			detail           string
		}{
			{"Itself", a.ID, a.ID, kopilka.CodeInvalidRequest, ""},
			{"NoFrom", a.ID, "", kopilka.CodeInvalidRequest, ""},
			{"UnknownFrom", a.ID, kopilka.NewID("cus"), kopilka.CodeCustomerNotFound, ""},
			{"UnknownInto", kopilka.NewID("cus"), a.ID, kopilka.CodeNotFound, ""},
			{"PendingPurchase", a.ID, b.ID, kopilka.CodeConflict, pending.ID},
			{"AlreadyMerged", a.ID, d.ID, kopilka.CodeConflict, c.ID},
			{"IntoMerged", d.ID, a.ID, kopilka.CodeConflict, c.ID},
			{"IntoOwnSurvivor", d.ID, c.ID, kopilka.CodeConflict, ""},
			{"Deleted", a.ID, x.ID, kopilka.CodeConflict, "deleted"},
			{"IntoDeleted", x.ID, a.ID, kopilka.CodeConflict, "deleted"},
			{"OtherKind", a.ID, company.ID, kopilka.CodeConflict, "legal_entity"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.MergeCustomers(e.ctx, e.tenant.ID, tc.into, tc.from, nil)
				wantCode(t, "MergeCustomers", err, tc.code)
				if !strings.Contains(fmt.Sprint(err), tc.detail) {
					t.Errorf("MergeCustomers() error = %v, want it to name %q", err, tc.detail)
				}
			})
		}
		if diff := cmp.Diff(start, balances()); diff != "" {
			t.Errorf("refused merges changed balances (-before +after):\n%s", diff)
		}
		// Once the purchase is settled the merge goes through.
		e.confirmPurchase(t, pending.ID)
		e.merge(t, a.ID, b.ID)
	})
}

// TestMergeConcurrent merges b into a while cashiers sell to both, by card
// and by id and phone: every sale goes through (a lock that waited for the
// merge finds the survivor), nothing is lost or spent twice, and the
// ledger proves out.
func TestMergeConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		a := e.enrol(t, kopilka.Customer{Phone: "+79120000001"}, "A-1")
		b := e.enrol(t, kopilka.Customer{Phone: "+79120000002"}, "B-1")
		e.adjust(t, a.ID, 100000)
		e.adjust(t, b.ID, 100000)

		const sales = 8
		refs := []loyalty.Ref{{ID: a.ID}, {Card: "A-1"}, {ID: b.ID}, {Card: "B-1"}, {Phone: "+79120000002"}}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var done []*kopilka.Purchase
		var mergeErr error
		for i := range sales * len(refs) {
			wg.Go(func() {
				in := loyalty.PurchaseInput{Customer: refs[i%len(refs)], Lines: shopLines, Redeem: 500,
					ExternalID: fmt.Sprintf("C-%d", i), Confirm: true}
				p, err := e.svc.CreatePurchase(e.ctx, e.tenant.ID, in, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("CreatePurchase(%+v) = %v", in.Customer, err)
					return
				}
				done = append(done, p)
			})
			if i == sales*len(refs)/2 {
				wg.Go(func() { _, mergeErr = e.svc.MergeCustomers(e.ctx, e.tenant.ID, a.ID, b.ID, nil) })
			}
		}
		wg.Wait()
		if mergeErr != nil {
			t.Fatalf("MergeCustomers() = %v", mergeErr)
		}
		want := kopilka.Amount(200000)
		for _, p := range done {
			want += p.Accrue - p.Redeem
		}
		bal := e.balance(t, a.ID)
		if got := bal.Available + bal.Pending + bal.Reserved; got != want {
			t.Errorf("survivor holds %d points, want 200000 + accrued − redeemed = %d", got, want)
		}
		if c, _, err := e.svc.GetCustomer(e.ctx, e.tenant.ID, b.ID); err != nil || c.ID != a.ID {
			t.Errorf("GetCustomer(%s) = %v, %v, want the survivor", b.ID, c, err)
		}
	})
}

// TestDeleteCustomer deletes customers with points, pending points and a
// debt: the points are forfeited to revoked, the personal data is gone,
// the customer is found no more, and again is the same answer.
func TestDeleteCustomer(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, func(p *kopilka.Program) { p.ActivationDelayDays = 7 })
		c := e.enrol(t, kopilka.Customer{Phone: "+79120000001", ExtraPhone: "+79120000009", Email: "anna@example.com",
			FirstName: "Анна", LastName: "Иванова", MiddleName: "Петровна", BirthDate: "1990-05-17", Gender: "female",
			AdConsent: true, Tags: []string{"vip"}}, "C-1")
		merged := e.enrol(t, kopilka.Customer{Phone: "+79120000002", FirstName: "Анюта"}, "M-1")
		indebted := e.enrol(t, kopilka.Customer{Phone: "+79120000003"}, "D-1")
		other := e.enrol(t, kopilka.Customer{Phone: "+79120000004", FirstName: "Борис"}, "O-1")
		e.adjust(t, c.ID, 30000)
		in := shopInput(c.ID, "C-PENDING", 0)
		in.Confirm = true
		bought := e.createPurchase(t, in) // pending points for 7 days
		e.adjust(t, merged.ID, 1000)
		e.merge(t, c.ID, merged.ID)
		if _, err := e.svc.UpdateCustomer(e.ctx, e.tenant.ID, c.ID, kopilka.CustomerPatch{LastName: ptr("Сидорова")}); err != nil {
			t.Fatalf("UpdateCustomer() = %v", err)
		}
		e.shopProgram(t, nil)
		debt := e.indebt(t, indebted)
		otherBefore := e.balance(t, other.ID)

		// A pending purchase stops the deletion until it is settled.
		p := e.createPurchase(t, shopInput(c.ID, "C-OPEN", 100))
		err := e.svc.DeleteCustomer(e.ctx, e.tenant.ID, c.ID)
		wantCode(t, "DeleteCustomer with a pending purchase", err, kopilka.CodeConflict)
		if !strings.Contains(err.Error(), p.ID) {
			t.Errorf("DeleteCustomer() error = %v, want it to name %s", err, p.ID)
		}
		if _, err := e.svc.CancelPurchase(e.ctx, e.tenant.ID, p.ID, nil); err != nil {
			t.Fatalf("CancelPurchase() = %v", err)
		}
		wantCode(t, "DeleteCustomer of a merged id", e.svc.DeleteCustomer(e.ctx, e.tenant.ID, merged.ID), kopilka.CodeConflict)
		wantCode(t, "DeleteCustomer of nobody", e.svc.DeleteCustomer(e.ctx, e.tenant.ID, kopilka.NewID("cus")), kopilka.CodeNotFound)

		e.clock.Advance(time.Minute) // the deletion is the newest operation
		b := e.balance(t, c.ID)
		revoked := e.systemBalances(t)[ledger.Revoked]
		for i := range 2 { // the second time changes nothing and succeeds
			if err := e.svc.DeleteCustomer(e.ctx, e.tenant.ID, c.ID); err != nil {
				t.Fatalf("DeleteCustomer(%s) #%d = %v", c.ID, i+1, err)
			}
		}
		if got, want := e.systemBalances(t)[ledger.Revoked]-revoked, b.Available+b.Pending; got != want {
			t.Errorf("revoked moved by %d, want available + pending = %d", got, want)
		}
		if err := e.svc.DeleteCustomer(e.ctx, e.tenant.ID, indebted.ID); err != nil {
			t.Fatalf("DeleteCustomer(%s) with debt %d = %v", indebted.ID, debt, err)
		}
		checkVerify(t, e.svc)

		for _, id := range []string{c.ID, merged.ID, indebted.ID} {
			_, _, err := e.svc.GetCustomer(e.ctx, e.tenant.ID, id)
			wantCode(t, "GetCustomer("+id+") after deletion", err, kopilka.CodeNotFound)
			_, err = e.svc.Balance(e.ctx, e.tenant.ID, id)
			wantCode(t, "Balance("+id+") after deletion", err, kopilka.CodeNotFound)
			_, err = e.svc.Operations(e.ctx, e.tenant.ID, id, "", 10)
			wantCode(t, "Operations("+id+") after deletion", err, kopilka.CodeNotFound)
		}
		for _, ref := range []loyalty.Ref{{Phone: "+79120000001"}, {Phone: "+79120000002"}, {Card: "C-1"}, {Card: "M-1"}, {Card: "D-1"}} {
			_, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, ref)
			wantCode(t, fmt.Sprintf("FindCustomer(%+v) after deletion", ref), err, kopilka.CodeCustomerNotFound)
		}
		// Its purchases can no longer be refunded: nobody to give to.
		_, err = e.svc.RefundPurchase(e.ctx, e.tenant.ID, bought.ID, loyalty.RefundInput{ExternalID: "C-RF"}, nil)
		wantCode(t, "RefundPurchase of a deleted customer's purchase", err, kopilka.CodeConflict)
		// The cards stay blocked.
		_, err = e.svc.UnblockCard(e.ctx, e.tenant.ID, "C-1", nil)
		wantCode(t, "UnblockCard of a deleted customer's card", err, kopilka.CodeConflict)
		_, err = e.svc.ReplaceCard(e.ctx, e.tenant.ID, "M-1", loyalty.ReplaceInput{Number: "C-2"})
		wantCode(t, "ReplaceCard of a deleted customer's card", err, kopilka.CodeConflict)
		_, err = e.svc.IssueCard(e.ctx, e.tenant.ID, c.ID, loyalty.CardInput{Number: "C-3"})
		wantCode(t, "IssueCard to a deleted customer", err, kopilka.CodeNotFound)
		// Nothing personal is left in the rows or the change history;
		// the ledger rows stay.
		err = e.db.Read(e.ctx, func(tx storage.Tx) error {
			for _, id := range []string{c.ID, merged.ID} {
				st, err := tx.CustomerStatus(e.ctx, e.tenant.ID, id)
				if err != nil || !st.Deleted {
					t.Errorf("CustomerStatus(%s) = %+v, %v, want deleted", id, st, err)
				}
				ch, err := tx.ListCustomerChanges(e.ctx, e.tenant.ID, id, 0, 100)
				if err != nil {
					return err
				}
				for _, x := range ch {
					for _, v := range []string{x.OldValue, x.NewValue} {
						for _, pd := range []string{"Анна", "Анюта", "Иванова", "Сидорова", "+7912", "anna@", "1990"} {
							if strings.Contains(v, pd) {
								t.Errorf("change %+v of %s still holds %q", x, id, pd)
							}
						}
					}
				}
			}
			ops, err := tx.ListOperations(e.ctx, e.tenant.ID, c.ID, "", 100)
			if err != nil {
				return err
			}
			if len(ops) == 0 || ops[0].Type != kopilka.OpDeletion || ops[0].Amount != -(b.Available+b.Pending) {
				t.Errorf("operations of %s = %+v, want the deletion of %d first", c.ID, ops, b.Available+b.Pending)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Read() = %v", err)
		}
		// The phone and the other customer are free and untouched.
		if diff := cmp.Diff(otherBefore, e.balance(t, other.ID)); diff != "" {
			t.Errorf("another customer's balance changed (-before +after):\n%s", diff)
		}
		again := e.enrol(t, kopilka.Customer{Phone: "+79120000001"}, "")
		if again.ID == c.ID {
			t.Errorf("re-enrolment got the deleted id %s", c.ID)
		}
		// Expiry and activation runs pass the deleted customer by.
		e.clock.Advance(400 * 24 * time.Hour)
		if res, err := e.svc.RunDue(e.ctx, 0); err != nil || res.Expired != 0 || res.Activated != 0 {
			t.Errorf("RunDue() after the deletions = %+v, %v, want nothing to do", res, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestMergeBirthday: a merged record's birthday pays no bonus; the
// survivor's own birthday still does.
func TestMergeBirthday(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.setProgram(t, func(p *kopilka.Program) { p.BirthdayBonus = 5000 })
		today := t0.Format("01-02")
		s := e.enrol(t, kopilka.Customer{BirthDate: "1980-12-31"}, "")
		f := e.enrol(t, kopilka.Customer{BirthDate: "1990-" + today}, "")
		e.merge(t, s.ID, f.ID)
		if n, err := e.svc.RunBirthdays(e.ctx); err != nil || n != 0 {
			t.Errorf("RunBirthdays() on the merged record's birthday = %d, %v, want 0 paid", n, err)
		}
		other := e.enrol(t, kopilka.Customer{BirthDate: "1991-" + today}, "")
		if n, err := e.svc.RunBirthdays(e.ctx); err != nil || n != 1 {
			t.Errorf("RunBirthdays() with another customer's birthday = %d, %v, want 1 paid", n, err)
		}
		if b := e.balance(t, other.ID); b.Available != 5000 {
			t.Errorf("Balance(%s).Available = %d, want the bonus 5000", other.ID, b.Available)
		}
	})
}
