package loyalty

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// MergeCustomers merges customer from into customer id, the survivor, in
// one transaction:
//
//   - from's cards, lots (each with its activation and expiry), purchases
//     and external ids become the survivor's; one "merge" operation moves
//     its available and pending points to the survivor's accounts;
//   - its debt and purchase sum add to the survivor's (the tier follows),
//     and the survivor's debt is repaid at once from the points it now has;
//   - the survivor's profile keeps its own values and takes from's where
//     its own are empty; from's phone becomes the survivor's phone when it
//     has none, else its extra phone when that is free, and identifies the
//     survivor either way;
//   - from stays as a row merged into the survivor: its id and phone
//     resolve to the survivor, and its operations show in the survivor's
//     history.
//
// It refuses with conflict while from has pending purchases, when either
// customer was merged or deleted, and when their kinds differ; merging a
// customer into itself is invalid_request.
func (s *Service) MergeCustomers(ctx context.Context, tenantID, id, from string, idem *Idem) (*kopilka.Customer, error) {
	switch {
	case from == "":
		return nil, kopilka.Invalid("from", "name the customer to merge by its id")
	case len(from) > 128:
		return nil, kopilka.Invalid("from", "at most 128 characters")
	case from == id:
		return nil, kopilka.Invalid("from", "a customer cannot be merged into itself")
	}
	actor := kopilka.ActorFrom(ctx).Name
	ctx = storage.WithKey(ctx, id)
	var op *kopilka.Operation
	v, err := s.write(ctx, tenantID, idem, func(tx storage.Tx) (any, error) {
		var err error
		if op, err = merge(ctx, tx, tenantID, id, from, actor); err != nil {
			return nil, err
		}
		return tx.GetCustomer(ctx, tenantID, id, false)
	})
	if err != nil {
		return nil, err
	}
	s.observed(op)
	return v.(*kopilka.Customer), nil
}

// merge does the work of MergeCustomers inside tx.
func merge(ctx context.Context, tx storage.Tx, tenantID, into, from, actor string) (*kopilka.Operation, error) {
	if err := mergeable(ctx, tx, tenantID, into, from); err != nil {
		return nil, err
	}
	// Both rows are locked in id order, so two merges, or a merge and an
	// import, never wait on each other in a cycle.
	locked := map[string]*kopilka.Customer{}
	for _, id := range slices.Sorted(slices.Values([]string{into, from})) {
		c, err := tx.LockCustomer(ctx, tenantID, id)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && c.ID != id) {
			return nil, kopilka.Errorf(kopilka.CodeConflict, "customer %s was merged or deleted meanwhile", id)
		}
		if err != nil {
			return nil, err
		}
		locked[id] = c
	}
	pending, err := tx.PendingPurchases(ctx, tenantID, from, 10)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		return nil, &kopilka.Error{Code: kopilka.CodeConflict, Field: "from", Message: fmt.Sprintf(
			"customer %s has pending purchases (%s): confirm or cancel them, then merge", from, strings.Join(pending, ", "))}
	}
	sp, err := tx.GetCustomer(ctx, tenantID, into, false)
	if err != nil {
		return nil, err
	}
	fp, err := tx.GetCustomer(ctx, tenantID, from, false)
	if err != nil {
		return nil, err
	}
	if sp.Kind != fp.Kind {
		return nil, &kopilka.Error{Code: kopilka.CodeConflict, Field: "from",
			Message: fmt.Sprintf("customer %s is %s and %s is %s: only customers of one kind merge", into, sp.Kind, from, fp.Kind)}
	}
	op, err := moveMergedPoints(ctx, tx, locked[into], locked[from], len(fp.Cards))
	if err != nil {
		return nil, err
	}
	return op, mergeProfiles(ctx, tx, sp, fp, actor)
}

// mergeable checks, without locks, that both customers exist and are
// neither merged nor deleted.
func mergeable(ctx context.Context, tx storage.Tx, tenantID, into, from string) error {
	for _, id := range []string{into, from} {
		field := ""
		if id == from {
			field = "from"
		}
		st, err := tx.CustomerStatus(ctx, tenantID, id)
		switch {
		case errors.Is(err, storage.ErrNotFound) && field == "":
			return &kopilka.Error{Code: kopilka.CodeNotFound, Message: "customer not found", Err: err}
		case errors.Is(err, storage.ErrNotFound):
			return &kopilka.Error{Code: kopilka.CodeCustomerNotFound, Field: field, Message: "the customer to merge (from) was not found", Err: err}
		case err != nil:
			return err
		case st.Deleted:
			return &kopilka.Error{Code: kopilka.CodeConflict, Field: field, Message: fmt.Sprintf("customer %s was deleted", id)}
		case st.MergedInto != "":
			return &kopilka.Error{Code: kopilka.CodeConflict, Field: field,
				Message: fmt.Sprintf("customer %s is already merged into %s", id, st.MergedInto)}
		}
	}
	return nil
}

// moveMergedPoints writes the merge operation, hands from's belongings
// to the survivor s, adds from's debt and purchase sum to s's and repays
// s's debt from the points it now holds.
func moveMergedPoints(ctx context.Context, tx storage.Tx, s, f *kopilka.Customer, cards int) (*kopilka.Operation, error) {
	lots, err := tx.CustomerLots(ctx, f.TenantID, f.ID, kopilka.LotActive, kopilka.LotInactive, kopilka.LotPending)
	if err != nil {
		return nil, err
	}
	var active, pending int64
	for _, l := range lots {
		if l.State == kopilka.LotActive {
			active += l.Remaining
		} else {
			pending += l.Remaining
		}
	}
	available := active - f.Debt
	op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: s.TenantID, CustomerID: s.ID, Type: kopilka.OpMerge,
		Status: kopilka.StatusComplete, Amount: available + pending,
		Message: fmt.Sprintf("Объединение клиентов: перенесены баллы и карты клиента %s "+
			"(доступно %s с учётом долга %s, ожидают активации %s; карт: %d)",
			f.ID, formatPoints(available), formatPoints(f.Debt), formatPoints(pending), cards)}
	if err := tx.InsertOperation(ctx, op, movePostings(f.ID, s.ID, available, pending)); err != nil {
		return nil, err
	}
	if err := tx.MergeCustomer(ctx, s.TenantID, f.ID, s.ID); err != nil {
		return nil, err
	}
	s.Debt += f.Debt
	s.PurchasesTotal += f.PurchasesTotal
	if s.Debt > 0 {
		// The survivor's own accruals would repay its debt first; the
		// points it just took over do so at once.
		spend, sum, err := spendable(ctx, tx, s)
		if err != nil {
			return nil, err
		}
		takes, _ := ledger.Spend(spend, min(s.Debt, sum))
		for _, t := range takes {
			if err := tx.AddLotRemaining(ctx, s.TenantID, t.LotID, -t.Amount); err != nil {
				return nil, err
			}
			s.Debt -= t.Amount
		}
	}
	return op, tx.SetCustomerBalances(ctx, s.TenantID, s.ID, s.Debt, s.PurchasesTotal)
}

// movePostings move available and pending points from one customer's
// accounts to another's (available may be negative: a debt moves).
func movePostings(from, to string, available, pending int64) []ledger.Posting {
	var ps []ledger.Posting
	for _, m := range []struct {
		acct   ledger.Account
		amount int64
	}{{ledger.Available, available}, {ledger.Pending, pending}} {
		if m.amount != 0 {
			ps = append(ps, ledger.Posting{Account: m.acct, CustomerID: from, Amount: -m.amount},
				ledger.Posting{Account: m.acct, CustomerID: to, Amount: m.amount})
		}
	}
	return ps
}

// mergeProfiles fills the survivor's empty profile fields from the merged
// customer's and records the changes in both histories.
func mergeProfiles(ctx context.Context, tx storage.Tx, s, f *kopilka.Customer, actor string) error {
	old := *s
	old.Tags = slices.Clone(s.Tags)
	switch {
	case f.Phone == "" || f.Phone == s.Phone:
	case s.Phone == "":
		// The phone moves: it is unique, so the merged row lets it go.
		s.Phone = f.Phone
		released := *f
		released.Phone = ""
		if err := tx.UpdateCustomer(ctx, &released); err != nil {
			return err
		}
	case s.ExtraPhone == "":
		s.ExtraPhone = f.Phone // and f keeps it, so it still finds the survivor
	}
	if s.ExtraPhone == "" && f.ExtraPhone != s.Phone {
		s.ExtraPhone = f.ExtraPhone
	}
	for _, p := range []struct{ dst, src *string }{
		{&s.Email, &f.Email}, {&s.FirstName, &f.FirstName}, {&s.LastName, &f.LastName},
		{&s.MiddleName, &f.MiddleName}, {&s.BirthDate, &f.BirthDate}, {&s.Gender, &f.Gender}, {&s.Group, &f.Group},
	} {
		if *p.dst == "" {
			*p.dst = *p.src
		}
	}
	for _, t := range f.Tags {
		if !slices.Contains(s.Tags, t) && len(s.Tags) < 50 {
			s.Tags = append(s.Tags, t)
		}
	}
	changes := append(diffCustomer(&old, s, actor),
		kopilka.CustomerChange{CustomerID: s.ID, Field: "merged_from", NewValue: f.ID, Actor: actor},
		kopilka.CustomerChange{CustomerID: f.ID, Field: "merged_into", NewValue: s.ID, Actor: actor})
	if len(changes) > 2 {
		if err := tx.UpdateCustomer(ctx, s); err != nil {
			return err
		}
	}
	return tx.AddCustomerChanges(ctx, s.TenantID, changes)
}
