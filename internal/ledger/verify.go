package ledger

import (
	"fmt"
	"sort"
)

// CustomerState is what the lots, holds and debt say of one customer:
// the spending state that the postings must agree with.
type CustomerState struct {
	ActiveRemaining  int64 // Σ remaining of active lots
	PendingRemaining int64 // Σ remaining of pending and inactive lots
	Held             int64 // Σ amounts of holds still held
	Debt             int64
}

// AccountSums are the posting sums of one customer's accounts.
type AccountSums struct {
	Available, Pending, Held int64
}

// Discrepancy is one difference Verify found.
type Discrepancy struct {
	TenantID string
	Account  string // e.g. "customer cus_…/available" or "tenant total"
	Postings int64  // what the postings say
	State    int64  // what the lots, holds and debt say
	Detail   string
}

// String describes the discrepancy for a person.
func (d Discrepancy) String() string {
	s := fmt.Sprintf("tenant %s: %s: postings say %d, state says %d", d.TenantID, d.Account, d.Postings, d.State)
	if d.Detail != "" {
		s += " (" + d.Detail + ")"
	}
	return s
}

// TenantFacts are the figures Verify checks for one tenant.
type TenantFacts struct {
	TenantID       string
	PostingsTotal  int64                  // Σ of every posting of the tenant
	Customers      map[string]AccountSums // posting sums by customer
	States         map[string]CustomerState
	UnbalancedOps  []string // operations whose postings do not sum to 0
	NegativeLots   []string // lots whose remaining is out of [0, amount]
	NegativeDebts  []string // customers with a negative debt
	SystemAccounts map[Account]int64
}

// Verify proves every customer balance from the postings and returns the
// differences, in a stable order. An empty result means consistent.
func Verify(f TenantFacts) []Discrepancy {
	var out []Discrepancy
	if f.PostingsTotal != 0 {
		out = append(out, Discrepancy{TenantID: f.TenantID, Account: "tenant total", Postings: f.PostingsTotal, State: 0, Detail: "postings of the tenant do not sum to zero"})
	}
	for _, op := range f.UnbalancedOps {
		out = append(out, Discrepancy{TenantID: f.TenantID, Account: "operation " + op, Detail: "its postings do not sum to zero"})
	}
	for _, l := range f.NegativeLots {
		out = append(out, Discrepancy{TenantID: f.TenantID, Account: "lot " + l, Detail: "remaining is outside 0..amount"})
	}
	for _, c := range f.NegativeDebts {
		out = append(out, Discrepancy{TenantID: f.TenantID, Account: "customer " + c + "/debt", Detail: "debt is negative"})
	}
	ids := make(map[string]bool, len(f.Customers)+len(f.States))
	for id := range f.Customers {
		ids[id] = true
	}
	for id := range f.States {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	var customers int64
	for _, id := range sorted {
		p, s := f.Customers[id], f.States[id]
		check := func(acct string, posted, state int64) {
			if posted != state {
				out = append(out, Discrepancy{TenantID: f.TenantID, Account: "customer " + id + "/" + acct, Postings: posted, State: state})
			}
		}
		check("available", p.Available, s.ActiveRemaining-s.Debt)
		check("pending", p.Pending, s.PendingRemaining)
		check("held", p.Held, s.Held)
		customers += p.Available + p.Pending + p.Held
	}
	var system int64
	for _, v := range f.SystemAccounts {
		system += v
	}
	if customers+system != f.PostingsTotal {
		out = append(out, Discrepancy{TenantID: f.TenantID, Account: "conservation", Postings: customers, State: -system, Detail: "customer balances differ from issued − redeemed − expired − revoked"})
	}
	return out
}
