package storage

import (
	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
)

// Writes is what one use case writes, gathered so the database can apply
// it at once: on PostgreSQL one statement (data-modifying CTEs), on SQLite
// one statement a piece. Everything in it belongs to one tenant.
type Writes struct {
	Ops       []OpWrite         // operations with their postings (phase create)
	Lots      []*kopilka.Lot    // new lots
	LotDeltas []LotDelta        // changes of existing lots' remaining points
	Holds     []Hold            // new holds
	Customer  *CustomerBalances // the customer's new debt and purchase sum
	Purchase  *kopilka.Purchase // a new purchase
	Refund    *kopilka.Refund   // a new refund
	Update    *kopilka.Purchase // a purchase whose status, lines and links change
}

// OpWrite is an operation and the postings it makes; they sum to zero.
type OpWrite struct {
	Op       *kopilka.Operation
	Postings []ledger.Posting
}

// LotDelta changes a lot's remaining points; the database refuses a
// result outside 0..amount (ErrInsufficient).
type LotDelta struct {
	LotID string
	Delta kopilka.Amount
}

// CustomerBalances are a customer's debt and accumulated purchase sum.
type CustomerBalances struct {
	CustomerID     string
	Debt           kopilka.Amount
	PurchasesTotal kopilka.Amount
}

// Empty reports whether there is nothing to write.
func (w *Writes) Empty() bool {
	return len(w.Ops) == 0 && len(w.Lots) == 0 && len(w.LotDeltas) == 0 && len(w.Holds) == 0 &&
		w.Customer == nil && w.Purchase == nil && w.Refund == nil && w.Update == nil
}

// AddDelta records a change of a lot's remaining points, merging changes
// of one lot.
func (w *Writes) AddDelta(lotID string, delta kopilka.Amount) {
	for i := range w.LotDeltas {
		if w.LotDeltas[i].LotID == lotID {
			w.LotDeltas[i].Delta += delta
			return
		}
	}
	w.LotDeltas = append(w.LotDeltas, LotDelta{LotID: lotID, Delta: delta})
}
