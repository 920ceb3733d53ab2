package loyalty

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// DeleteCustomer deletes a customer on request (152-FZ), in one
// transaction: the points left (available, not yet active, and a debt) are
// forfeited by a "deletion" operation to the revoked account, so the ledger
// still proves every balance; the personal data of the customer, and of
// the customers merged into it, is erased (storage.Tx.EraseCustomer); its
// cards are blocked. The id keeps its ledger rows and is found no more
// (not_found). Deleting it again changes nothing and succeeds. It refuses
// with conflict while the customer has pending purchases, and for the id
// of a customer merged into another (delete the survivor).
func (s *Service) DeleteCustomer(ctx context.Context, tenantID, id string) error {
	actor := kopilka.ActorFrom(ctx).Name
	ctx = storage.WithKey(ctx, id)
	var op *kopilka.Operation
	err := s.db.Write(ctx, func(tx storage.Tx) error {
		var err error
		op, err = erase(ctx, tx, tenantID, id, actor)
		return err
	})
	if err != nil {
		return unavailable(err)
	}
	s.observed(op)
	return nil
}

// erase does the work of DeleteCustomer inside tx; it returns the
// deletion operation, or nil when there were no points to forfeit.
func erase(ctx context.Context, tx storage.Tx, tenantID, id, actor string) (*kopilka.Operation, error) {
	st, err := tx.CustomerStatus(ctx, tenantID, id)
	switch {
	case err != nil:
		return nil, notFound(err, kopilka.CodeNotFound, "customer")
	case st.Deleted:
		return nil, nil
	case st.MergedInto != "":
		return nil, kopilka.Errorf(kopilka.CodeConflict, "customer %s was merged into %s: delete %s", id, st.MergedInto, st.MergedInto)
	}
	c, err := tx.LockCustomer(ctx, tenantID, id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && c.ID != id) {
		return nil, kopilka.Errorf(kopilka.CodeConflict, "customer %s was merged or deleted meanwhile", id)
	}
	if err != nil {
		return nil, err
	}
	pending, err := tx.PendingPurchases(ctx, tenantID, id, 10)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		return nil, kopilka.Errorf(kopilka.CodeConflict,
			"customer %s has pending purchases (%s): confirm or cancel them, then delete", id, strings.Join(pending, ", "))
	}
	op, err := forfeit(ctx, tx, c)
	if err != nil {
		return nil, err
	}
	if err := tx.EraseCustomer(ctx, tenantID, id); err != nil {
		return nil, err
	}
	return op, tx.AddCustomerChanges(ctx, tenantID, []kopilka.CustomerChange{
		{CustomerID: id, Field: "deleted", OldValue: "false", NewValue: "true", Actor: actor}})
}

// forfeit empties the customer's lots and debt and writes the operation
// that takes what they held to the revoked account.
func forfeit(ctx context.Context, tx storage.Tx, c *kopilka.Customer) (*kopilka.Operation, error) {
	lots, err := tx.CustomerLots(ctx, c.TenantID, c.ID, kopilka.LotActive, kopilka.LotInactive, kopilka.LotPending)
	if err != nil {
		return nil, err
	}
	var w storage.Writes
	var active, pending int64
	for _, l := range lots {
		if l.State == kopilka.LotActive {
			active += l.Remaining
		} else {
			pending += l.Remaining
		}
		w.AddDelta(l.ID, -l.Remaining)
	}
	available := active - c.Debt
	var op *kopilka.Operation
	if available != 0 || pending != 0 {
		op = &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: c.TenantID, CustomerID: c.ID, Type: kopilka.OpDeletion,
			Status: kopilka.StatusComplete, Amount: -(available + pending),
			Message: fmt.Sprintf("Клиент удалён по запросу, персональные данные стёрты; баллы аннулированы "+
				"(доступно %s, ожидали активации %s, долг %s)", formatPoints(available), formatPoints(pending), formatPoints(c.Debt))}
		var ps []ledger.Posting
		if available != 0 {
			ps = append(ps, ledger.Move(ledger.Available, ledger.Revoked, c.ID, available)...)
		}
		if pending != 0 {
			ps = append(ps, ledger.Move(ledger.Pending, ledger.Revoked, c.ID, pending)...)
		}
		w.Ops = append(w.Ops, storage.OpWrite{Op: op, Postings: ps})
	}
	if c.Debt != 0 {
		w.Customer = &storage.CustomerBalances{CustomerID: c.ID, Debt: 0, PurchasesTotal: c.PurchasesTotal}
	}
	if w.Empty() {
		return nil, nil
	}
	return op, tx.Apply(ctx, c.TenantID, &w)
}
