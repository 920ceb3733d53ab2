package faulttest

import (
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
)

// TestCheck is the oracle's own negative control: each row spoils one
// property of a clean made-up world and the oracle must name exactly that
// breach.
func TestCheck(t *testing.T) {
	t.Parallel()
	const a, b = "cus_a", "cus_b"
	// The clean world: on a, purchase p1 redeemed 100 and accrued 200, and
	// refund r1 of one unit of its line 1 returned 50 and revoked 100; on
	// b, a refused purchase.
	hist := func() []*record {
		return []*record{
			{N: 1, Kind: kindPurchase, CustomerID: a, ExternalID: "x1", Outcome: ok, PurchaseID: "p1", Lines: 2, Redeem: 100, Accrue: 200},
			{N: 2, Kind: kindRefund, CustomerID: a, ExternalID: "y1", Outcome: ok, PurchaseID: "p1", RefundID: "r1",
				Returned: 50, Revoked: 100, RefundLines: []kopilka.RefundLine{{Line: 1, Quantity: 1}}},
			{N: 3, Kind: kindPurchase, CustomerID: b, ExternalID: "x2", Outcome: refused, Answer: "422 insufficient_points"},
		}
	}
	ledger := func() ledgerView {
		return ledgerView{
			Ops: map[string][]operation{
				a: {
					{ID: "op5", Type: "refund", Status: "complete", Amount: -100, PurchaseID: "p1"},
					{ID: "op4", Type: "refund", Status: "complete", Amount: 50, PurchaseID: "p1"},
					{ID: "op3", Type: "accrual", Status: "complete", Amount: 200, PurchaseID: "p1"},
					{ID: "op2", Type: "redemption", Status: "complete", Amount: -100, PurchaseID: "p1"},
					{ID: "op1", Type: "adjustment", Status: "complete", Amount: startBalance},
				},
				b: {{ID: "op6", Type: "adjustment", Status: "complete", Amount: startBalance}},
			},
			Balances: map[string]balance{a: {Available: startBalance + 50}, b: {Available: startBalance}},
			Purchases: map[string]*purchaseState{
				"x1": {ID: "p1", CustomerID: a, Status: "complete", Redeem: 100, Accrue: 200, Refunded: []kopilka.Quantity{1, 0}},
			},
		}
	}
	type kinds []string
	tests := []struct {
		name  string
		spoil func(h []*record, lv *ledgerView) []*record
		want  kinds
	}{
		{"clean", func(h []*record, lv *ledgerView) []*record { return h }, nil},
		{"purchase applied twice under a new external id", func(h []*record, lv *ledgerView) []*record {
			lv.Ops[a] = append(lv.Ops[a],
				operation{ID: "op8", Type: "accrual", Status: "complete", Amount: 200, PurchaseID: "p9"},
				operation{ID: "op9", Type: "redemption", Status: "complete", Amount: -100, PurchaseID: "p9"})
			lv.Balances[a] = balance{Available: startBalance + 150}
			return h
		}, kinds{"balance", "unacknowledged", "unacknowledged"}},
		{"acknowledged purchase lost", func(h []*record, lv *ledgerView) []*record {
			delete(lv.Purchases, "x1")
			return h
		}, kinds{"lost"}},
		{"accrual posted twice", func(h []*record, lv *ledgerView) []*record {
			lv.Ops[a] = append(lv.Ops[a], operation{ID: "op8", Type: "accrual", Status: "complete", Amount: 200, PurchaseID: "p1"})
			lv.Balances[a] = balance{Available: startBalance + 250}
			return h
		}, kinds{"balance", "effects"}},
		{"redemption missing", func(h []*record, lv *ledgerView) []*record {
			lv.Ops[a] = lv.Ops[a][:3]
			lv.Ops[a] = append(lv.Ops[a], operation{ID: "op1", Type: "adjustment", Status: "complete", Amount: startBalance})
			lv.Balances[a] = balance{Available: startBalance + 150}
			return h
		}, kinds{"balance", "effects"}},
		{"refused purchase applied", func(h []*record, lv *ledgerView) []*record {
			lv.Purchases["x2"] = &purchaseState{ID: "p2", CustomerID: b, Status: "complete"}
			return h
		}, kinds{"refused_applied"}},
		{"refund applied twice", func(h []*record, lv *ledgerView) []*record {
			lv.Ops[a] = append(lv.Ops[a],
				operation{ID: "op8", Type: "refund", Status: "complete", Amount: 50, PurchaseID: "p1"},
				operation{ID: "op9", Type: "refund", Status: "complete", Amount: -100, PurchaseID: "p1"})
			lv.Balances[a] = balance{Available: startBalance}
			lv.Purchases["x1"].Refunded = []kopilka.Quantity{2, 0}
			return h
		}, kinds{"balance", "refund_effects", "refunded"}},
		{"acknowledged refund without effect", func(h []*record, lv *ledgerView) []*record {
			lv.Ops[a] = lv.Ops[a][2:]
			lv.Balances[a] = balance{Available: startBalance + 100}
			lv.Purchases["x1"].Refunded = []kopilka.Quantity{0, 0}
			return h
		}, kinds{"balance", "refund_effects", "refunded"}},
		{"refunded quantities drifted", func(h []*record, lv *ledgerView) []*record {
			lv.Purchases["x1"].Refunded = []kopilka.Quantity{1, 1}
			return h
		}, kinds{"refunded"}},
		{"balance drifted from its operations", func(h []*record, lv *ledgerView) []*record {
			lv.Balances[b] = balance{Available: startBalance, Pending: 1}
			return h
		}, kinds{"balance"}},
		{"accrual amount differs from the acknowledgement", func(h []*record, lv *ledgerView) []*record {
			lv.Ops[a][2].Amount = 201
			lv.Balances[a] = balance{Available: startBalance + 51}
			return h
		}, kinds{"balance", "effects"}},
		{"the server keeps another purchase", func(h []*record, lv *ledgerView) []*record {
			lv.Purchases["x1"].ID = "p_other"
			return h
		}, kinds{"mismatch"}},
		{"outcome unknown", func(h []*record, lv *ledgerView) []*record {
			return append(h, &record{N: 4, Kind: kindPurchase, CustomerID: b, ExternalID: "x3", Outcome: unknown})
		}, kinds{"unresolved"}},
		{"unknown outcome that happened", func(h []*record, lv *ledgerView) []*record {
			lv.Ops[b] = append(lv.Ops[b], operation{ID: "op7", Type: "accrual", Status: "complete", Amount: 300, PurchaseID: "p3"})
			lv.Balances[b] = balance{Available: startBalance + 300}
			lv.Purchases["x3"] = &purchaseState{ID: "p3", CustomerID: b, Status: "complete", Accrue: 300, Refunded: []kopilka.Quantity{0}}
			return append(h, &record{N: 4, Kind: kindPurchase, CustomerID: b, ExternalID: "x3", Outcome: unknown})
		}, kinds{"unresolved"}},
		{"unexpected answer", func(h []*record, lv *ledgerView) []*record {
			return append(h, &record{N: 4, Kind: kindRefund, CustomerID: a, ExternalID: "y2", Outcome: rejected, Answer: "409 conflict"})
		}, kinds{"rejected"}},
		{"one purchase acknowledged to two operations", func(h []*record, lv *ledgerView) []*record {
			h[2] = &record{N: 3, Kind: kindPurchase, CustomerID: a, ExternalID: "x3", Outcome: ok, PurchaseID: "p1", Lines: 2, Redeem: 100, Accrue: 200}
			return h
		}, kinds{"balance", "duplicate", "lost"}},
		{"one refund acknowledged to two operations", func(h []*record, lv *ledgerView) []*record {
			h[2] = &record{N: 3, Kind: kindRefund, CustomerID: a, ExternalID: "y3", Outcome: ok, PurchaseID: "p1", RefundID: "r1",
				Returned: 50, Revoked: 100, RefundLines: []kopilka.RefundLine{{Line: 1, Quantity: 1}}}
			return h
		}, kinds{"balance", "duplicate", "refund_effects", "refunded"}},
		{"operation nobody asked for", func(h []*record, lv *ledgerView) []*record {
			lv.Ops[b] = append(lv.Ops[b], operation{ID: "op7", Type: "expiry", Status: "complete", Amount: -10})
			lv.Balances[b] = balance{Available: startBalance - 10}
			return h
		}, kinds{"balance", "unacknowledged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lv := ledger()
			h := tt.spoil(hist(), &lv)
			var got kinds
			for _, v := range check(h, []string{a, b}, lv) {
				got = append(got, v.Kind)
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("check(%s) kinds mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}
