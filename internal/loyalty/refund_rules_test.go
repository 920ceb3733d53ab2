package loyalty_test

import (
	"testing"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

// TestRefundKeepsPricingRule: a purchase's refunds use the rounding rule it
// was priced under, so they stay path-independent when the programme
// switches round_accrual_to_whole_points between two refunds.
func TestRefundKeepsPricingRule(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.shopProgram(t, nil)
		c := e.customer(t, kopilka.Customer{})
		in := loyalty.PurchaseInput{Customer: loyalty.Ref{ID: c.ID}, ExternalID: "R-1", Confirm: true,
			Lines: []loyalty.LineInput{{SKU: "CHEESE", Quantity: 500, Price: 86000}}}
		p := e.createPurchase(t, in)
		if p.Accrue%100 == 0 {
			t.Fatalf("accrue = %d, want a figure that whole points would round", p.Accrue)
		}
		var revoked kopilka.Amount
		refund := func(ext string, q kopilka.Quantity) {
			t.Helper()
			r, err := e.svc.RefundPurchase(e.ctx, e.tenant.ID, p.ID, loyalty.RefundInput{ExternalID: ext,
				Lines: []kopilka.RefundLine{{Line: 1, Quantity: q}}}, nil)
			if err != nil {
				t.Fatalf("RefundPurchase(%s) = %v", ext, err)
			}
			revoked += r.PointsRevoked
		}
		refund("F-1", 200)
		e.shopProgram(t, func(p *kopilka.Program) { p.RoundAccrualToWholePoints = true })
		refund("F-2", 100)
		refund("F-3", 200)
		if revoked != p.Accrue {
			t.Errorf("Σ points_revoked over three refunds = %d, want the purchase's accrue %d", revoked, p.Accrue)
		}
		e.ledgerOK(t, c.ID)
	})
}
