package loyalty_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/loyalty"
)

// refundView is what a refund answers: points_returned, points_revoked,
// amount and total.
type refundView struct{ Returned, Revoked, Amount, Total kopilka.Amount }

func refundFigures(r *kopilka.Refund) refundView {
	return refundView{r.PointsReturned, r.PointsRevoked, r.Amount, r.Total}
}

func (e *env) refund(t *testing.T, purchaseID string, in loyalty.RefundInput) *kopilka.Refund {
	t.Helper()
	r, err := e.svc.RefundPurchase(e.ctx, e.tenant.ID, purchaseID, in, nil)
	if err != nil {
		t.Fatalf("RefundPurchase(%s, %+v) = %v", purchaseID, in, err)
	}
	return r
}

// confirmedShop registers and confirms shopLines with redeem "max" for a
// customer holding 1000.00 points: the figures are shopMax.
func (e *env) confirmedShop(t *testing.T, ext string) (*kopilka.Customer, *kopilka.Purchase) {
	t.Helper()
	c := e.customer(t, kopilka.Customer{})
	e.adjust(t, c.ID, 100000)
	in := shopInput(c.ID, ext, loyalty.RedeemMax)
	in.Confirm = true
	p := e.createPurchase(t, in)
	checkFigures(t, "CreatePurchase("+ext+")", p, shopMax)
	return c, p
}

// TestRefundPartial refunds shopMax (lines: amount, redeem, to_pay,
// accrue = {20000, 6027, 13973, 419} × 2, {6173, 1864, 4309, 129} ×
// 0.5 kg, {20000, 0, 20000, 0} × 1, {1400, 380, 1020, 31} × 1.5) in three
// refunds; each takes the difference of the cumulative shares
// floor(F × Q / q), the last one exactly what is left.
func TestRefundPartial(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		c, p := e.confirmedShop(t, "R-1")
		e.wantPosition(t, "after the purchase", c.ID, position{Available: 92308, PurchasesTotal: 47573, Tier: "Silver"})

		steps := []struct {
			name  string
			lines []kopilka.RefundLine
			want  refundView
			pos   position
		}{
			// Line 1, 1 of 2: 3013 (3013.5), 209 (209.5), 6986 (6986.5),
			// 10000. Line 2, 0.2 of 0.5 kg (40%): 745 (745.6), 51 (51.6),
			// 1723 (1723.6), 2469 (2469.2). Sum 3758, 260, 8709, 12469.
			{"Half", []kopilka.RefundLine{{Line: 1, Quantity: 1000}, {Line: 2, Quantity: 200}},
				refundView{3758, 260, 8709, 12469},
				position{Available: 92308 + 3758 - 260, PurchasesTotal: 47573 - 12469, Tier: "Base"}},
			// Line 4, 0.5 of 1.5: 126 (126.67), 10 (10.33), 340, 466
			// (466.67). Line 2 again, 0.1 more (60% in all): 1118 − 745 =
			// 373, 77 − 51 = 26, 2585 − 1723 = 862, 3703 − 2469 = 1234.
			// Sum 499, 36, 1202, 1700.
			{"Third", []kopilka.RefundLine{{Line: 4, Quantity: 500}, {Line: 2, Quantity: 100}},
				refundView{499, 36, 1202, 1700},
				position{Available: 95806 + 499 - 36, PurchasesTotal: 35104 - 1700, Tier: "Base"}},
			// The rest: 8271 − 3758 − 499 = 4014, 579 − 260 − 36 = 283,
			// 39302 − 8709 − 1202 = 29391, 47573 − 12469 − 1700 = 33404.
			{"Rest", nil, refundView{4014, 283, 29391, 33404},
				position{Available: 100000, PurchasesTotal: 0, Tier: "Base"}},
		}
		var sum refundView
		for i, s := range steps {
			r := e.refund(t, p.ID, loyalty.RefundInput{ExternalID: "F-" + s.name, Lines: s.lines})
			if got := refundFigures(r); got != s.want {
				t.Errorf("refund %d (%s): RefundPurchase() = %+v, want %+v", i+1, s.name, got, s.want)
			}
			if r.Debt != 0 {
				t.Errorf("refund %d (%s): debt = %d, want 0", i+1, s.name, r.Debt)
			}
			e.wantPosition(t, "after refund "+s.name, c.ID, s.pos)
			sum.Returned += r.PointsReturned
			sum.Revoked += r.PointsRevoked
			sum.Amount += r.Amount
			sum.Total += r.Total
		}
		if want := (refundView{p.Redeem, p.Accrue, p.ToPay, p.Total}); sum != want {
			t.Errorf("Σ refunds = %+v, want the purchase's %+v", sum, want)
		}
		got := e.getPurchase(t, p.ID)
		var refunded []kopilka.Quantity
		for _, l := range got.Lines {
			refunded = append(refunded, l.Refunded)
		}
		if diff := cmp.Diff([]kopilka.Quantity{2000, 500, 1000, 1500}, refunded); diff != "" {
			t.Errorf("GetPurchase() refunded quantities mismatch (-want +got):\n%s", diff)
		}
		_, err := e.svc.RefundPurchase(e.ctx, e.tenant.ID, p.ID, loyalty.RefundInput{ExternalID: "F-more"}, nil)
		wantCode(t, "RefundPurchase(nothing left)", err, kopilka.CodeRefundExceeded)
		want := map[ledger.Account]int64{ledger.Issued: -100579, ledger.Revoked: 579}
		if diff := cmp.Diff(want, nonZero(e.systemBalances(t))); diff != "" {
			t.Errorf("system accounts after the full refund mismatch (-want +got):\n%s", diff)
		}
		e.ledgerOK(t, c.ID)
	})
}

// TestRefundRefused: refunding more than was bought is
// refund_exceeds_purchase and writes nothing; a malformed refund is
// invalid_request; external ids make refunds idempotent.
func TestRefundRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		c, p := e.confirmedShop(t, "R-1")
		first := e.refund(t, p.ID, loyalty.RefundInput{ExternalID: "F-1", Lines: []kopilka.RefundLine{{Line: 2, Quantity: 200}}})

		ops, sys, pos, pur := e.operations(t, c.ID), e.systemBalances(t), e.position(t, c.ID), e.getPurchase(t, p.ID)
		exceed := []struct {
			name  string
			lines []kopilka.RefundLine
		}{
			{"MoreThanLeft", []kopilka.RefundLine{{Line: 2, Quantity: 301}}},
			{"MoreThanBought", []kopilka.RefundLine{{Line: 1, Quantity: 3000}}},
			{"SplitOverLeft", []kopilka.RefundLine{{Line: 2, Quantity: 200}, {Line: 2, Quantity: 101}}},
			{"OneLineOfTwoTooMuch", []kopilka.RefundLine{{Line: 1, Quantity: 1000}, {Line: 4, Quantity: 1501}}},
		}
		for _, tt := range exceed {
			_, err := e.svc.RefundPurchase(e.ctx, e.tenant.ID, p.ID, loyalty.RefundInput{ExternalID: "F-2", Lines: tt.lines}, nil)
			wantCode(t, "RefundPurchase("+tt.name+")", err, kopilka.CodeRefundExceeded)
		}
		invalid := []struct {
			name string
			in   loyalty.RefundInput
		}{
			{"NoExternalID", loyalty.RefundInput{Lines: []kopilka.RefundLine{{Line: 1, Quantity: 1000}}}},
			{"LineZero", loyalty.RefundInput{ExternalID: "F-2", Lines: []kopilka.RefundLine{{Line: 0, Quantity: 1000}}}},
			{"LineFive", loyalty.RefundInput{ExternalID: "F-2", Lines: []kopilka.RefundLine{{Line: 5, Quantity: 1000}}}},
			{"ZeroQuantity", loyalty.RefundInput{ExternalID: "F-2", Lines: []kopilka.RefundLine{{Line: 1, Quantity: 0}}}},
			{"NegativeQuantity", loyalty.RefundInput{ExternalID: "F-2", Lines: []kopilka.RefundLine{{Line: 1, Quantity: -1}}}},
		}
		for _, tt := range invalid {
			_, err := e.svc.RefundPurchase(e.ctx, e.tenant.ID, p.ID, tt.in, nil)
			wantCode(t, "RefundPurchase("+tt.name+")", err, kopilka.CodeInvalidRequest)
		}
		_, err := e.svc.RefundPurchase(e.ctx, e.tenant.ID, kopilka.NewID("pur"), loyalty.RefundInput{ExternalID: "F-2"}, nil)
		wantCode(t, "RefundPurchase(unknown purchase)", err, kopilka.CodeNotFound)

		// Nothing was written.
		if diff := cmp.Diff(ops, e.operations(t, c.ID)); diff != "" {
			t.Errorf("Operations() after refused refunds mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(sys, e.systemBalances(t)); diff != "" {
			t.Errorf("system accounts after refused refunds mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(pos, e.position(t, c.ID)); diff != "" {
			t.Errorf("Balance() after refused refunds mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(pur, e.getPurchase(t, p.ID)); diff != "" {
			t.Errorf("GetPurchase() after refused refunds mismatch (-want +got):\n%s", diff)
		}

		// The same refund again answers the first; another under its
		// external id is a conflict.
		again := e.refund(t, p.ID, loyalty.RefundInput{ExternalID: "F-1", Lines: []kopilka.RefundLine{{Line: 2, Quantity: 200}}})
		if again.ID != first.ID || refundFigures(again) != refundFigures(first) {
			t.Errorf("RefundPurchase(F-1 again) = %s %+v, want %s %+v", again.ID, refundFigures(again), first.ID, refundFigures(first))
		}
		_, err = e.svc.RefundPurchase(e.ctx, e.tenant.ID, p.ID, loyalty.RefundInput{ExternalID: "F-1", Lines: []kopilka.RefundLine{{Line: 2, Quantity: 100}}}, nil)
		wantCode(t, "RefundPurchase(F-1, another body)", err, kopilka.CodeConflict)
		if diff := cmp.Diff(ops, e.operations(t, c.ID)); diff != "" {
			t.Errorf("Operations() after a repeated refund mismatch (-want +got):\n%s", diff)
		}
		// The refused external id is free: exactly what is left of line 2.
		r := e.refund(t, p.ID, loyalty.RefundInput{ExternalID: "F-2", Lines: []kopilka.RefundLine{{Line: 2, Quantity: 300}}})
		// 1864 − 745, 129 − 51, 4309 − 1723, 6173 − 2469.
		if got, want := refundFigures(r), (refundView{1119, 78, 2586, 3704}); got != want {
			t.Errorf("RefundPurchase(F-2, the rest of line 2) = %+v, want %+v", got, want)
		}
		e.ledgerOK(t, c.ID)
	})
}

// TestRefundBeforeActivation: accrued points not yet active show in
// pending; a refund then takes them from the purchase's pending lot with
// no debt; the rest becomes available when the delay has passed and the
// due run has run.
func TestRefundBeforeActivation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, func(p *kopilka.Program) { p.ActivationDelayDays = 14 })
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, 100000)
		in := shopInput(c.ID, "R-1", loyalty.RedeemMax)
		in.Confirm = true
		p := e.createPurchase(t, in)
		checkFigures(t, "CreatePurchase()", p, shopMax)
		e.wantPosition(t, "after the purchase", c.ID, position{Available: 100000 - 8271, Pending: 579, PurchasesTotal: 47573, Tier: "Silver"})
		e.ledgerOK(t, c.ID)

		// Spend everything available: the refund must not touch it.
		e.adjust(t, c.ID, -(100000 - 8271))
		// Line 1, 1 of 2: returned 3013, revoked 209.
		r := e.refund(t, p.ID, loyalty.RefundInput{ExternalID: "F-1", Lines: []kopilka.RefundLine{{Line: 1, Quantity: 1000}}})
		if got, want := refundFigures(r), (refundView{3013, 209, 6986, 10000}); got != want {
			t.Errorf("RefundPurchase(half of line 1) = %+v, want %+v", got, want)
		}
		if r.Debt != 0 {
			t.Errorf("RefundPurchase() debt = %d, want 0 (taken from the pending lot)", r.Debt)
		}
		e.wantPosition(t, "after the refund", c.ID, position{Available: 3013, Pending: 579 - 209, PurchasesTotal: 37573, Tier: "Base"})
		e.ledgerOK(t, c.ID)

		e.clock.Advance(14*24*time.Hour - time.Microsecond)
		if _, err := e.svc.RunDue(e.ctx, 0); err != nil {
			t.Fatalf("RunDue() = %v", err)
		}
		e.wantPosition(t, "a moment before activation", c.ID, position{Available: 3013, Pending: 370, PurchasesTotal: 37573, Tier: "Base"})
		e.clock.Advance(time.Microsecond)
		e.wantPosition(t, "at activation, before the due run", c.ID, position{Available: 3013, Pending: 370, PurchasesTotal: 37573, Tier: "Base"})
		if res, err := e.svc.RunDue(e.ctx, 0); err != nil || res.Activated != 1 {
			t.Fatalf("RunDue() = %+v, %v, want one lot activated", res, err)
		}
		e.wantPosition(t, "after activation", c.ID, position{Available: 3013 + 370, PurchasesTotal: 37573, Tier: "Base"})
		// After activation the rest revokes from the balance: 579 − 209 =
		// 370 revoked, 8271 − 3013 = 5258 returned.
		r = e.refund(t, p.ID, loyalty.RefundInput{ExternalID: "F-2"})
		if got, want := refundFigures(r), (refundView{5258, 370, 39302 - 6986, 47573 - 10000}); got != want {
			t.Errorf("RefundPurchase(rest) = %+v, want %+v", got, want)
		}
		e.wantPosition(t, "after the full refund", c.ID, position{Available: 8271, Tier: "Base"})
		e.ledgerOK(t, c.ID)
	})
}

// TestRefundDebt: a refund that revokes points already spent takes what is
// available and records the rest as debt; the history says so; redemption
// is refused while available ≤ 0; the next accruals repay the debt first.
func TestRefundDebt(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, func(p *kopilka.Program) { p.Tiers = p.Tiers[:1] })
		c := e.customer(t, kopilka.Customer{})
		in := shopInput(c.ID, "R-1", 0)
		in.Confirm = true
		p1 := e.createPurchase(t, in)
		checkFigures(t, "CreatePurchase(R-1)", p1, shopNoRedeem(0))
		e.wantPosition(t, "after R-1", c.ID, position{Available: 827, PurchasesTotal: 47573, Tier: "Base"})

		// Spend the 8.27 on a 50.00 receipt (room 49.00, 30% = 15.00):
		// to_pay 41.73 earns floor(125.19) = 1.25.
		small := loyalty.PurchaseInput{Customer: loyalty.Ref{ID: c.ID}, ExternalID: "R-2", Redeem: loyalty.RedeemMax, Confirm: true,
			Lines: []loyalty.LineInput{{SKU: "BREAD", Quantity: 1000, Price: 5000}}}
		p2 := e.createPurchase(t, small)
		want2 := purFigures{Total: 5000, Eligible: 5000, MaxRedeem: 827, Redeem: 827, ToPay: 4173, Accrue: 125,
			Lines: []purLine{{5000, 827, 4173, 125}}}
		checkFigures(t, "CreatePurchase(R-2)", p2, want2)
		e.wantPosition(t, "after R-2", c.ID, position{Available: 125, PurchasesTotal: 52573, Tier: "Base"})

		// Refunding R-1 revokes 8.27: 1.25 from the balance, 7.02 owed.
		r := e.refund(t, p1.ID, loyalty.RefundInput{ExternalID: "F-1"})
		if got, want := refundFigures(r), (refundView{0, 827, 47573, 47573}); got != want {
			t.Errorf("RefundPurchase(R-1) = %+v, want %+v", got, want)
		}
		if r.Debt != 702 {
			t.Errorf("RefundPurchase(R-1) debt = %d, want 702", r.Debt)
		}
		e.wantPosition(t, "after the refund", c.ID, position{Available: -702, PurchasesTotal: 5000, Tier: "Base"})
		var revocation *kopilka.Operation
		for _, op := range e.operations(t, c.ID) {
			if op.Type == kopilka.OpRefund && op.PurchaseID == p1.ID {
				if revocation != nil {
					t.Errorf("Operations() has two refund operations for R-1: %+v and %+v", *revocation, op)
				}
				revocation = &op
			}
		}
		switch {
		case revocation == nil || revocation.Amount != -827 || revocation.Status != kopilka.StatusComplete:
			t.Errorf("Operations() refund of R-1 = %+v, want a complete revocation of -827", revocation)
		case !strings.Contains(revocation.Message, "7.02"):
			t.Errorf("Operations() refund of R-1 message = %q, want it to name the 7.02 owed", revocation.Message)
		}
		e.ledgerOK(t, c.ID)

		// No redemption while available ≤ 0.
		quote, err := e.svc.Calculate(e.ctx, e.tenant.ID, shopInput(c.ID, "", loyalty.RedeemMax))
		if err != nil || quote.MaxRedeem != 0 || quote.Redeem != 0 || quote.Available != -702 {
			t.Errorf("Calculate(max) in debt = %+v, %v, want available -702 and nothing to redeem", quote, err)
		}
		_, err = e.svc.CreatePurchase(e.ctx, e.tenant.ID, shopInput(c.ID, "R-3", 1), nil)
		wantCode(t, "CreatePurchase(redeem 0.01 in debt)", err, kopilka.CodeRedeemLimitExceeded)
		_, err = e.svc.Adjust(e.ctx, e.tenant.ID, c.ID, loyalty.AdjustInput{Amount: -1}, nil)
		wantCode(t, "Adjust(-0.01 in debt)", err, kopilka.CodeInsufficientPoints)

		// A positive adjustment repays first: −7.02 + 5.00 = −2.02.
		e.adjust(t, c.ID, 500)
		e.wantPosition(t, "after +5.00", c.ID, position{Available: -202, PurchasesTotal: 5000, Tier: "Base"})
		// The history says where the points went (the test clock stands
		// still: operations are told apart by type and purchase).
		wantMessage := func(what string, typ kopilka.OpType, purchaseID, want string) {
			t.Helper()
			page, err := e.svc.Operations(e.ctx, e.tenant.ID, c.ID, "", 200)
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range page.Items {
				if op.Type == typ && op.PurchaseID == purchaseID && op.Message == want {
					return
				}
			}
			t.Errorf("%s: no %s operation with the message %q in %+v", what, typ, want, page.Items)
		}
		wantMessage("after +5.00", kopilka.OpAdjustment, "", "test; 5.00 of them repaid the debt")
		_, err = e.svc.CreatePurchase(e.ctx, e.tenant.ID, shopInput(c.ID, "R-3", 1), nil)
		wantCode(t, "CreatePurchase(redeem 0.01 still in debt)", err, kopilka.CodeRedeemLimitExceeded)
		e.ledgerOK(t, c.ID)

		// A confirmed purchase's accrual repays the rest: 8.27 − 2.02.
		in = shopInput(c.ID, "R-4", loyalty.RedeemMax)
		p4 := e.createPurchase(t, in)
		checkFigures(t, "CreatePurchase(R-4 in debt)", p4, shopNoRedeem(0))
		e.wantPosition(t, "with R-4 pending", c.ID, position{Available: -202, Pending: 827, PurchasesTotal: 5000, Tier: "Base"})
		e.confirmPurchase(t, p4.ID)
		e.wantPosition(t, "after R-4", c.ID, position{Available: 625, PurchasesTotal: 52573, Tier: "Base"})
		wantMessage("after R-4", kopilka.OpAccrual, p4.ID, "points for receipt R-4; 2.02 of them repaid the debt")
		// Spendable again.
		e.adjust(t, c.ID, -625)
		e.wantPosition(t, "after spending", c.ID, position{PurchasesTotal: 52573, Tier: "Base"})
		e.ledgerOK(t, c.ID)
	})
}

// TestRefundDebtNoteOneStepSale: a retail sale (create with confirm) whose
// accrual repays a debt says so in the history, as a confirmation does.
func TestRefundDebtNoteOneStepSale(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, func(p *kopilka.Program) { p.Tiers = p.Tiers[:1] })
		c := e.customer(t, kopilka.Customer{})
		in := shopInput(c.ID, "R-1", 0)
		in.Confirm = true
		p1 := e.createPurchase(t, in)
		e.createPurchase(t, loyalty.PurchaseInput{Customer: loyalty.Ref{ID: c.ID}, ExternalID: "R-2", Redeem: loyalty.RedeemMax,
			Confirm: true, Lines: []loyalty.LineInput{{SKU: "BREAD", Quantity: 1000, Price: 5000}}})
		e.refund(t, p1.ID, loyalty.RefundInput{ExternalID: "F-1"})
		e.wantPosition(t, "after the refund", c.ID, position{Available: -702, PurchasesTotal: 5000, Tier: "Base"})
		in = shopInput(c.ID, "R-4", 0)
		in.Confirm = true
		p4 := e.createPurchase(t, in)
		e.wantPosition(t, "after R-4", c.ID, position{Available: 125, PurchasesTotal: 52573, Tier: "Base"})
		for _, op := range e.operations(t, c.ID) {
			if op.Type == kopilka.OpAccrual && op.PurchaseID == p4.ID {
				if want := "points for receipt R-4; 7.02 of them repaid the debt"; op.Message != want {
					t.Errorf("the accrual of R-4 says %q, want %q", op.Message, want)
				}
				return
			}
		}
		t.Errorf("no accrual of R-4 in the history")
	})
}

// TestRefundDebtRepaidOnActivation: with an activation delay a debt is
// repaid when the next accrual activates, not before.
func TestRefundDebtRepaidOnActivation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, func(p *kopilka.Program) { p.Tiers = p.Tiers[:1] })
		c := e.customer(t, kopilka.Customer{})
		in := shopInput(c.ID, "R-1", 0)
		in.Confirm = true
		p1 := e.createPurchase(t, in)
		e.adjust(t, c.ID, -827)
		e.refund(t, p1.ID, loyalty.RefundInput{ExternalID: "F-1"})
		e.wantPosition(t, "after the refund", c.ID, position{Available: -827, Tier: "Base"})

		e.shopProgram(t, func(p *kopilka.Program) { p.Tiers = p.Tiers[:1]; p.ActivationDelayDays = 3 })
		in.ExternalID = "R-2"
		e.createPurchase(t, in)
		e.wantPosition(t, "before activation", c.ID, position{Available: -827, Pending: 827, PurchasesTotal: 47573, Tier: "Base"})
		e.ledgerOK(t, c.ID)
		e.clock.Advance(3 * 24 * time.Hour)
		if _, err := e.svc.RunDue(e.ctx, 0); err != nil {
			t.Fatalf("RunDue() = %v", err)
		}
		e.wantPosition(t, "after activation", c.ID, position{PurchasesTotal: 47573, Tier: "Base"})
		e.ledgerOK(t, c.ID)
	})
}
