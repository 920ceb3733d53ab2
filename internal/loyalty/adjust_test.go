package loyalty_test

import (
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

func TestAdjust(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c := e.customer(t, kopilka.Customer{})

		credit := e.adjust(t, c.ID, 10000)
		if credit.Type != kopilka.OpAdjustment || credit.Status != kopilka.StatusComplete || credit.Amount != 10000 || credit.CustomerID != c.ID {
			t.Errorf("Adjust(+10000) = %+v, want a complete adjustment of 10000", credit)
		}
		debit := e.adjust(t, c.ID, -4000)
		if debit.Type != kopilka.OpAdjustment || debit.Amount != -4000 {
			t.Errorf("Adjust(-4000) = %+v, want an adjustment of -4000", debit)
		}
		if b := e.balance(t, c.ID); b.Available != 6000 {
			t.Errorf("Balance().Available = %d, want 6000", b.Available)
		}

		// An overdraft is refused and writes nothing.
		before := e.operations(t, c.ID)
		sysBefore := e.systemBalances(t)
		_, err := e.svc.Adjust(e.ctx, e.tenant.ID, c.ID, loyalty.AdjustInput{Amount: -6001, ExternalID: "over"}, nil)
		wantCode(t, "Adjust(-6001)", err, kopilka.CodeInsufficientPoints)
		if diff := cmp.Diff(before, e.operations(t, c.ID)); diff != "" {
			t.Errorf("Operations() after a refused debit mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(sysBefore, e.systemBalances(t)); diff != "" {
			t.Errorf("system accounts after a refused debit mismatch (-want +got):\n%s", diff)
		}
		if b := e.balance(t, c.ID); b.Available != 6000 {
			t.Errorf("Balance().Available after a refused debit = %d, want 6000", b.Available)
		}
		// The refusal left its external id free.
		if _, err := e.svc.Adjust(e.ctx, e.tenant.ID, c.ID, loyalty.AdjustInput{Amount: -6000, ExternalID: "over"}, nil); err != nil {
			t.Errorf("Adjust(-6000, external id of a refused debit) = %v, want success", err)
		}
		if b := e.balance(t, c.ID); b.Available != 0 {
			t.Errorf("Balance().Available = %d, want 0", b.Available)
		}
		_, err = e.svc.Adjust(e.ctx, e.tenant.ID, c.ID, loyalty.AdjustInput{Amount: -1}, nil)
		wantCode(t, "Adjust(-1) on an empty balance", err, kopilka.CodeInsufficientPoints)

		invalid := []struct {
			name  string
			in    loyalty.AdjustInput
			field string
		}{
			{"Zero", loyalty.AdjustInput{Amount: 0}, "amount"},
			{"TooLarge", loyalty.AdjustInput{Amount: kopilka.MaxAmount + 1}, "amount"},
			{"TooSmall", loyalty.AdjustInput{Amount: -kopilka.MaxAmount - 1}, "amount"},
			{"ReasonTooLong", loyalty.AdjustInput{Amount: 1, Reason: strings.Repeat("я", 501)}, "reason"},
			{"ExternalIDTooLong", loyalty.AdjustInput{Amount: 1, ExternalID: strings.Repeat("x", 129)}, "external_id"},
		}
		for _, tt := range invalid {
			_, err := e.svc.Adjust(e.ctx, e.tenant.ID, c.ID, tt.in, nil)
			if ke := kopilka.AsError(err); ke == nil || ke.Code != kopilka.CodeInvalidRequest || ke.Field != tt.field {
				t.Errorf("%s: Adjust(%+v) = %v, want invalid_request on %q", tt.name, tt.in, err, tt.field)
			}
		}
		_, err = e.svc.Adjust(e.ctx, e.tenant.ID, kopilka.NewID("cus"), loyalty.AdjustInput{Amount: 1}, nil)
		wantCode(t, "Adjust(unknown customer)", err, kopilka.CodeNotFound)

		sys := e.systemBalances(t)
		want := map[ledger.Account]int64{ledger.Issued: -10000, ledger.Revoked: 10000}
		if diff := cmp.Diff(want, sys); diff != "" {
			t.Errorf("system accounts mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestAdjustExternalID(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c := e.customer(t, kopilka.Customer{})
		d := e.customer(t, kopilka.Customer{})
		in := loyalty.AdjustInput{Amount: 500, Reason: "компенсация", ExternalID: "crm-1"}
		first, err := e.svc.Adjust(e.ctx, e.tenant.ID, c.ID, in, nil)
		if err != nil {
			t.Fatalf("Adjust() = %v", err)
		}
		e.clock.Advance(time.Minute)
		again, err := e.svc.Adjust(e.ctx, e.tenant.ID, c.ID, in, nil)
		if err != nil || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Fatalf("Adjust(replay) = %+v, %v, want the first operation %s", again, err, first.ID)
		}
		if b := e.balance(t, c.ID); b.Available != 500 {
			t.Errorf("Balance().Available after a replay = %d, want 500", b.Available)
		}
		others := []struct {
			name       string
			customerID string
			in         loyalty.AdjustInput
		}{
			{"OtherAmount", c.ID, loyalty.AdjustInput{Amount: 501, Reason: "компенсация", ExternalID: "crm-1"}},
			{"OtherReason", c.ID, loyalty.AdjustInput{Amount: 500, Reason: "другое", ExternalID: "crm-1"}},
			{"OtherCustomer", d.ID, in},
		}
		for _, tt := range others {
			_, err := e.svc.Adjust(e.ctx, e.tenant.ID, tt.customerID, tt.in, nil)
			if ke := kopilka.AsError(err); ke == nil || ke.Code != kopilka.CodeConflict || ke.Field != "external_id" {
				t.Errorf("%s: Adjust() = %v, want conflict on external_id", tt.name, err)
			}
		}
		if ops := e.operations(t, c.ID); len(ops) != 1 {
			t.Errorf("Operations() = %d operations, want 1", len(ops))
		}
		if ops := e.operations(t, d.ID); len(ops) != 0 {
			t.Errorf("Operations(other customer) = %d operations, want 0", len(ops))
		}
		// Another tenant has its own external ids.
		ten2, _, err := e.svc.CreateTenant(e.ctx, "Second")
		if err != nil {
			t.Fatalf("CreateTenant() = %v", err)
		}
		c2, err := e.svc.CreateCustomer(e.ctx, ten2.ID, loyalty.CustomerInput{}, nil)
		if err != nil {
			t.Fatalf("CreateCustomer() = %v", err)
		}
		op2, err := e.svc.Adjust(e.ctx, ten2.ID, c2.ID, in, nil)
		if err != nil || op2.ID == first.ID {
			t.Errorf("Adjust(other tenant, same external id) = %+v, %v, want a new operation", op2, err)
		}
	})
}

// TestAdjustExternalIDConcurrent sends one adjustment with an external id
// from many goroutines at once: every caller gets the same operation and
// the points arrive once.
func TestAdjustExternalIDConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c := e.customer(t, kopilka.Customer{})
		const n = 16
		in := loyalty.AdjustInput{Amount: 700, ExternalID: "race"}
		start := make(chan struct{})
		var wg sync.WaitGroup
		ops := make([]*kopilka.Operation, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				<-start
				ops[i], errs[i] = e.svc.Adjust(e.ctx, e.tenant.ID, c.ID, in, nil)
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || ops[i] == nil || ops[i].ID != ops[0].ID {
				t.Errorf("Adjust() #%d = %+v, %v, want operation %v", i, ops[i], errs[i], ops[0])
			}
		}
		if b := e.balance(t, c.ID); b.Available != 700 {
			t.Errorf("Balance().Available = %d, want 700 (one effect)", b.Available)
		}
	})
}

func TestBalance(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.setProgram(t, func(p *kopilka.Program) {
			p.ExpiryDays = 365
			p.Tiers = []kopilka.Tier{{Name: "Base"}, {Name: "Silver", Threshold: 1000000}}
		})
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, 10000)
		e.adjust(t, c.ID, 1000) // same instant: one expiring entry
		e.clock.Advance(24 * time.Hour)
		e.adjust(t, c.ID, 5000)
		first, second := t0.AddDate(0, 0, 365), t0.AddDate(0, 0, 366)
		want := &kopilka.Balance{Available: 16000, Tier: "Base",
			Expiring: []kopilka.Expiring{{Amount: 11000, ExpiresAt: first}, {Amount: 5000, ExpiresAt: second}}}
		if diff := cmp.Diff(want, e.balance(t, c.ID)); diff != "" {
			t.Errorf("Balance() mismatch (-want +got):\n%s", diff)
		}

		// A debit takes the soonest-expiring points first.
		e.adjust(t, c.ID, -12000)
		want = &kopilka.Balance{Available: 4000, Tier: "Base", Expiring: []kopilka.Expiring{{Amount: 4000, ExpiresAt: second}}}
		if diff := cmp.Diff(want, e.balance(t, c.ID)); diff != "" {
			t.Errorf("Balance() after a debit mismatch (-want +got):\n%s", diff)
		}

		// The tier follows purchases_total.
		for _, tt := range []struct {
			purchases kopilka.Amount
			tier      string
		}{{999999, "Base"}, {1000000, "Silver"}, {5000000, "Silver"}} {
			err := e.db.Write(e.ctx, func(tx storage.Tx) error {
				return tx.SetCustomerBalances(e.ctx, e.tenant.ID, c.ID, 0, tt.purchases)
			})
			if err != nil {
				t.Fatalf("SetCustomerBalances() = %v", err)
			}
			if b := e.balance(t, c.ID); b.Tier != tt.tier || b.PurchasesTotal != tt.purchases {
				t.Errorf("Balance() with purchases %d = tier %q, purchases %d, want %q", tt.purchases, b.Tier, b.PurchasesTotal, tt.tier)
			}
		}

		// Past its expiry time a lot is no longer available, even before
		// the expiry run burns it.
		e.clock.Advance(365 * 24 * time.Hour)
		want = &kopilka.Balance{Available: 0, Tier: "Silver", PurchasesTotal: 5000000, Expiring: []kopilka.Expiring{}}
		if diff := cmp.Diff(want, e.balance(t, c.ID)); diff != "" {
			t.Errorf("Balance() after expiry time mismatch (-want +got):\n%s", diff)
		}
		_, err := e.svc.Adjust(e.ctx, e.tenant.ID, c.ID, loyalty.AdjustInput{Amount: -1}, nil)
		wantCode(t, "Adjust(-1) of expired points", err, kopilka.CodeInsufficientPoints)

		_, err = e.svc.Balance(e.ctx, e.tenant.ID, kopilka.NewID("cus"))
		wantCode(t, "Balance(unknown)", err, kopilka.CodeNotFound)
	})
}

func TestOperations(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c := e.customer(t, kopilka.Customer{})
		var made []string
		for i := range 7 {
			if i != 3 { // two operations share an instant: the cursor must still work
				e.clock.Advance(time.Second)
			}
			made = append(made, e.adjust(t, c.ID, kopilka.Amount(100*(i+1))).ID)
		}
		all := e.operations(t, c.ID)
		if len(all) != len(made) {
			t.Fatalf("Operations() = %d operations, want %d", len(all), len(made))
		}
		for i := 1; i < len(all); i++ {
			a, b := all[i-1], all[i]
			if a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID) {
				t.Errorf("Operations()[%d:%d] = %s@%v, %s@%v, want newest first", i-1, i+1, a.ID, a.CreatedAt, b.ID, b.CreatedAt)
			}
		}
		if all[0].ID != made[6] || all[6].ID != made[0] {
			t.Errorf("Operations() = newest %s, oldest %s, want %s, %s", all[0].ID, all[6].ID, made[6], made[0])
		}
		for limit := 1; limit <= 8; limit++ {
			var got []kopilka.Operation
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(made) {
					t.Fatalf("Operations(limit %d) did not end", limit)
				}
				page, err := e.svc.Operations(e.ctx, e.tenant.ID, c.ID, cursor, limit)
				if err != nil {
					t.Fatalf("Operations(limit %d, cursor %q) = %v", limit, cursor, err)
				}
				if len(page.Items) > limit {
					t.Fatalf("Operations(limit %d) = %d items", limit, len(page.Items))
				}
				got = append(got, page.Items...)
				if page.Next == "" {
					break
				}
				cursor = page.Next
			}
			if diff := cmp.Diff(all, got); diff != "" {
				t.Errorf("Operations pages of %d mismatch (-want +got):\n%s", limit, diff)
			}
		}
		for _, tt := range []struct {
			name   string
			cursor string
			limit  int
			code   kopilka.Code
		}{
			{"LimitTooLarge", "", 201, kopilka.CodeInvalidRequest},
			{"BadCursor", "op_../x", 10, kopilka.CodeInvalidRequest},
			{"CustomerCursor", c.ID, 10, kopilka.CodeInvalidRequest},
		} {
			_, err := e.svc.Operations(e.ctx, e.tenant.ID, c.ID, tt.cursor, tt.limit)
			wantCode(t, tt.name+": Operations", err, tt.code)
		}
		_, err := e.svc.Operations(e.ctx, e.tenant.ID, kopilka.NewID("cus"), "", 10)
		wantCode(t, "Operations(unknown customer)", err, kopilka.CodeNotFound)
		page, err := e.svc.Operations(e.ctx, e.tenant.ID, c.ID, "", 0)
		if err != nil || len(page.Items) != len(made) || page.Next != "" {
			t.Errorf("Operations(limit 0) = %d items, next %q, %v, want all %d with the default limit", len(page.Items), page.Next, err, len(made))
		}
	})
}

func TestSetProgram(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		got, err := e.svc.Program(e.ctx, e.tenant.ID)
		if err != nil {
			t.Fatalf("Program() = %v", err)
		}
		if diff := cmp.Diff(kopilka.DefaultProgram(), *got); diff != "" {
			t.Errorf("Program() of a new tenant mismatch (-want +got):\n%s", diff)
		}

		bad := kopilka.Program{Tiers: []kopilka.Tier{{Name: "Base", Threshold: 100}}}
		err = e.svc.SetProgram(e.ctx, e.tenant.ID, &bad)
		if ke := kopilka.AsError(err); ke == nil || ke.Code != kopilka.CodeInvalidRequest || ke.Field != "tiers[0].threshold" {
			t.Errorf("SetProgram(first threshold 100) = %v, want invalid_request on tiers[0].threshold", err)
		}
		if got, _ := e.svc.Program(e.ctx, e.tenant.ID); !cmp.Equal(kopilka.DefaultProgram(), *got) {
			t.Errorf("Program() after a refused SetProgram = %+v, want the default", got)
		}

		p := kopilka.Program{
			Tiers: []kopilka.Tier{
				{Name: "Base", AccrualPercent: 25000, MaxRedeemPercent: 300000},
				{Name: "Silver", Threshold: 1000000, AccrualPercent: 50000, MaxRedeemPercent: 500000},
			},
			AccrueOn: "total", MinLinePrice: 100, ExcludedSKUs: []string{"TOBACCO-1"},
			ActivationDelayDays: 14, ExpiryDays: 365, WelcomeBonus: 10000,
			Verification: kopilka.Verification{Mode: "above:500", WaitSeconds: 30},
		}
		if err := e.svc.SetProgram(e.ctx, e.tenant.ID, &p); err != nil {
			t.Fatalf("SetProgram() = %v", err)
		}
		want := p
		want.Currency, want.ExcludedCategories = "RUB", []string{}
		got, err = e.svc.Program(e.ctx, e.tenant.ID)
		if err != nil {
			t.Fatalf("Program() = %v", err)
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("Program() after SetProgram mismatch (-want +got):\n%s", diff)
		}
		// Programmes are per tenant.
		ten2, _, err := e.svc.CreateTenant(e.ctx, "Second")
		if err != nil {
			t.Fatalf("CreateTenant() = %v", err)
		}
		if got, _ := e.svc.Program(e.ctx, ten2.ID); !cmp.Equal(kopilka.DefaultProgram(), *got) {
			t.Errorf("Program(other tenant) = %+v, want the default", got)
		}
	})
}
