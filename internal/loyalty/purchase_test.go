package loyalty_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage"
)

// The purchase tests price one receipt again and again (API-CORE "The
// arithmetic", worked out by hand):
//
//	1: MILK       100.00 × 2            amount 20000, room 20000 − 200 = 19800
//	2: CHEESE     123.45 × 0.5 kg       amount  6173, room  6173 −  50 =  6123
//	3: TOBACCO-1  200.00 × 1, excluded  amount 20000
//	4: TEA        9.99 × 1.5 − 0.99     amount  1400, room  1400 − 150 =  1250
//
// total 47573, eligible 27573, Σ room 27173 (min_line_price 1.00).
var shopLines = []loyalty.LineInput{
	{SKU: "MILK", Name: "Молоко", Category: "dairy", Quantity: 2000, Price: 10000},
	{SKU: "CHEESE", Name: "Сыр", Category: "dairy", Quantity: 500, Price: 12345},
	{SKU: "TOBACCO-1", Name: "Табак", Category: "other", Quantity: 1000, Price: 20000},
	{SKU: "TEA", Name: "Чай", Category: "tea", Quantity: 1500, Price: 999, Discount: 99},
}

// Figures of shopLines under Base (3%, 30%) with 1000.00 available and
// redeem "max": max_redeem = min(100000, floor(27573 × 0.3) = 8271,
// 27173) = 8271, spread over the rooms 6026.78, 1863.74, 0, 380.48 →
// {6027, 1864, 0, 380}; to_pay {13973, 4309, 20000, 1020}; paid base 19302
// → floor(579.06) = 579 over the bases 419.15, 129.26, 0, 30.60 →
// {419, 129, 0, 31}.
var shopMax = purFigures{Total: 47573, Eligible: 27573, MaxRedeem: 8271, Redeem: 8271, ToPay: 39302, Accrue: 579,
	Lines: []purLine{{20000, 6027, 13973, 419}, {6173, 1864, 4309, 129}, {20000, 0, 20000, 0}, {1400, 380, 1020, 31}}}

// Figures of shopLines under Base with nothing redeemed: base 27573 →
// floor(827.19) = 827 over 599.86, 185.15, 0, 41.99 → {600, 185, 0, 42}.
// maxRedeem is the caller's (it depends on the balance).
func shopNoRedeem(maxRedeem kopilka.Amount) purFigures {
	return purFigures{Total: 47573, Eligible: 27573, MaxRedeem: maxRedeem, Redeem: 0, ToPay: 47573, Accrue: 827,
		Lines: []purLine{{20000, 0, 20000, 600}, {6173, 0, 6173, 185}, {20000, 0, 20000, 0}, {1400, 0, 1400, 42}}}
}

// purFigures are the figures of a priced receipt that the acceptance
// suites compare.
type purFigures struct {
	Total, Eligible, MaxRedeem, Redeem, ToPay, Accrue kopilka.Amount
	Lines                                             []purLine
}

// purLine is one line's amount, redeem, to_pay and accrue.
type purLine struct{ Amount, Redeem, ToPay, Accrue kopilka.Amount }

func figuresOf(p *kopilka.Purchase) purFigures {
	f := purFigures{Total: p.Total, Eligible: p.Eligible, MaxRedeem: p.MaxRedeem, Redeem: p.Redeem, ToPay: p.ToPay, Accrue: p.Accrue}
	for _, l := range p.Lines {
		f.Lines = append(f.Lines, purLine{l.Amount, l.Redeem, l.ToPay, l.Accrue})
	}
	return f
}

func checkFigures(t *testing.T, what string, p *kopilka.Purchase, want purFigures) {
	t.Helper()
	if diff := cmp.Diff(want, figuresOf(p)); diff != "" {
		t.Errorf("%s figures mismatch (-want +got):\n%s", what, diff)
	}
}

// shopProgram is Base (3% accrual, 30% redeemable) and Silver from
// 400.00 of purchases (5%, 50%), min_line_price 1.00, tobacco excluded,
// points for a year; edit changes it further.
func (e *env) shopProgram(t *testing.T, edit func(p *kopilka.Program)) {
	t.Helper()
	e.setProgram(t, func(p *kopilka.Program) {
		p.Tiers = []kopilka.Tier{
			{Name: "Base", Threshold: 0, AccrualPercent: 3 * kopilka.PercentScale, MaxRedeemPercent: 30 * kopilka.PercentScale},
			{Name: "Silver", Threshold: 40000, AccrualPercent: 5 * kopilka.PercentScale, MaxRedeemPercent: 50 * kopilka.PercentScale},
		}
		p.MinLinePrice = 100
		p.ExcludedSKUs = []string{"TOBACCO-1"}
		p.ExpiryDays = 365
		if edit != nil {
			edit(p)
		}
	})
}

func shopInput(customerID, ext string, redeem kopilka.Amount) loyalty.PurchaseInput {
	return loyalty.PurchaseInput{Customer: loyalty.Ref{ID: customerID}, Lines: shopLines, Redeem: redeem, ExternalID: ext}
}

func (e *env) createPurchase(t *testing.T, in loyalty.PurchaseInput) *kopilka.Purchase {
	t.Helper()
	p, err := e.svc.CreatePurchase(e.ctx, e.tenant.ID, in, nil)
	if err != nil {
		t.Fatalf("CreatePurchase(%s) = %v", in.ExternalID, err)
	}
	return p
}

func (e *env) confirmPurchase(t *testing.T, id string) *kopilka.Purchase {
	t.Helper()
	p, err := e.svc.ConfirmPurchase(e.ctx, e.tenant.ID, id, nil)
	if err != nil {
		t.Fatalf("ConfirmPurchase(%s) = %v", id, err)
	}
	return p
}

func (e *env) getPurchase(t *testing.T, id string) *kopilka.Purchase {
	t.Helper()
	p, err := e.svc.GetPurchase(e.ctx, e.tenant.ID, id, "")
	if err != nil {
		t.Fatalf("GetPurchase(%s) = %v", id, err)
	}
	return p
}

// position is what a customer's balance says, for comparison.
type position struct {
	Available, Pending, Reserved, PurchasesTotal kopilka.Amount
	Tier                                         string
}

func (e *env) position(t *testing.T, customerID string) position {
	t.Helper()
	b := e.balance(t, customerID)
	return position{b.Available, b.Pending, b.Reserved, b.PurchasesTotal, b.Tier}
}

func (e *env) wantPosition(t *testing.T, what, customerID string, want position) {
	t.Helper()
	if diff := cmp.Diff(want, e.position(t, customerID)); diff != "" {
		t.Errorf("Balance() %s mismatch (-want +got):\n%s", what, diff)
	}
}

// conservationGap is O2: Σ customer balances (available, pending and
// reserved, from the lots and holds) less (issued − redeemed − expired −
// revoked) from the system accounts' postings. Zero means it holds.
func conservationGap(balances []*kopilka.Balance, system map[ledger.Account]int64) int64 {
	var customers int64
	for _, b := range balances {
		customers += b.Available + b.Pending + b.Reserved
	}
	issued := -system[ledger.Issued]
	return customers - (issued - system[ledger.Redeemed] - system[ledger.Expired] - system[ledger.Revoked])
}

// ledgerOK checks, at a settled moment (no lot past its expiry awaiting
// the expiry run), that Verify finds nothing and that O2 conservation
// holds over the tenant's customers (all of them must be named).
func (e *env) ledgerOK(t *testing.T, customerIDs ...string) {
	t.Helper()
	checkVerify(t, e.svc)
	var bs []*kopilka.Balance
	for _, id := range customerIDs {
		bs = append(bs, e.balance(t, id))
	}
	sys := e.systemBalances(t)
	if gap := conservationGap(bs, sys); gap != 0 {
		t.Errorf("O2: Σ balances − (issued − redeemed − expired − revoked) = %d, want 0 (system %v)", gap, sys)
	}
}

// TestPurchaseConservationGap is the negative control of conservationGap.
func TestPurchaseConservationGap(t *testing.T) {
	t.Parallel()
	sys := map[ledger.Account]int64{ledger.Issued: -10579, ledger.Redeemed: 8271, ledger.Expired: 100, ledger.Revoked: 8}
	good := []*kopilka.Balance{{Available: 1000, Pending: 500, Reserved: 200}, {Available: -300, Pending: 800}}
	if gap := conservationGap(good, sys); gap != 0 {
		t.Errorf("conservationGap(balanced) = %d, want 0", gap)
	}
	for name, bs := range map[string][]*kopilka.Balance{
		"ReservedLost":   {{Available: 1000, Pending: 500}, {Available: -300, Pending: 800}},
		"DebtIgnored":    {{Available: 1000, Pending: 500, Reserved: 200}, {Available: 0, Pending: 800}},
		"CustomerMissed": {{Available: 1000, Pending: 500, Reserved: 200}},
	} {
		if gap := conservationGap(bs, sys); gap == 0 {
			t.Errorf("conservationGap(%s) = 0, want a gap", name)
		}
	}
}

func TestPurchaseCalculate(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		c := e.customer(t, kopilka.Customer{Phone: "+79161234567"})
		e.adjust(t, c.ID, 100000)

		opsBefore, sysBefore, lotsBefore := e.operations(t, c.ID), e.systemBalances(t), e.lots(t, c.ID)
		in := loyalty.PurchaseInput{Customer: loyalty.Ref{Phone: "+79161234567"}, Lines: shopLines, Redeem: loyalty.RedeemMax}
		p, err := e.svc.Calculate(e.ctx, e.tenant.ID, in)
		if err != nil {
			t.Fatalf("Calculate(max) = %v", err)
		}
		checkFigures(t, "Calculate(max)", p, shopMax)
		if p.CustomerID != c.ID || p.Tier != "Base" || p.MaxRedeemPercent != 30*kopilka.PercentScale || p.Available != 100000 {
			t.Errorf("Calculate(max) = customer %s tier %q max%% %s available %d, want %s Base 30 100000",
				p.CustomerID, p.Tier, p.MaxRedeemPercent, p.Available, c.ID)
		}
		if p.Lines[2].Excluded != true || p.Lines[0].Excluded {
			t.Errorf("Calculate() excluded = %v, %v, want only TOBACCO-1 excluded", p.Lines[0].Excluded, p.Lines[2].Excluded)
		}
		// An exact request and the limit + 0.01.
		in.Redeem = 8271
		if p, err := e.svc.Calculate(e.ctx, e.tenant.ID, in); err != nil || p.Redeem != 8271 {
			t.Errorf("Calculate(8271) = %v, %v, want redeem 8271", p, err)
		}
		in.Redeem = 8272
		_, err = e.svc.Calculate(e.ctx, e.tenant.ID, in)
		wantCode(t, "Calculate(8272)", err, kopilka.CodeRedeemLimitExceeded)
		// An excluded category counts like an excluded SKU.
		e.shopProgram(t, func(p *kopilka.Program) { p.ExcludedSKUs, p.ExcludedCategories = nil, []string{"other"} })
		in.Redeem = loyalty.RedeemMax
		if p, err := e.svc.Calculate(e.ctx, e.tenant.ID, in); err != nil {
			t.Errorf("Calculate(excluded category) = %v", err)
		} else {
			checkFigures(t, "Calculate(excluded category)", p, shopMax)
		}

		// No side effects.
		e.wantPosition(t, "after Calculate", c.ID, position{Available: 100000, Tier: "Base"})
		if diff := cmp.Diff(opsBefore, e.operations(t, c.ID)); diff != "" {
			t.Errorf("Operations() after Calculate mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(sysBefore, e.systemBalances(t)); diff != "" {
			t.Errorf("system accounts after Calculate mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(lotsBefore, e.lots(t, c.ID)); diff != "" {
			t.Errorf("lots after Calculate mismatch (-want +got):\n%s", diff)
		}

		// A customer with nothing available may redeem nothing.
		empty := e.customer(t, kopilka.Customer{})
		p, err = e.svc.Calculate(e.ctx, e.tenant.ID, shopInput(empty.ID, "", loyalty.RedeemMax))
		if err != nil {
			t.Fatalf("Calculate(no balance) = %v", err)
		}
		checkFigures(t, "Calculate(no balance)", p, shopNoRedeem(0))
		_, err = e.svc.Calculate(e.ctx, e.tenant.ID, shopInput(empty.ID, "", 1))
		wantCode(t, "Calculate(redeem 1, no balance)", err, kopilka.CodeRedeemLimitExceeded)
		_, err = e.svc.Calculate(e.ctx, e.tenant.ID, shopInput(kopilka.NewID("cus"), "", 0))
		wantCode(t, "Calculate(unknown customer)", err, kopilka.CodeCustomerNotFound)
		e.ledgerOK(t, c.ID, empty.ID)
	})
}

func TestPurchaseCreateConfirm(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, 100000)

		p := e.createPurchase(t, shopInput(c.ID, "R-1", loyalty.RedeemMax))
		checkFigures(t, "CreatePurchase(max)", p, shopMax)
		if p.Status != kopilka.PurchasePending || p.ExternalID != "R-1" || p.ID == "" {
			t.Errorf("CreatePurchase() = status %q external %q id %q, want pending R-1 with an id", p.Status, p.ExternalID, p.ID)
		}
		// The redemption is reserved at once, the accrual pending.
		e.wantPosition(t, "after create", c.ID, position{Available: 100000 - 8271, Pending: 579, Reserved: 8271, Tier: "Base"})
		ops := e.operations(t, c.ID)
		wantOps := []opView{
			{kopilka.OpAccrual, kopilka.StatusPending, 579, p.ID},
			{kopilka.OpRedemption, kopilka.StatusPending, -8271, p.ID},
			{kopilka.OpAdjustment, kopilka.StatusComplete, 100000, ""},
		}
		if diff := cmp.Diff(wantOps, opViews(ops), sortOps); diff != "" {
			t.Errorf("Operations() after create mismatch (-want +got):\n%s", diff)
		}
		// Another purchase cannot take the reserved points.
		_, err := e.svc.CreatePurchase(e.ctx, e.tenant.ID, loyalty.PurchaseInput{Customer: loyalty.Ref{ID: c.ID}, ExternalID: "R-2",
			Lines: []loyalty.LineInput{{SKU: "TV", Quantity: 1000, Price: 10_000_000}}, Redeem: 100000 - 8271 + 1}, nil)
		wantCode(t, "CreatePurchase(more than is left unreserved)", err, kopilka.CodeRedeemLimitExceeded)
		e.ledgerOK(t, c.ID)

		got := e.confirmPurchase(t, p.ID)
		if got.Status != kopilka.PurchaseComplete {
			t.Errorf("ConfirmPurchase() status = %q, want complete", got.Status)
		}
		checkFigures(t, "ConfirmPurchase()", got, shopMax)
		e.wantPosition(t, "after confirm", c.ID, position{Available: 100000 - 8271 + 579, PurchasesTotal: 47573, Tier: "Silver"})
		wantOps[0].Status, wantOps[1].Status = kopilka.StatusComplete, kopilka.StatusComplete
		if diff := cmp.Diff(wantOps, opViews(e.operations(t, c.ID)), sortOps); diff != "" {
			t.Errorf("Operations() after confirm mismatch (-want +got):\n%s", diff)
		}
		want := map[ledger.Account]int64{ledger.Issued: -100579, ledger.Redeemed: 8271}
		if diff := cmp.Diff(want, nonZero(e.systemBalances(t))); diff != "" {
			t.Errorf("system accounts after confirm mismatch (-want +got):\n%s", diff)
		}
		// Confirming again changes nothing.
		if again := e.confirmPurchase(t, p.ID); again.Status != kopilka.PurchaseComplete {
			t.Errorf("ConfirmPurchase() again status = %q, want complete", again.Status)
		}
		e.wantPosition(t, "after a second confirm", c.ID, position{Available: 100000 - 8271 + 579, PurchasesTotal: 47573, Tier: "Silver"})
		// A complete purchase is refunded, not cancelled.
		_, err = e.svc.CancelPurchase(e.ctx, e.tenant.ID, p.ID, nil)
		wantCode(t, "CancelPurchase(complete)", err, kopilka.CodeConflict)
		if diff := cmp.Diff(got, e.getPurchase(t, p.ID), cmpPurchase); diff != "" {
			t.Errorf("GetPurchase() mismatch (-want +got):\n%s", diff)
		}
		e.ledgerOK(t, c.ID)
	})
}

// cmpPurchase ignores the times a purchase's storage sets.
var cmpPurchase = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.String()
	return s == "CreatedAt" || s == "UpdatedAt" || s == "RequestHash"
}, cmp.Ignore())

// opView is what the tests compare of an operation.
type opView struct {
	Type       kopilka.OpType
	Status     kopilka.OpStatus
	Amount     kopilka.Amount
	PurchaseID string
}

// sortOps compares operations as a set: those made at one instant of the
// test clock have no order between them.
var sortOps = cmpopts.SortSlices(func(a, b opView) bool {
	if a.Type != b.Type {
		return a.Type < b.Type
	}
	return a.Amount < b.Amount
})

func opViews(ops []kopilka.Operation) []opView {
	out := make([]opView, len(ops))
	for i, op := range ops {
		out[i] = opView{op.Type, op.Status, op.Amount, op.PurchaseID}
	}
	return out
}

func nonZero(m map[ledger.Account]int64) map[ledger.Account]int64 {
	out := map[ledger.Account]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func TestPurchaseCancel(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, 100000)

		p := e.createPurchase(t, shopInput(c.ID, "R-1", 5000))
		// A pending purchase is cancelled, not refunded.
		_, err := e.svc.RefundPurchase(e.ctx, e.tenant.ID, p.ID, loyalty.RefundInput{ExternalID: "F-1"}, nil)
		wantCode(t, "RefundPurchase(pending)", err, kopilka.CodeConflict)

		got, err := e.svc.CancelPurchase(e.ctx, e.tenant.ID, p.ID, nil)
		if err != nil {
			t.Fatalf("CancelPurchase() = %v", err)
		}
		if got.Status != kopilka.PurchaseCancelled {
			t.Errorf("CancelPurchase() status = %q, want cancelled", got.Status)
		}
		e.wantPosition(t, "after cancel", c.ID, position{Available: 100000, Tier: "Base"})
		// 5000 over the rooms: 3643.32, 1126.67, 0, 230.01 → {3643, 1127,
		// 0, 230}; base 16357 + 5046 + 1170 = 22573 → 677.
		wantOps := []opView{
			{kopilka.OpAccrual, kopilka.StatusVoided, 677, p.ID},
			{kopilka.OpRedemption, kopilka.StatusVoided, -5000, p.ID},
			{kopilka.OpAdjustment, kopilka.StatusComplete, 100000, ""},
		}
		if diff := cmp.Diff(wantOps, opViews(e.operations(t, c.ID)), sortOps); diff != "" {
			t.Errorf("Operations() after cancel mismatch (-want +got):\n%s", diff)
		}
		want := map[ledger.Account]int64{ledger.Issued: -100000}
		if diff := cmp.Diff(want, nonZero(e.systemBalances(t))); diff != "" {
			t.Errorf("system accounts after cancel mismatch (-want +got):\n%s", diff)
		}
		if again, err := e.svc.CancelPurchase(e.ctx, e.tenant.ID, p.ID, nil); err != nil || again.Status != kopilka.PurchaseCancelled {
			t.Errorf("CancelPurchase() again = %v, %v, want it cancelled", again, err)
		}
		_, err = e.svc.ConfirmPurchase(e.ctx, e.tenant.ID, p.ID, nil)
		wantCode(t, "ConfirmPurchase(cancelled)", err, kopilka.CodeConflict)
		_, err = e.svc.RefundPurchase(e.ctx, e.tenant.ID, p.ID, loyalty.RefundInput{ExternalID: "F-1"}, nil)
		wantCode(t, "RefundPurchase(cancelled)", err, kopilka.CodeConflict)
		// The restored points are spendable in full.
		e.adjust(t, c.ID, -100000)
		e.wantPosition(t, "after spending the restored points", c.ID, position{Tier: "Base"})
		e.ledgerOK(t, c.ID)
	})
}

func TestPurchaseConfirmAtOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, 100000)
		in := shopInput(c.ID, "R-1", loyalty.RedeemMax)
		in.Confirm = true
		p := e.createPurchase(t, in)
		if p.Status != kopilka.PurchaseComplete {
			t.Errorf("CreatePurchase(confirm) status = %q, want complete", p.Status)
		}
		checkFigures(t, "CreatePurchase(confirm)", p, shopMax)
		e.wantPosition(t, "after create with confirm", c.ID, position{Available: 100000 - 8271 + 579, PurchasesTotal: 47573, Tier: "Silver"})
		wantOps := []opView{
			{kopilka.OpAccrual, kopilka.StatusComplete, 579, p.ID},
			{kopilka.OpRedemption, kopilka.StatusComplete, -8271, p.ID},
			{kopilka.OpAdjustment, kopilka.StatusComplete, 100000, ""},
		}
		if diff := cmp.Diff(wantOps, opViews(e.operations(t, c.ID)), sortOps); diff != "" {
			t.Errorf("Operations() mismatch (-want +got):\n%s", diff)
		}
		e.ledgerOK(t, c.ID)
	})
}

func TestPurchaseExternalID(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, 100000)
		first := e.createPurchase(t, shopInput(c.ID, "R-1", 1000))
		ops := e.operations(t, c.ID)

		again := e.createPurchase(t, shopInput(c.ID, "R-1", 1000))
		if diff := cmp.Diff(first, again, cmpPurchase); diff != "" {
			t.Errorf("CreatePurchase(same external id and body) mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(ops, e.operations(t, c.ID)); diff != "" {
			t.Errorf("Operations() after a repeated purchase mismatch (-want +got):\n%s", diff)
		}
		for name, in := range map[string]loyalty.PurchaseInput{
			"OtherRedeem": shopInput(c.ID, "R-1", 1001),
			"OtherLines":  {Customer: loyalty.Ref{ID: c.ID}, ExternalID: "R-1", Lines: shopLines[:2], Redeem: 1000},
			"Confirm":     {Customer: loyalty.Ref{ID: c.ID}, ExternalID: "R-1", Lines: shopLines, Redeem: 1000, Confirm: true},
		} {
			_, err := e.svc.CreatePurchase(e.ctx, e.tenant.ID, in, nil)
			wantCode(t, "CreatePurchase("+name+" under R-1)", err, kopilka.CodeConflict)
		}
		e.wantPosition(t, "after repeats", c.ID, position{Available: 99000, Pending: 797, Reserved: 1000, Tier: "Base"})

		// After confirmation the same request still answers the purchase.
		e.confirmPurchase(t, first.ID)
		if p := e.createPurchase(t, shopInput(c.ID, "R-1", 1000)); p.ID != first.ID || p.Status != kopilka.PurchaseComplete {
			t.Errorf("CreatePurchase(R-1 after confirm) = %s %q, want %s complete", p.ID, p.Status, first.ID)
		}
		if got, err := e.svc.GetPurchase(e.ctx, e.tenant.ID, "", "R-1"); err != nil || got.ID != first.ID {
			t.Errorf("GetPurchase(external R-1) = %v, %v, want %s", got, err, first.ID)
		}
		// A refused purchase leaves nothing behind: its external id is free.
		// (Silver now: floor(27573 × 0.5) = 13786 at most.)
		_, err := e.svc.CreatePurchase(e.ctx, e.tenant.ID, shopInput(c.ID, "R-2", 13787), nil)
		wantCode(t, "CreatePurchase(above the limit)", err, kopilka.CodeRedeemLimitExceeded)
		if p := e.createPurchase(t, shopInput(c.ID, "R-2", 0)); p.Redeem != 0 {
			t.Errorf("CreatePurchase(R-2 after a refusal) redeem = %d, want 0", p.Redeem)
		}
		e.ledgerOK(t, c.ID)
	})
}

// TestPurchaseTier: a confirmed purchase counts its total for tiers and
// the next purchase uses the new tier's percents; refunds take their
// totals back and the tier falls.
func TestPurchaseTier(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, 100000)

		in := shopInput(c.ID, "R-1", 0)
		in.Confirm = true
		p1 := e.createPurchase(t, in)
		checkFigures(t, "CreatePurchase(R-1, Base)", p1, shopNoRedeem(8271))
		// 475.73 ≥ 400.00: Silver.
		e.wantPosition(t, "after R-1", c.ID, position{Available: 100827, PurchasesTotal: 47573, Tier: "Silver"})

		// Silver, 5% and 50%: max_redeem = min(100827, floor(27573 × 0.5)
		// = 13786, 27173) = 13786 over the rooms: 10045.2, 3106.5…,
		// 0, 634.2 → {10045, 3107, 0, 634}; to_pay {9955, 3066, 20000,
		// 766}; base 13787 → floor(689.35) = 689 over 497.8…, 153.2…, 0,
		// 38.3… → {498, 153, 0, 38}.
		silver := purFigures{Total: 47573, Eligible: 27573, MaxRedeem: 13786, Redeem: 13786, ToPay: 33787, Accrue: 689,
			Lines: []purLine{{20000, 10045, 9955, 498}, {6173, 3107, 3066, 153}, {20000, 0, 20000, 0}, {1400, 634, 766, 38}}}
		in = shopInput(c.ID, "R-2", loyalty.RedeemMax)
		quote, err := e.svc.Calculate(e.ctx, e.tenant.ID, in)
		if err != nil {
			t.Fatalf("Calculate(Silver) = %v", err)
		}
		checkFigures(t, "Calculate(Silver)", quote, silver)
		in.Confirm = true
		p2 := e.createPurchase(t, in)
		checkFigures(t, "CreatePurchase(R-2, Silver)", p2, silver)
		if p2.Tier != "Silver" || p2.MaxRedeemPercent != 50*kopilka.PercentScale {
			t.Errorf("CreatePurchase(R-2) tier %q max%% %s, want Silver 50", p2.Tier, p2.MaxRedeemPercent)
		}
		e.wantPosition(t, "after R-2", c.ID, position{Available: 100827 - 13786 + 689, PurchasesTotal: 95146, Tier: "Silver"})

		// R-1 refunded in full: 951.46 − 475.73 = 475.73, still Silver.
		r := e.refund(t, p1.ID, loyalty.RefundInput{ExternalID: "F-1"})
		if got, want := refundFigures(r), (refundView{0, 827, 47573, 47573}); got != want {
			t.Errorf("RefundPurchase(R-1) = %+v, want %+v", got, want)
		}
		e.wantPosition(t, "after refunding R-1", c.ID, position{Available: 100827 - 13786 + 689 - 827, PurchasesTotal: 47573, Tier: "Silver"})
		// The tobacco of R-2: 200.00 back, 275.73 left: Base again.
		r = e.refund(t, p2.ID, loyalty.RefundInput{ExternalID: "F-2", Lines: []kopilka.RefundLine{{Line: 3, Quantity: 1000}}})
		if got, want := refundFigures(r), (refundView{0, 0, 20000, 20000}); got != want {
			t.Errorf("RefundPurchase(R-2 tobacco) = %+v, want %+v", got, want)
		}
		e.wantPosition(t, "after refunding the tobacco", c.ID, position{Available: 86903, PurchasesTotal: 27573, Tier: "Base"})
		quote, err = e.svc.Calculate(e.ctx, e.tenant.ID, shopInput(c.ID, "", loyalty.RedeemMax))
		if err != nil {
			t.Fatalf("Calculate(Base again) = %v", err)
		}
		checkFigures(t, "Calculate(Base again)", quote, shopMax)
		e.ledgerOK(t, c.ID)
	})
}

// breadInput is a 50.00 receipt: room 49.00, 30% of it 15.00 under Base;
// redeeming r leaves 50.00 − r to pay, which earns 3% of it.
func breadInput(customerID, ext string, redeem kopilka.Amount) loyalty.PurchaseInput {
	return loyalty.PurchaseInput{Customer: loyalty.Ref{ID: customerID}, ExternalID: ext, Redeem: redeem,
		Lines: []loyalty.LineInput{{SKU: "BREAD", Quantity: 1000, Price: 5000}}}
}

// TestPurchaseReservationExpiry: reserved points do not expire while
// reserved; confirmed after their lot's expiry they are redeemed; voided
// after it they come back and burn at the next expiry run.
func TestPurchaseReservationExpiry(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, func(p *kopilka.Program) { p.Tiers = p.Tiers[:1]; p.ExpiryDays = 10 })
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, 1000) // burns at t0 + 10 days
		// 3.00 and 2.00 reserved; 47.00 and 48.00 to pay earn 1.41 and 1.44.
		a := e.createPurchase(t, breadInput(c.ID, "R-A", 300))
		b := e.createPurchase(t, breadInput(c.ID, "R-B", 200))
		if a.Accrue != 141 || b.Accrue != 144 {
			t.Fatalf("CreatePurchase() accrue = %d, %d, want 141, 144", a.Accrue, b.Accrue)
		}
		e.wantPosition(t, "with two reservations", c.ID, position{Available: 500, Pending: 285, Reserved: 500, Tier: "Base"})
		e.ledgerOK(t, c.ID)

		e.clock.Advance(10 * 24 * time.Hour)
		res, err := e.svc.RunDue(e.ctx, 0)
		if err != nil || res.Expired != 500 {
			t.Fatalf("RunDue() at expiry = %+v, %v, want only the 5.00 not reserved expired", res, err)
		}
		e.wantPosition(t, "after expiry", c.ID, position{Available: 0, Pending: 285, Reserved: 500, Tier: "Base"})
		e.ledgerOK(t, c.ID)

		// Confirmed after the expiry: the 2.00 are redeemed, not expired;
		// the accrual is new points, spendable at once.
		e.confirmPurchase(t, b.ID)
		e.wantPosition(t, "after confirming R-B", c.ID, position{Available: 144, Pending: 141, Reserved: 300, PurchasesTotal: 5000, Tier: "Base"})
		// Voided after the expiry: the 3.00 go back to their expired lot;
		// they are not spendable and burn at the next run.
		if _, err := e.svc.CancelPurchase(e.ctx, e.tenant.ID, a.ID, nil); err != nil {
			t.Fatalf("CancelPurchase(R-A) = %v", err)
		}
		e.wantPosition(t, "after cancelling R-A", c.ID, position{Available: 144, PurchasesTotal: 5000, Tier: "Base"})
		_, err = e.svc.CreatePurchase(e.ctx, e.tenant.ID, breadInput(c.ID, "R-C", 145), nil)
		wantCode(t, "CreatePurchase(the returned expired points)", err, kopilka.CodeRedeemLimitExceeded)
		res, err = e.svc.RunDue(e.ctx, 0)
		if err != nil || res.Expired != 300 {
			t.Fatalf("RunDue() after the cancel = %+v, %v, want the returned 3.00 expired", res, err)
		}
		want := map[ledger.Account]int64{ledger.Issued: -1144, ledger.Redeemed: 200, ledger.Expired: 800}
		if diff := cmp.Diff(want, nonZero(e.systemBalances(t))); diff != "" {
			t.Errorf("system accounts mismatch (-want +got):\n%s", diff)
		}
		e.wantPosition(t, "at the end", c.ID, position{Available: 144, PurchasesTotal: 5000, Tier: "Base"})
		e.ledgerOK(t, c.ID)
	})
}

// c2Problems checks one consistent snapshot of the C2 card: available
// (lots less debt) never below zero, reservations and posted redemptions
// never above the points credited, and nothing lost between them (the
// accruals stay pending through the run).
func c2Problems(available, reserved, redeemed, credited kopilka.Amount) []string {
	var out []string
	if available < 0 {
		out = append(out, fmt.Sprintf("available %d below zero", available))
	}
	if reserved+redeemed > credited {
		out = append(out, fmt.Sprintf("reserved %d + redeemed %d above the %d credited", reserved, redeemed, credited))
	}
	if available+reserved+redeemed != credited {
		out = append(out, fmt.Sprintf("available %d + reserved %d + redeemed %d ≠ %d credited", available, reserved, redeemed, credited))
	}
	return out
}

// TestC2Problems is the negative control of c2Problems.
func TestC2Problems(t *testing.T) {
	t.Parallel()
	if p := c2Problems(1000, 1500, 97500, 100000); len(p) != 0 {
		t.Errorf("c2Problems(consistent) = %q, want none", p)
	}
	for name, s := range map[string][4]kopilka.Amount{
		"Overdraft":       {-1500, 1500, 100000, 100000},
		"DoubleSpent":     {0, 1500, 100000, 100000},
		"ReservationLost": {1000, 0, 97500, 100000},
	} {
		if p := c2Problems(s[0], s[1], s[2], s[3]); len(p) == 0 {
			t.Errorf("c2Problems(%s %v) = none, want problems", name, s)
		}
	}
}

// retryUnavailable retries a call the database asked to retry (every call
// here is idempotent: an external id or a state machine).
func retryUnavailable[T any](fn func() (T, error)) (T, error) {
	for range 50 {
		v, err := fn()
		if kopilka.ErrorCode(err) != kopilka.CodeUnavailable {
			return v, err
		}
	}
	return fn()
}

// TestC2ConcurrentReservations is RELIABILITY C2: 100 purchases reserve
// points on one card at once, each then confirmed or cancelled at random
// while the others run. No read ever sees the card below zero or more
// points reserved and redeemed than it was given; at the end exactly the
// confirmed redemptions are gone.
func TestC2ConcurrentReservations(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		const (
			n        = 100
			credited = 100000 // 1000.00
			redeem   = 1500   // each; 66 fit
			accrue   = 75     // 5% of the 15.00 paid
			seed     = 20250301
		)
		e := newEnv(t, dialect)
		e.setProgram(t, func(p *kopilka.Program) {
			p.Tiers = []kopilka.Tier{{Name: "Base", AccrualPercent: 5 * kopilka.PercentScale, MaxRedeemPercent: 100 * kopilka.PercentScale}}
			p.ActivationDelayDays = 30 // accruals stay pending: available moves by redemptions only
		})
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, credited)

		stop := make(chan struct{})
		polled := make(chan int)
		go func() {
			reads := 0
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				err := e.db.Snapshot(e.ctx, func(tx storage.Tx) error {
					b, err := tx.Balance(e.ctx, e.tenant.ID, c.ID, tx.Now())
					if err != nil {
						return err
					}
					cu, err := tx.GetCustomer(e.ctx, e.tenant.ID, c.ID, false)
					if err != nil {
						return err
					}
					sys, err := tx.SystemBalances(e.ctx, e.tenant.ID)
					if err != nil {
						return err
					}
					for _, p := range c2Problems(b.Available-cu.Debt, b.Reserved, sys[ledger.Redeemed], credited) {
						t.Errorf("snapshot %d: %s", reads, p)
					}
					return nil
				})
				if err != nil {
					t.Errorf("snapshot read = %v", err)
				}
				if b, err := e.svc.Balance(e.ctx, e.tenant.ID, c.ID); err != nil || b.Available < 0 {
					t.Errorf("Balance() = %+v, %v, want available ≥ 0", b, err)
				}
				reads++
				select {
				case <-stop:
					polled <- reads
					return
				case <-tick.C:
				}
			}
		}()

		type outcome struct {
			id        string
			created   bool
			confirmed bool
		}
		outcomes := make([]outcome, n)
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				in := loyalty.PurchaseInput{Customer: loyalty.Ref{ID: c.ID}, ExternalID: fmt.Sprintf("C2-%03d", i), Redeem: redeem,
					Lines: []loyalty.LineInput{{SKU: "ITEM", Quantity: 1000, Price: 3000}}}
				ready.Done()
				<-start
				p, err := retryUnavailable(func() (*kopilka.Purchase, error) { return e.svc.CreatePurchase(e.ctx, e.tenant.ID, in, nil) })
				switch code := kopilka.ErrorCode(err); {
				case err == nil:
				case code == kopilka.CodeRedeemLimitExceeded || code == kopilka.CodeInsufficientPoints:
					return
				default:
					t.Errorf("CreatePurchase(%s) = %v", in.ExternalID, err)
					return
				}
				if p.Redeem != redeem || p.Accrue != accrue || p.Status != kopilka.PurchasePending {
					t.Errorf("CreatePurchase(%s) = redeem %d accrue %d %s, want %d %d pending", in.ExternalID, p.Redeem, p.Accrue, p.Status, redeem, accrue)
				}
				o := outcome{id: p.ID, created: true, confirmed: rng.IntN(2) == 0}
				step := e.svc.CancelPurchase
				if o.confirmed {
					step = e.svc.ConfirmPurchase
				}
				if _, err := retryUnavailable(func() (*kopilka.Purchase, error) { return step(e.ctx, e.tenant.ID, p.ID, nil) }); err != nil {
					t.Errorf("confirm/cancel %s = %v", p.ID, err)
					return
				}
				outcomes[i] = o
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		close(stop)
		reads := <-polled

		var created, confirmed int64
		for _, o := range outcomes {
			if !o.created {
				continue
			}
			created++
			want := kopilka.PurchaseCancelled
			if o.confirmed {
				confirmed++
				want = kopilka.PurchaseComplete
			}
			if got := e.getPurchase(t, o.id).Status; got != want {
				t.Errorf("GetPurchase(%s) status = %q, want %q", o.id, got, want)
			}
		}
		t.Logf("%d purchases: %d reserved, %d confirmed; %d snapshots read", n, created, confirmed, reads)
		if created < credited/redeem {
			t.Errorf("%d purchases reserved, want at least %d (refused only when less than %d was left)", created, credited/redeem, redeem)
		}
		e.wantPosition(t, "after the run", c.ID, position{Available: credited - redeem*confirmed, Pending: accrue * confirmed,
			PurchasesTotal: 3000 * confirmed, Tier: "Base"})
		want := map[ledger.Account]int64{ledger.Issued: -(credited + accrue*confirmed), ledger.Redeemed: redeem * confirmed}
		if diff := cmp.Diff(want, nonZero(e.systemBalances(t))); diff != "" {
			t.Errorf("system accounts after the run mismatch (-want +got):\n%s", diff)
		}
		e.ledgerOK(t, c.ID)
	})
}
