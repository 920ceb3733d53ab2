// Package ledger holds the double-entry rules of the points ledger: the
// accounts, the postings each movement makes, the order lots are spent in,
// and Verify, which proves balances from postings. It is pure: no clock, no
// database, no logger.
//
// Every customer has three accounts: available (spendable points, negative
// while a refund debt is open), pending (accrued but not yet confirmed or
// active) and held (reserved by pending redemptions). Each tenant has four
// system accounts: issued, redeemed, expired and revoked. The system
// accounts keep no running balance; they are the sums of their postings.
// Every operation's postings sum to zero, so for every tenant
// Σ customer balances = issued − redeemed − expired − revoked, with the
// sign convention that system accounts hold the negated amounts.
package ledger

import (
	"fmt"
	"sort"
	"time"
)

// Account names one side of a posting.
type Account string

// Customer accounts.
const (
	Available Account = "available"
	Pending   Account = "pending"
	Held      Account = "held"
)

// System accounts of a tenant.
const (
	Issued   Account = "issued"
	Redeemed Account = "redeemed"
	Expired  Account = "expired"
	Revoked  Account = "revoked"
)

// IsSystem reports whether a is a tenant system account.
func (a Account) IsSystem() bool {
	return a == Issued || a == Redeemed || a == Expired || a == Revoked
}

// Posting is one leg of an operation: amount moves into Account (negative:
// out of it). CustomerID is empty for system accounts.
type Posting struct {
	Account    Account
	CustomerID string
	Amount     int64
}

// Move returns the two legs that move amount from one account to another.
func Move(from, to Account, customerID string, amount int64) []Posting {
	fc, tc := customerID, customerID
	if from.IsSystem() {
		fc = ""
	}
	if to.IsSystem() {
		tc = ""
	}
	return []Posting{
		{Account: from, CustomerID: fc, Amount: -amount},
		{Account: to, CustomerID: tc, Amount: amount},
	}
}

// Balanced reports an error unless the postings sum to zero.
func Balanced(ps []Posting) error {
	var sum int64
	for _, p := range ps {
		sum += p.Amount
	}
	if sum != 0 {
		return fmt.Errorf("postings sum to %d, not 0", sum)
	}
	return nil
}

// SpendableLot is what Spend needs to know of a lot.
type SpendableLot struct {
	ID        string
	Remaining int64
	ExpiresAt *time.Time
	Seq       int64 // creation order, to break ties
}

// Take is an amount taken from one lot.
type Take struct {
	LotID  string
	Amount int64
}

// Spend takes amount from lots, the soonest-expiring first (lots that never
// expire last, older lots before newer ones on a tie). It returns nil and
// false when the lots hold less than amount.
func Spend(lots []SpendableLot, amount int64) ([]Take, bool) {
	if amount <= 0 {
		return nil, amount == 0
	}
	sorted := make([]SpendableLot, len(lots))
	copy(sorted, lots)
	SortForSpending(sorted)
	var takes []Take
	left := amount
	for _, l := range sorted {
		if left == 0 {
			break
		}
		if l.Remaining <= 0 {
			continue
		}
		n := min(l.Remaining, left)
		takes = append(takes, Take{LotID: l.ID, Amount: n})
		left -= n
	}
	if left > 0 {
		return nil, false
	}
	return takes, true
}

// SortForSpending orders lots in spending order.
func SortForSpending(lots []SpendableLot) {
	sort.SliceStable(lots, func(i, j int) bool {
		a, b := lots[i], lots[j]
		switch {
		case a.ExpiresAt == nil && b.ExpiresAt != nil:
			return false
		case a.ExpiresAt != nil && b.ExpiresAt == nil:
			return true
		case a.ExpiresAt != nil && !a.ExpiresAt.Equal(*b.ExpiresAt):
			return a.ExpiresAt.Before(*b.ExpiresAt)
		}
		return a.Seq < b.Seq
	})
}
