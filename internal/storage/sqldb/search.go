package sqldb

import (
	"context"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/pii"
	"github.com/kopilka/kopilka/internal/storage"
)

// SearchCustomers pages a tenant's customers matching s, newest first.
// Phone, e-mail and name match through their blind indexes.
func (tx *Tx) SearchCustomers(ctx context.Context, tenantID string, s storage.CustomerSearch) ([]kopilka.Customer, error) {
	keys := tx.db.keys
	b := tx.binder()
	where := []string{"c.tenant_id = " + b.arg(tenantID)}
	var terms []string // the customer must have all of them
	from := "customers c"
	if s.Phone != "" {
		where = append(where, "c.phone_bidx = "+b.arg(keys.Index(idxPhone, tenantID, s.Phone)))
	}
	if s.Email != "" {
		terms = append(terms, emailTerm(keys, tenantID, strings.TrimSpace(s.Email)))
	}
	if s.Card != "" {
		where = append(where, "EXISTS (SELECT 1 FROM cards k WHERE k.tenant_id = c.tenant_id AND k.number = "+b.arg(s.Card)+
			" AND k.customer_id = c.id)")
	}
	if s.Group != "" {
		where = append(where, "c.grp = "+b.arg(s.Group))
	}
	if s.Tag != "" {
		terms = append(terms, TagTerm(s.Tag))
	}
	if s.Name != "" {
		toks := pii.NameTokens(s.Name)
		if len(toks) == 0 {
			return nil, nil
		}
		for _, tok := range toks {
			terms = append(terms, nameTerm(keys, tenantID, tok))
		}
	}
	switch {
	case len(terms) == 0:
	case b.pg: // an array in the customer's row (pgTerms)
		for i, t := range terms {
			terms[i] = pgTerm(tenantID, t)
		}
		where = append(where, "c.terms @> "+b.arg(terms)+"::text[]")
	default: // a document of an FTS5 index (searchDoc)
		match := searchMatch(tenantID, terms)
		few, err := tx.fewMatches(ctx, match)
		if err != nil {
			return nil, err
		}
		if few {
			// Few customers have the terms: start from them (CROSS JOIN
			// keeps SQLite to that order) and sort them.
			from = "customer_search CROSS JOIN customers c"
			where = append(where, "customer_search MATCH "+b.arg(match), "c.search_n = customer_search.rowid")
		} else {
			// Many: walk the customers newest first, as the page wants,
			// keeping those among them.
			where = append(where, "c.search_n IN (SELECT rowid FROM customer_search WHERE customer_search MATCH "+
				b.arg(match)+")")
		}
	}
	if s.After != nil {
		at := micros(s.After.CreatedAt)
		where = append(where, "(c.created_at < "+b.arg(at)+" OR (c.created_at = "+b.arg(at)+" AND c.id < "+b.arg(s.After.ID)+"))")
	}
	// Customers merged into others and deleted ones are found no more.
	q := "SELECT " + customerColumns + " FROM " + from + " WHERE " + strings.Join(where, " AND ") + live +
		" ORDER BY c.created_at DESC, c.id DESC LIMIT " + b.arg(s.Limit)
	rows, err := tx.queryRaw(ctx, q, b.args...)
	if err != nil {
		return nil, wrap("search customers", err)
	}
	defer rows.Close()
	out := []kopilka.Customer{}
	for rows.Next() {
		c, err := scanCustomer(keys, rows.Scan)
		if err != nil {
			return nil, wrap("search customers", err)
		}
		c.Cards = []kopilka.Card{}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("search customers", err)
	}
	rows.Close()
	return out, tx.fillCards(ctx, tenantID, out)
}

// fillCards loads the cards of customers of one tenant in one query.
func (tx *Tx) fillCards(ctx context.Context, tenantID string, cs []kopilka.Customer) error {
	if len(cs) == 0 {
		return nil
	}
	at := make(map[string]int, len(cs))
	ids := make([]string, len(cs))
	for i, c := range cs {
		at[c.ID], ids[i] = i, c.ID
	}
	b := tx.binder()
	rows, err := tx.queryRaw(ctx, b.probe(cardColumns, "cards", "customer_id", "tenant_id = "+b.arg(tenantID), ids)+
		" ORDER BY 2, 7, 1", b.args...)
	if err != nil {
		return wrap("customers' cards", err)
	}
	defer rows.Close()
	for rows.Next() {
		k, err := scanCard(rows.Scan)
		if err != nil {
			return wrap("customers' cards", err)
		}
		c := &cs[at[k.CustomerID]]
		c.Cards = append(c.Cards, *k)
	}
	return wrap("customers' cards", rows.Err())
}

// searchDriveMax is how many customers with a search's terms SQLite
// fetches and sorts itself; with more, it walks all customers newest
// first and keeps those with the terms. Either way is quick where it is
// chosen: a rare name among a million customers took 1.8 s to find by the
// walk, and a tag on half of them would be fetched whole from the index.
const searchDriveMax = 2000

// fewMatches tells whether at most searchDriveMax documents of
// customer_search match (SQLite).
func (tx *Tx) fewMatches(ctx context.Context, match string) (bool, error) {
	if tx.db.searchWalk < 0 {
		return false, nil
	}
	var n int
	err := tx.row(ctx, `SELECT count(*) FROM (SELECT 1 FROM customer_search WHERE customer_search MATCH $1 LIMIT $2)`,
		match, tx.db.searchWalk+1).Scan(&n)
	return n <= tx.db.searchWalk, wrap("search customers", err)
}
