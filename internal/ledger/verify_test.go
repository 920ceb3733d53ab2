package ledger_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/ledger"
)

// consistentFacts is a tenant whose postings agree with its lots, holds and
// debts: cus_a holds 700 spendable, 200 pending and 100 reserved; cus_b
// owes a refund debt of 50 (available −50). Issued 1200, redeemed 100,
// expired 50, revoked 100: 1200 − 100 − 50 − 100 = 950 = 700 + 200 + 100 − 50.
func consistentFacts() ledger.TenantFacts {
	return ledger.TenantFacts{
		TenantID:      "ten_1",
		PostingsTotal: 0,
		Customers: map[string]ledger.AccountSums{
			"cus_a": {Available: 700, Pending: 200, Held: 100},
			"cus_b": {Available: -50},
		},
		States: map[string]ledger.CustomerState{
			"cus_a": {ActiveRemaining: 700, PendingRemaining: 200, Held: 100},
			"cus_b": {Debt: 50},
		},
		SystemAccounts: map[ledger.Account]int64{
			ledger.Issued: -1200, ledger.Redeemed: 100, ledger.Expired: 50, ledger.Revoked: 100,
		},
	}
}

func TestVerifyConsistent(t *testing.T) {
	t.Parallel()
	if got := ledger.Verify(consistentFacts()); len(got) != 0 {
		t.Errorf("Verify(consistent facts) = %v, want no discrepancy", got)
	}
	if got := ledger.Verify(ledger.TenantFacts{TenantID: "ten_empty"}); len(got) != 0 {
		t.Errorf("Verify(empty tenant) = %v, want no discrepancy", got)
	}
}

// TestVerifyFindsEachInconsistency is Verify's negative control: one row
// per kind of inconsistency, each reported, naming the account.
func TestVerifyFindsEachInconsistency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(f *ledger.TenantFacts)
		want []ledger.Discrepancy
	}{
		{
			name: "AvailableMismatch",
			edit: func(f *ledger.TenantFacts) {
				f.States["cus_a"] = ledger.CustomerState{ActiveRemaining: 690, PendingRemaining: 200, Held: 100}
			},
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "customer cus_a/available", Postings: 700, State: 690}},
		},
		{
			name: "PendingMismatch",
			edit: func(f *ledger.TenantFacts) {
				f.States["cus_a"] = ledger.CustomerState{ActiveRemaining: 700, PendingRemaining: 201, Held: 100}
			},
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "customer cus_a/pending", Postings: 200, State: 201}},
		},
		{
			name: "HeldMismatch",
			edit: func(f *ledger.TenantFacts) {
				f.States["cus_a"] = ledger.CustomerState{ActiveRemaining: 700, PendingRemaining: 200}
			},
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "customer cus_a/held", Postings: 100, State: 0}},
		},
		{
			name: "DebtMismatch",
			edit: func(f *ledger.TenantFacts) { f.States["cus_b"] = ledger.CustomerState{Debt: 40} },
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "customer cus_b/available", Postings: -50, State: -40}},
		},
		{
			name: "NegativeDebt",
			edit: func(f *ledger.TenantFacts) { f.NegativeDebts = []string{"cus_b"} },
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "customer cus_b/debt", Detail: "debt is negative"}},
		},
		{
			name: "UnbalancedOperation",
			edit: func(f *ledger.TenantFacts) { f.UnbalancedOps = []string{"op_x"} },
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "operation op_x", Detail: "its postings do not sum to zero"}},
		},
		{
			// A stray posting to a system account: the tenant no longer
			// sums to zero, though customers and system accounts agree
			// with the total.
			name: "TenantTotalNotZero",
			edit: func(f *ledger.TenantFacts) {
				f.PostingsTotal = 5
				f.SystemAccounts[ledger.Issued] += 5
			},
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "tenant total", Postings: 5, State: 0,
				Detail: "postings of the tenant do not sum to zero"}},
		},
		{
			name: "LotOutOfRange",
			edit: func(f *ledger.TenantFacts) { f.NegativeLots = []string{"lot_1"} },
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "lot lot_1", Detail: "remaining is outside 0..amount"}},
		},
		{
			name: "Conservation",
			edit: func(f *ledger.TenantFacts) { f.SystemAccounts[ledger.Expired] = 49 },
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "conservation", Postings: 950, State: 951,
				Detail: "customer balances differ from issued − redeemed − expired − revoked"}},
		},
		{
			name: "StateWithoutPostings",
			edit: func(f *ledger.TenantFacts) { f.States["cus_c"] = ledger.CustomerState{ActiveRemaining: 10} },
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "customer cus_c/available", Postings: 0, State: 10}},
		},
		{
			name: "PostingsWithoutState",
			edit: func(f *ledger.TenantFacts) {
				f.Customers["cus_c"] = ledger.AccountSums{Pending: 10}
				f.SystemAccounts[ledger.Issued] -= 10
			},
			want: []ledger.Discrepancy{{TenantID: "ten_1", Account: "customer cus_c/pending", Postings: 10, State: 0}},
		},
		{
			name: "SeveralInStableOrder",
			edit: func(f *ledger.TenantFacts) {
				f.States["cus_b"] = ledger.CustomerState{Debt: 50, Held: 1}
				f.States["cus_a"] = ledger.CustomerState{ActiveRemaining: 700, PendingRemaining: 0, Held: 100}
				f.NegativeLots = []string{"lot_9"}
			},
			want: []ledger.Discrepancy{
				{TenantID: "ten_1", Account: "lot lot_9", Detail: "remaining is outside 0..amount"},
				{TenantID: "ten_1", Account: "customer cus_a/pending", Postings: 200, State: 0},
				{TenantID: "ten_1", Account: "customer cus_b/held", Postings: 0, State: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := consistentFacts()
			tt.edit(&f)
			got := ledger.Verify(f)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Verify mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
