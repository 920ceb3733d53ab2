package sqldb

import (
	"context"

	"github.com/kopilka/kopilka/internal/ledger"
)

// SystemBalances sums the tenant's system accounts.
func (tx *Tx) SystemBalances(ctx context.Context, tenantID string) (map[ledger.Account]int64, error) {
	rows, err := tx.query(ctx, `SELECT account, SUM(amount) FROM postings WHERE tenant_id = $1 AND customer_id = ''
GROUP BY account`, tenantID)
	if err != nil {
		return nil, wrap("system balances", err)
	}
	defer rows.Close()
	out := map[ledger.Account]int64{}
	for rows.Next() {
		var a string
		var v int64
		if err := rows.Scan(&a, &v); err != nil {
			return nil, err
		}
		out[ledger.Account(a)] = v
	}
	return out, rows.Err()
}

// VerifyFacts gathers what ledger.Verify needs for a tenant, in the
// caller's (snapshot) transaction.
func (tx *Tx) VerifyFacts(ctx context.Context, tenantID string) (*ledger.TenantFacts, error) {
	f := &ledger.TenantFacts{
		TenantID:  tenantID,
		Customers: map[string]ledger.AccountSums{},
		States:    map[string]ledger.CustomerState{},
	}
	if err := tx.row(ctx, `SELECT COALESCE(SUM(amount), 0) FROM postings WHERE tenant_id = $1`, tenantID).Scan(&f.PostingsTotal); err != nil {
		return nil, wrap("postings total", err)
	}
	var err error
	if f.SystemAccounts, err = tx.SystemBalances(ctx, tenantID); err != nil {
		return nil, err
	}
	steps := []struct {
		q    string
		scan func(id string, a string, v int64)
	}{
		{`SELECT customer_id, account, SUM(amount) FROM postings WHERE tenant_id = $1 AND customer_id <> ''
GROUP BY customer_id, account`, func(id, a string, v int64) {
			s := f.Customers[id]
			switch ledger.Account(a) {
			case ledger.Available:
				s.Available = v
			case ledger.Pending:
				s.Pending = v
			case ledger.Held:
				s.Held = v
			}
			f.Customers[id] = s
		}},
		{`SELECT customer_id, CASE WHEN state = 'active' THEN 'active' ELSE 'pending' END, SUM(remaining) FROM lots
WHERE tenant_id = $1 AND state <> 'voided' GROUP BY customer_id, CASE WHEN state = 'active' THEN 'active' ELSE 'pending' END`,
			func(id, a string, v int64) {
				s := f.States[id]
				if a == "active" {
					s.ActiveRemaining = v
				} else {
					s.PendingRemaining = v
				}
				f.States[id] = s
			}},
		{`SELECT customer_id, 'held', SUM(amount) FROM holds WHERE tenant_id = $1 AND state = 'held' GROUP BY customer_id`,
			func(id, _ string, v int64) {
				s := f.States[id]
				s.Held = v
				f.States[id] = s
			}},
		{`SELECT id, 'debt', debt FROM customers WHERE tenant_id = $1 AND debt <> 0`, func(id, _ string, v int64) {
			s := f.States[id]
			s.Debt = v
			f.States[id] = s
			if v < 0 {
				f.NegativeDebts = append(f.NegativeDebts, id)
			}
		}},
		{`SELECT operation_id, 'op', SUM(amount) FROM postings WHERE tenant_id = $1 GROUP BY operation_id HAVING SUM(amount) <> 0`,
			func(id, _ string, _ int64) { f.UnbalancedOps = append(f.UnbalancedOps, id) }},
		{`SELECT id, 'lot', remaining FROM lots WHERE tenant_id = $1 AND (remaining < 0 OR remaining > amount)`,
			func(id, _ string, _ int64) { f.NegativeLots = append(f.NegativeLots, id) }},
	}
	for _, st := range steps {
		if err := tx.each(ctx, st.q, tenantID, st.scan); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (tx *Tx) each(ctx context.Context, q, tenantID string, fn func(string, string, int64)) error {
	rows, err := tx.query(ctx, q, tenantID)
	if err != nil {
		return wrap("verify", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, a string
		var v int64
		if err := rows.Scan(&id, &a, &v); err != nil {
			return err
		}
		fn(id, a, v)
	}
	return rows.Err()
}
