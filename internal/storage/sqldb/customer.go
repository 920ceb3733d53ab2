package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/pii"
	"github.com/kopilka/kopilka/internal/storage"
)

const createCustomerSQL = `INSERT INTO customers (tenant_id, id, kind, phone, extra_phone, email, first_name,
 last_name, middle_name, birth_date, gender, ad_consent, ad_consent_at, ad_consent_via, grp, tags,
 purchases_total, debt, created_at, updated_at, birth_md, phone_bidx, email_bidx, pii_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20, $21, $22, $23)`

// createCustomerTermsSQL is createCustomerSQL on PostgreSQL, which keeps
// the search terms in the row (see pgTerms): one more column, $24.
var createCustomerTermsSQL = replaceOnce(replaceOnce(createCustomerSQL, "pii_key)", "pii_key, terms)"), "$23)", "$23, $24)")

// createCustomerSearchSQL is createCustomerSQL on SQLite, which numbers
// the customer's search document (setTerms).
var createCustomerSearchSQL = replaceOnce(replaceOnce(createCustomerSQL, "pii_key)", "pii_key, search_n)"), "$23)",
	"$23, "+nextSearchNSQL+")")

// replaceOnce replaces the one old in s; it panics (at start, for the
// statements above) unless s holds old exactly once.
func replaceOnce(s, old, new string) string {
	if strings.Count(s, old) != 1 {
		panic(fmt.Sprintf("replaceOnce: %q is not once in %q", old, s))
	}
	return strings.Replace(s, old, new, 1)
}

// CreateCustomer stores a customer, its search terms and the cards it
// comes with; its personal fields are sealed.
func (tx *Tx) CreateCustomer(ctx context.Context, c *kopilka.Customer) error {
	c.CreatedAt, c.UpdatedAt = tx.now, tx.now
	tags, err := json.Marshal(nonNil(c.Tags))
	if err != nil {
		return err
	}
	s := sealCustomer(tx.db.keys, c)
	q, args := createCustomerSQL, []any{c.TenantID, c.ID, string(c.Kind), s.phone, s.extraPhone,
		s.email, s.firstName, s.lastName, s.middleName, s.birthDate, c.Gender, boolInt(c.AdConsent),
		nullMicros(c.AdConsentAt), c.AdConsentVia, c.Group, string(tags), c.PurchasesTotal, c.Debt, micros(tx.now), s.birthMD,
		s.phoneIdx, s.emailIdx, s.key}
	if tx.isPG() {
		q, args = createCustomerTermsSQL, append(args, pgTerms(tx.db.keys, c))
	} else {
		q = createCustomerSearchSQL
	}
	if _, err = tx.exec(ctx, q, args...); err != nil {
		return wrap("create customer", err)
	}
	if !tx.isPG() {
		if err := tx.setTerms(ctx, c, true); err != nil {
			return err
		}
	}
	for i := range c.Cards {
		c.Cards[i].CustomerID = c.ID
		if err := tx.CreateCard(ctx, c.TenantID, &c.Cards[i]); err != nil {
			return err
		}
	}
	return nil
}

const customerColumns = `id, tenant_id, kind, phone, extra_phone, email, first_name, last_name, middle_name,
 birth_date, gender, ad_consent, ad_consent_at, ad_consent_via, grp, tags, purchases_total, debt, created_at, updated_at`

// scanCustomer scans customerColumns and opens the sealed fields.
func scanCustomer(keys *pii.Ring, scan func(...any) error) (*kopilka.Customer, error) {
	var c kopilka.Customer
	var kind, tags string
	var phone sql.NullString
	var consent int
	var consentAt sql.NullInt64
	var created, updated int64
	err := scan(&c.ID, &c.TenantID, &kind, &phone, &c.ExtraPhone, &c.Email, &c.FirstName, &c.LastName,
		&c.MiddleName, &c.BirthDate, &c.Gender, &consent, &consentAt, &c.AdConsentVia, &c.Group, &tags,
		&c.PurchasesTotal, &c.Debt, &created, &updated)
	if err != nil {
		return nil, err
	}
	c.Kind = kopilka.CustomerKind(kind)
	c.Phone = phone.String
	c.AdConsent = consent != 0
	c.AdConsentAt = fromNullMicros(consentAt)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return nil, err
	}
	if err := openCustomer(keys, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// resolvedID is the id of the customer $2 names in tenant $1: the
// survivor's when it was merged into another. The lookups that use it also
// ask for merged_into IS NULL on the row they take, so a lock that waited
// for a merge finds the merged row no more (PostgreSQL re-checks those
// conditions on the row it locked).
const resolvedID = `COALESCE((SELECT m.merged_into FROM customers m WHERE m.tenant_id = $1 AND m.id = $2), $2)`

// live is the condition that a customer row c is neither merged nor deleted.
const live = ` AND c.merged_into IS NULL AND c.deleted_at IS NULL`

// relook: on PostgreSQL a locking lookup that waited for a merge re-checks
// its conditions on the merged row, which is live no more, so it finds
// nothing; the statement's snapshot predates the merge. Looking again in a
// new statement sees the merge and finds the survivor (or, after a
// deletion, nothing again). SQLite has one writer and never races so.

// GetCustomer loads a customer and its cards; lock takes the row lock.
// A merged customer's id loads the survivor; a deleted one is not found.
func (tx *Tx) GetCustomer(ctx context.Context, tenantID, id string, lock bool) (*kopilka.Customer, error) {
	q := `SELECT ` + customerColumns + ` FROM customers c WHERE c.tenant_id = $1 AND c.id = ` + resolvedID + live
	if lock && tx.db.d.name() == "postgres" {
		nowait, err := tx.nowait(ctx)
		if err != nil {
			return nil, err
		}
		q += " FOR UPDATE" + nowait
	}
	c, err := scanCustomer(tx.db.keys, tx.row(ctx, q, tenantID, id).Scan)
	if errors.Is(err, storage.ErrNotFound) && lock && tx.isPG() {
		c, err = scanCustomer(tx.db.keys, tx.row(ctx, q, tenantID, id).Scan) // see relook
	}
	if err != nil {
		return nil, wrap("get customer", err)
	}
	c.Cards, err = tx.customerCards(ctx, tenantID, c.ID)
	return c, err
}

// customerRefColumns are what the ledger needs of a customer, with the
// spendable sum of its lots at $3 (now) computed in the same statement.
const customerRefColumns = `c.id, c.kind, c.debt, c.purchases_total, c.grp, c.tags,
 (SELECT COALESCE(SUM(l.remaining), 0) FROM lots l WHERE l.tenant_id = c.tenant_id AND l.customer_id = c.id
  AND l.remaining > 0 AND l.state = 'active' AND (l.expires_at IS NULL OR l.expires_at > $3))`

// lockColumns are customerRefColumns without the spendable sum, which
// costs a pass over every lot with points left (0 in its place; $3 is
// unused but keeps the placeholders of the lookups the same).
const lockColumns = `c.id, c.kind, c.debt, c.purchases_total, c.grp, c.tags, CAST($3 AS BIGINT) * 0`

// customerByRefFrom is the FROM clause of a lookup by each reference.
var customerByRefFrom = map[string]string{
	"id": ` FROM customers c WHERE c.tenant_id = $1 AND c.id = ` + resolvedID + live,
	// $2 is the blind index of the phone.
	"phone": ` FROM customers c WHERE c.tenant_id = $1
 AND c.id = (SELECT COALESCE(m.merged_into, m.id) FROM customers m WHERE m.tenant_id = $1 AND m.phone_bidx = $2)` + live,
	"card": ` FROM cards k
JOIN customers c ON c.tenant_id = k.tenant_id AND c.id = k.customer_id
WHERE k.tenant_id = $1 AND k.number = $2 AND k.status = 'active'` + live,
}

// PurchaseCustomer is CustomerByRef with the row lock that also tells,
// in the same statement, which purchase (if any) already holds the
// external id: a retried receipt costs no extra round trip.
func (tx *Tx) PurchaseCustomer(ctx context.Context, tenantID, by, value, externalID string) (*kopilka.Customer, string, error) {
	if tx.b != nil {
		ref := storage.PurchaseRef{TenantID: tenantID, By: by, Value: value, ExternalID: externalID}
		if c, existing, ok := tx.b.purchaseCustomer(ref, tx.now); ok {
			return c, existing, nil
		}
	}
	var existing sql.NullString
	c, err := tx.customerByRef(ctx, tenantID, by, value, true, customerRefColumns,
		`, (SELECT p.id FROM purchases p WHERE p.tenant_id = c.tenant_id AND p.external_id = $4)`, []any{externalID}, &existing)
	return c, existing.String, err
}

// LockCustomer takes the row lock that serialises a customer's points.
// Its Spendable is not filled (0).
func (tx *Tx) LockCustomer(ctx context.Context, tenantID, id string) (*kopilka.Customer, error) {
	if tx.b != nil {
		if l, ok := tx.b.lockedRow(tenantID, id); ok {
			c := &kopilka.Customer{TenantID: tenantID, ID: id, Kind: kopilka.CustomerKind(l.kind), Debt: kopilka.Amount(l.debt),
				PurchasesTotal: kopilka.Amount(l.purchases), Group: l.group}
			if err := json.Unmarshal([]byte(l.tags), &c.Tags); err != nil {
				return nil, wrap("customer tags", err)
			}
			return c, nil
		}
	}
	return tx.customerByRef(ctx, tenantID, "id", id, true, lockColumns, "", nil)
}

// CustomerByRef finds a customer by id, card or phone in one query.
func (tx *Tx) CustomerByRef(ctx context.Context, tenantID, by, value string, lock bool) (*kopilka.Customer, error) {
	return tx.customerByRef(ctx, tenantID, by, value, lock, customerRefColumns, "", nil)
}

// customerByRef runs the lookup with extra select-list SQL (using $4…)
// whose values scan into extraDest.
func (tx *Tx) customerByRef(ctx context.Context, tenantID, by, value string, lock bool, columns, extraSQL string, extraArgs []any, extraDest ...any) (*kopilka.Customer, error) {
	from, ok := customerByRefFrom[by]
	if !ok {
		return nil, fmt.Errorf("customer by %q: unknown reference", by)
	}
	args := append([]any{tenantID, value, micros(tx.now)}, extraArgs...)
	switch by {
	case "card":
		from, args = cardRefFrom(value, args)
	case "phone":
		args[1] = tx.db.keys.Index(idxPhone, tenantID, value)
	}
	q := `SELECT ` + columns + extraSQL + from
	skipLocked := lock && tx.b != nil && tx.isPG()
	if lock && tx.isPG() {
		q += " FOR UPDATE OF c"
		if skipLocked {
			// Inside a batch a busy row must not wait (two open batches
			// would wait on each other) nor fail the statement (the batch
			// has no savepoint to return to): it is skipped, and the
			// write runs again alone after the batch.
			q += " SKIP LOCKED"
		}
	}
	c := &kopilka.Customer{TenantID: tenantID}
	var kind, tags string
	dest := append([]any{&c.ID, &kind, &c.Debt, &c.PurchasesTotal, &c.Group, &tags, &c.Spendable}, extraDest...)
	for {
		err := tx.row(ctx, q, args...).Scan(dest...)
		if errors.Is(err, storage.ErrNotFound) && skipLocked {
			return nil, fmt.Errorf("customer by %s: busy or absent: %w", by, storage.ErrRetry)
		}
		if errors.Is(err, storage.ErrNotFound) && lock && tx.isPG() {
			err = tx.row(ctx, q, args...).Scan(dest...) // see relook
		}
		if err != nil {
			return nil, wrap("customer by "+by, err)
		}
		if tx.b == nil || !tx.b.holds(tenantID, c.ID) {
			break
		}
		// The batch holds unsent writes of this customer: send them and
		// read what they made.
		if err := tx.b.sendGathered(ctx, tx); err != nil {
			return nil, err
		}
	}
	c.Kind = kopilka.CustomerKind(kind)
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return nil, wrap("customer tags", err)
	}
	return c, nil
}

// CustomerIDByPhone finds a customer by E.164 phone.
func (tx *Tx) CustomerIDByPhone(ctx context.Context, tenantID, phone string) (string, error) {
	var id string
	err := tx.row(ctx, `SELECT COALESCE(merged_into, id) FROM customers WHERE tenant_id = $1 AND phone_bidx = $2 AND deleted_at IS NULL`,
		tenantID, tx.db.keys.Index(idxPhone, tenantID, phone)).Scan(&id)
	return id, wrap("customer by phone", err)
}

// CustomerIDByCard finds a card's holder.
func (tx *Tx) CustomerIDByCard(ctx context.Context, tenantID, number string) (string, error) {
	var id string
	err := tx.row(ctx, `SELECT customer_id FROM cards WHERE tenant_id = $1 AND number = $2`, tenantID, number).Scan(&id)
	return id, wrap("customer by card", err)
}

const updateCustomerSQL = `UPDATE customers SET phone = $3, extra_phone = $4, email = $5, first_name = $6,
 last_name = $7, middle_name = $8, birth_date = $9, gender = $10, ad_consent = $11, ad_consent_at = $12,
 ad_consent_via = $13, grp = $14, tags = $15, updated_at = $16, birth_md = $17, phone_bidx = $18, email_bidx = $19,
 pii_key = $20
WHERE tenant_id = $1 AND id = $2`

// updateCustomerTermsSQL is updateCustomerSQL on PostgreSQL, with the
// search terms as $21.
var updateCustomerTermsSQL = replaceOnce(updateCustomerSQL, "pii_key = $20\n", "pii_key = $20, terms = $21\n")

// UpdateCustomer writes the profile fields (sealed) and search terms.
func (tx *Tx) UpdateCustomer(ctx context.Context, c *kopilka.Customer) error {
	c.UpdatedAt = tx.now
	tags, err := json.Marshal(nonNil(c.Tags))
	if err != nil {
		return err
	}
	s := sealCustomer(tx.db.keys, c)
	args := []any{c.TenantID, c.ID, s.phone,
		s.extraPhone, s.email, s.firstName, s.lastName, s.middleName, s.birthDate, c.Gender, boolInt(c.AdConsent),
		nullMicros(c.AdConsentAt), c.AdConsentVia, c.Group, string(tags), micros(tx.now), s.birthMD, s.phoneIdx, s.emailIdx, s.key}
	if tx.isPG() {
		err = affected(tx.exec(ctx, updateCustomerTermsSQL, append(args, pgTerms(tx.db.keys, c))...))
		return wrap("update customer", err)
	}
	if err := affected(tx.exec(ctx, updateCustomerSQL, args...)); err != nil {
		return wrap("update customer", err)
	}
	return tx.setTerms(ctx, c, false)
}

const setCustomerBalancesSQL = `UPDATE customers SET debt = $3, purchases_total = $4 WHERE tenant_id = $1 AND id = $2`

// SetCustomerBalances writes the debt and the purchase sum.
func (tx *Tx) SetCustomerBalances(ctx context.Context, tenantID, id string, debt, purchasesTotal kopilka.Amount) error {
	return wrap("set customer balances", affected(tx.exec(ctx, setCustomerBalancesSQL, tenantID, id, debt, purchasesTotal)))
}

const addCustomerChangeSQL = `INSERT INTO customer_changes (tenant_id, customer_id, field, old_value, new_value, actor, changed_at, pii_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// AddCustomerChanges appends to a customer's history; the values of
// personal fields are sealed.
func (tx *Tx) AddCustomerChanges(ctx context.Context, tenantID string, ch []kopilka.CustomerChange) error {
	for _, c := range ch {
		o, n := sealChange(tx.db.keys, tenantID, c)
		if _, err := tx.exec(ctx, addCustomerChangeSQL, tenantID, c.CustomerID, c.Field, o, n, c.Actor, micros(tx.now), tx.db.keys.Current()); err != nil {
			return wrap("add customer change", err)
		}
	}
	return nil
}

const listCustomerChangesSQL = `SELECT id, customer_id, field, old_value, new_value, actor, changed_at, pii_key FROM customer_changes
WHERE tenant_id = $1 AND customer_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4`

// ListCustomerChanges pages a customer's history newest first; before is
// the id of the last change already seen (0 for the first page).
func (tx *Tx) ListCustomerChanges(ctx context.Context, tenantID, customerID string, before int64, limit int) ([]kopilka.CustomerChange, error) {
	if before <= 0 {
		before = 1 << 62
	}
	rows, err := tx.query(ctx, listCustomerChangesSQL, tenantID, customerID, before, limit)
	if err != nil {
		return nil, wrap("list customer changes", err)
	}
	defer rows.Close()
	var out []kopilka.CustomerChange
	for rows.Next() {
		var c kopilka.CustomerChange
		var at int64
		var key string
		if err := rows.Scan(&c.ID, &c.CustomerID, &c.Field, &c.OldValue, &c.NewValue, &c.Actor, &at, &key); err != nil {
			return nil, err
		}
		if err := openChange(tx.db.keys, tenantID, key, &c); err != nil {
			return nil, err
		}
		c.ChangedAt = fromMicros(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// birthMD is the "MM-DD" of a YYYY-MM-DD birth date, for the birthday run.
func birthMD(d string) string {
	if len(d) != 10 {
		return ""
	}
	return d[5:]
}
