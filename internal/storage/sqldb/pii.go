package sqldb

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/pii"
	"github.com/kopilka/kopilka/internal/storage"
)

// Personal data is sealed here, in the one place every path to the
// customers table passes: the API, imports, exports and commands all see
// clear values, the database only sealed ones and blind indexes.

// Blind index kinds.
const (
	idxPhone = "phone"
	idxEmail = "email"
	idxName  = "name"
	idxMD    = "md" // "MM-DD" of the birth date
)

// piiFields are the customer fields kept sealed, also in the history.
var piiFields = map[string]bool{"phone": true, "extra_phone": true, "email": true, "first_name": true,
	"last_name": true, "middle_name": true, "birth_date": true}

// aad binds a sealed value to its tenant, row and field.
func aad(tenantID, rowID, field string) string {
	return tenantID + "\x00" + rowID + "\x00" + field
}

// sealedCustomer is a customer's personal columns as stored.
type sealedCustomer struct {
	phone, phoneIdx                            sql.NullString
	extraPhone, email, emailIdx                string
	firstName, lastName, middleName, birthDate string
	birthMD, key                               string
}

// sealCustomer seals c's personal fields with the current key.
func sealCustomer(r *pii.Ring, c *kopilka.Customer) sealedCustomer {
	f := func(field, v string) string { return r.Seal(v, aad(c.TenantID, c.ID, field)) }
	s := sealedCustomer{extraPhone: f("extra_phone", c.ExtraPhone), email: f("email", c.Email),
		emailIdx: r.Index(idxEmail, c.TenantID, strings.ToLower(c.Email)), firstName: f("first_name", c.FirstName),
		lastName: f("last_name", c.LastName), middleName: f("middle_name", c.MiddleName),
		birthDate: f("birth_date", c.BirthDate), birthMD: r.Index(idxMD, c.TenantID, birthMD(c.BirthDate)), key: r.Current()}
	if c.Phone != "" {
		s.phone = sql.NullString{String: f("phone", c.Phone), Valid: true}
		s.phoneIdx = sql.NullString{String: r.Index(idxPhone, c.TenantID, c.Phone), Valid: true}
	}
	return s
}

// openCustomer opens the personal fields of c, which were scanned sealed.
func openCustomer(r *pii.Ring, c *kopilka.Customer) error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"phone", &c.Phone}, {"extra_phone", &c.ExtraPhone}, {"email", &c.Email}, {"first_name", &c.FirstName},
		{"last_name", &c.LastName}, {"middle_name", &c.MiddleName}, {"birth_date", &c.BirthDate}} {
		v, err := r.Open(*f.v, aad(c.TenantID, c.ID, f.name))
		if err != nil {
			return fmt.Errorf("customer %s %s: %w", c.ID, f.name, err)
		}
		*f.v = v
	}
	return nil
}

// customerTerms are the search terms of c: its name tokens and e-mail
// (blind) and its tags (lower-cased; tags are not personal data). The
// e-mail is a term rather than a B-tree of its own (migration 0011): its
// blind index scattered the entries of a bulk load over the whole tree.
func customerTerms(r *pii.Ring, c *kopilka.Customer) []string {
	var out []string
	for _, n := range []string{c.LastName, c.FirstName, c.MiddleName} {
		for _, tok := range pii.NameTokens(n) {
			out = append(out, "n:"+r.Index(idxName, c.TenantID, tok))
		}
	}
	if c.Email != "" {
		out = append(out, emailTerm(r, c.TenantID, c.Email))
	}
	for _, t := range c.Tags {
		out = append(out, TagTerm(t))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TagTerm is the search term of a tag.
func TagTerm(tag string) string { return "t:" + strings.ToLower(strings.TrimSpace(tag)) }

// emailTerm is the search term of an e-mail: its blind index, as
// sealCustomer keeps it in email_bidx.
func emailTerm(r *pii.Ring, tenantID, email string) string {
	return "e:" + r.Index(idxEmail, tenantID, strings.ToLower(email))
}

// NameTerm is the search term of one name token.
func nameTerm(r *pii.Ring, tenantID, token string) string {
	return "n:" + r.Index(idxName, tenantID, token)
}

// pgTerms are c's search terms as PostgreSQL keeps them: an array in the
// customer's row, under a GIN index. The index spans all tenants, so a tag
// term names the tenant too ("t:TENANT:tag"); a name term is a blind index
// keyed by the tenant already. The array replaced a customer_terms row per
// term, whose rows and index took a fifth of the database's time in a
// million-row import.
func pgTerms(r *pii.Ring, c *kopilka.Customer) []string {
	terms := customerTerms(r, c)
	out := make([]string, len(terms)) // never nil: NULL is no array
	for i, t := range terms {
		out[i] = pgTerm(c.TenantID, t)
	}
	return out
}

// pgTerm is one term as pgTerms writes it.
func pgTerm(tenantID, term string) string {
	if tag, ok := strings.CutPrefix(term, "t:"); ok {
		return "t:" + tenantID + ":" + tag
	}
	return term
}

// searchDoc is c's search terms as SQLite keeps them: a document of the
// FTS5 index customer_search, numbered by the customer's search_n
// (migration 0011).
func searchDoc(r *pii.Ring, c *kopilka.Customer) string {
	terms := customerTerms(r, c)
	for i, t := range terms {
		terms[i] = searchToken(c.TenantID, t)
	}
	return strings.Join(terms, " ")
}

// searchToken is one term as a token of customer_search's ascii
// tokenizer: "n" or "e" and the blind index of a name token or e-mail
// (letters, digits, '-' and '_'), or "t" and the hex of "tenant:tag", a
// tag's posting list being its tenant's alone. The tokenizer folds case,
// which the hex and the blind indexes survive.
func searchToken(tenantID, term string) string {
	if kind, tok, ok := strings.Cut(term, ":"); ok && (kind == "n" || kind == "e") {
		return kind + tok
	}
	return "t" + strings.ToUpper(hex.EncodeToString([]byte(tenantID+":"+strings.TrimPrefix(term, "t:"))))
}

// searchMatch is the FTS5 query for customers with all of terms.
func searchMatch(tenantID string, terms []string) string {
	q := make([]string, len(terms))
	for i, t := range terms {
		q[i] = `"` + searchToken(tenantID, t) + `"` // quoted: '-' is an operator outside quotes
	}
	return strings.Join(q, " AND ")
}

const (
	// lastSearchNSQL is the last number of a search document (SQLite);
	// nextSearchNSQL numbers a new customer's.
	lastSearchNSQL = `SELECT COALESCE(MAX(search_n), 0) FROM customers`
	nextSearchNSQL = `((` + lastSearchNSQL + `) + 1)`
	// dropSearchSQL and addSearchSQL replace a customer's search document.
	dropSearchSQL = `DELETE FROM customer_search WHERE rowid = (SELECT search_n FROM customers WHERE tenant_id = $1 AND id = $2)`
	addSearchSQL  = `INSERT INTO customer_search (rowid, terms) SELECT search_n, $3 FROM customers WHERE tenant_id = $1 AND id = $2`
)

// setTerms writes c's search terms anew, the array in its row on
// PostgreSQL, its document in customer_search on SQLite; fresh tells
// that SQLite holds no document for c yet.
func (tx *Tx) setTerms(ctx context.Context, c *kopilka.Customer, fresh bool) error {
	if tx.isPG() {
		err := affected(tx.exec(ctx, `UPDATE customers SET terms = $3 WHERE tenant_id = $1 AND id = $2`,
			c.TenantID, c.ID, pgTerms(tx.db.keys, c)))
		return wrap("customer terms", err)
	}
	if !fresh {
		// An FTS5 table without content takes a second document of one
		// number without complaint: the old one goes first.
		if _, err := tx.exec(ctx, dropSearchSQL, c.TenantID, c.ID); err != nil {
			return wrap("customer terms", err)
		}
	}
	doc := searchDoc(tx.db.keys, c)
	if doc == "" {
		return nil
	}
	_, err := tx.exec(ctx, addSearchSQL, c.TenantID, c.ID, doc)
	return wrap("customer terms", err)
}

// sealChange seals the values of a change of a personal field.
func sealChange(r *pii.Ring, tenantID string, c kopilka.CustomerChange) (old, new string) {
	if !piiFields[c.Field] {
		return c.OldValue, c.NewValue
	}
	return r.Seal(c.OldValue, aad(tenantID, c.CustomerID, "old."+c.Field)), r.Seal(c.NewValue, aad(tenantID, c.CustomerID, "new."+c.Field))
}

// openChange opens what sealChange sealed; key is the row's pii_key (”:
// written before sealing, clear).
func openChange(r *pii.Ring, tenantID, key string, c *kopilka.CustomerChange) error {
	if !piiFields[c.Field] || key == "" {
		return nil
	}
	var err1, err2 error
	c.OldValue, err1 = r.Open(c.OldValue, aad(tenantID, c.CustomerID, "old."+c.Field))
	c.NewValue, err2 = r.Open(c.NewValue, aad(tenantID, c.CustomerID, "new."+c.Field))
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("change %d of customer %s: %w", c.ID, c.CustomerID, err)
	}
	return nil
}

// sealBlob seals a stored document (an idempotent answer, an import's
// row errors), which may repeat personal data from a request.
func sealBlob(r *pii.Ring, b []byte, tenantID, rowID, what string) []byte {
	return []byte(r.Seal(string(b), aad(tenantID, rowID, what)))
}

// openBlob opens what sealBlob sealed. A JSON document (written before
// sealing) is returned as it is: sealed values begin with a key id.
func openBlob(r *pii.Ring, b []byte, tenantID, rowID, what string) ([]byte, error) {
	if len(b) == 0 || b[0] == '{' || b[0] == '[' {
		return b, nil
	}
	s, err := r.Open(string(b), aad(tenantID, rowID, what))
	return []byte(s), err
}

// checkKeys refuses a key ring whose index key is not the one the
// database's blind indexes were made with; a new database records it.
func (db *DB) checkKeys(ctx context.Context) error {
	want := db.keys.Check()
	var got string
	err := db.w.QueryRowContext(ctx, `SELECT index_check FROM pii_state WHERE id = 1`).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = db.w.ExecContext(ctx, db.d.rebind(`INSERT INTO pii_state (id, index_check) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`), want)
		if err != nil {
			return fmt.Errorf("record the index key: %w", err)
		}
		return db.w.QueryRowContext(ctx, `SELECT index_check FROM pii_state WHERE id = 1`).Scan(&got)
	}
	if err != nil {
		return fmt.Errorf("read the index key check: %w", err)
	}
	if got != want {
		return errors.New("the personal-data key file does not belong to this database (its index key differs): " +
			"start with the key file the database was created with")
	}
	return nil
}

// Reseal modes.
const (
	resealLegacy = iota // rows written before sealing: clear values
	resealRotate        // rows sealed with a key other than the current one
)

// SealLegacy seals the personal data of rows written before it was
// sealed at rest (databases from before migration 0009). Open runs it.
func (db *DB) sealLegacy(ctx context.Context) error {
	n, err := db.reseal(ctx, resealLegacy, 500, nil)
	if err == nil {
		var jobs int
		jobs, err = db.sealLegacyJobs(ctx, 100)
		n += int64(jobs)
	}
	if n > 0 {
		db.log.Info("personal data sealed at rest", "rows", n)
	}
	return err
}

// sealLegacyJobs seals the row errors of import jobs stored in clear (a
// JSON array) before sealing, batch jobs a transaction. Stored idempotent
// answers from then are left: they are purged within IdempotencyTTL.
func (db *DB) sealLegacyJobs(ctx context.Context, batch int) (int, error) {
	total := 0
	for {
		n := 0
		err := db.Write(ctx, func(st storage.Tx) error {
			tx := st.(*Tx)
			n = 0
			rows, err := tx.query(ctx, `SELECT tenant_id, id, errors FROM import_jobs WHERE errors LIKE '[%' LIMIT $1`, batch)
			if err != nil {
				return wrap("seal import errors", err)
			}
			type job struct{ tenant, id, errs string }
			var js []job
			for rows.Next() {
				var j job
				if err := rows.Scan(&j.tenant, &j.id, &j.errs); err != nil {
					rows.Close()
					return wrap("seal import errors", err)
				}
				js = append(js, j)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return wrap("seal import errors", err)
			}
			for _, j := range js {
				sealed := string(sealBlob(db.keys, []byte(j.errs), j.tenant, j.id, "import errors"))
				if _, err := tx.exec(ctx, `UPDATE import_jobs SET errors = $3 WHERE tenant_id = $1 AND id = $2 AND errors = $4`,
					j.tenant, j.id, sealed, j.errs); err != nil {
					return wrap("seal import errors", err)
				}
			}
			n = len(js)
			return nil
		})
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// Reseal re-encrypts with the ring's current key every customer row and
// history entry sealed with another key, batch rows at a time, calling
// progress after each batch with the rows done so far. Old keys stay in
// the ring: backups may still need them.
func (db *DB) Reseal(ctx context.Context, batch int, progress func(done int64)) (int64, error) {
	return db.reseal(ctx, resealRotate, batch, progress)
}

func (db *DB) reseal(ctx context.Context, mode, batch int, progress func(int64)) (int64, error) {
	if batch <= 0 {
		batch = 500
	}
	var done int64
	for _, step := range []func(ctx context.Context, mode, batch int, cur *resealCursor) (int, error){db.resealCustomers, db.resealChanges} {
		cur := &resealCursor{}
		for {
			n, err := step(ctx, mode, batch, cur)
			done += int64(n)
			if err != nil {
				return done, err
			}
			if progress != nil && n > 0 {
				progress(done)
			}
			if cur.end {
				break
			}
		}
	}
	return done, nil
}

// resealCursor is where a reseal pass is: the last row seen.
type resealCursor struct {
	tenantID, id string
	seq          int64
	end          bool
}

func resealFilter(mode int) string {
	if mode == resealLegacy {
		return `pii_key = '' AND pii_key <> $3`
	}
	return `pii_key <> $3`
}

// resealCustomers reseals one batch of customers after cur.
func (db *DB) resealCustomers(ctx context.Context, mode, batch int, cur *resealCursor) (int, error) {
	q := `SELECT tenant_id, id, pii_key, phone, extra_phone, email, first_name, last_name, middle_name, birth_date, tags
FROM customers WHERE (tenant_id > $1 OR (tenant_id = $1 AND id > $2)) AND ` + resealFilter(mode) + `
ORDER BY tenant_id, id LIMIT $4`
	n := 0
	err := db.Write(ctx, func(st storage.Tx) error {
		tx := st.(*Tx)
		n = 0
		rows, err := tx.query(ctx, q, cur.tenantID, cur.id, db.keys.Current(), batch)
		if err != nil {
			return wrap("reseal customers", err)
		}
		type old struct {
			c   kopilka.Customer
			key string
		}
		var cs []old
		for rows.Next() {
			var o old
			var phone sql.NullString
			var tags string
			if err := rows.Scan(&o.c.TenantID, &o.c.ID, &o.key, &phone, &o.c.ExtraPhone, &o.c.Email, &o.c.FirstName,
				&o.c.LastName, &o.c.MiddleName, &o.c.BirthDate, &tags); err != nil {
				rows.Close()
				return wrap("reseal customers", err)
			}
			o.c.Phone = phone.String
			if err := json.Unmarshal([]byte(tags), &o.c.Tags); err != nil {
				rows.Close()
				return wrap("reseal customers", err)
			}
			cs = append(cs, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return wrap("reseal customers", err)
		}
		for i := range cs {
			c := &cs[i].c
			if cs[i].key != "" {
				if err := openCustomer(db.keys, c); err != nil {
					return err
				}
			}
			s := sealCustomer(db.keys, c)
			res, err := tx.exec(ctx, `UPDATE customers SET phone = $4, phone_bidx = $5, extra_phone = $6, email = $7, email_bidx = $8,
 first_name = $9, last_name = $10, middle_name = $11, birth_date = $12, birth_md = $13, pii_key = $14
WHERE tenant_id = $1 AND id = $2 AND pii_key = $3`, c.TenantID, c.ID, cs[i].key, s.phone, s.phoneIdx, s.extraPhone,
				s.email, s.emailIdx, s.firstName, s.lastName, s.middleName, s.birthDate, s.birthMD, s.key)
			if err != nil {
				return wrap("reseal customer", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue // changed meanwhile (another server sealing, or a write): sealed already
			}
			if cs[i].key == "" { // terms were not kept before sealing
				if err := tx.setTerms(ctx, c, false); err != nil {
					return err
				}
			}
		}
		n = len(cs)
		if n > 0 {
			cur.tenantID, cur.id = cs[n-1].c.TenantID, cs[n-1].c.ID
		}
		cur.end = n < batch
		return nil
	})
	return n, err
}

// resealChanges reseals one batch of history entries after cur.
func (db *DB) resealChanges(ctx context.Context, mode, batch int, cur *resealCursor) (int, error) {
	q := `SELECT id, tenant_id, customer_id, field, old_value, new_value, pii_key FROM customer_changes
WHERE id > $1 AND ` + strings.ReplaceAll(resealFilter(mode), "$3", "$2") + ` ORDER BY id LIMIT $3`
	n := 0
	err := db.Write(ctx, func(st storage.Tx) error {
		tx := st.(*Tx)
		rows, err := tx.query(ctx, q, cur.seq, db.keys.Current(), batch)
		if err != nil {
			return wrap("reseal changes", err)
		}
		type entry struct {
			c           kopilka.CustomerChange
			tenant, key string
		}
		var es []entry
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.c.ID, &e.tenant, &e.c.CustomerID, &e.c.Field, &e.c.OldValue, &e.c.NewValue, &e.key); err != nil {
				rows.Close()
				return wrap("reseal changes", err)
			}
			es = append(es, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return wrap("reseal changes", err)
		}
		for i := range es {
			e := &es[i]
			if err := openChange(db.keys, e.tenant, e.key, &e.c); err != nil {
				return err
			}
			o, nv := sealChange(db.keys, e.tenant, e.c)
			_, err := tx.exec(ctx, `UPDATE customer_changes SET old_value = $3, new_value = $4, pii_key = $5
WHERE tenant_id = $1 AND id = $2`, e.tenant, e.c.ID, o, nv, db.keys.Current())
			if err != nil {
				return wrap("reseal change", err)
			}
		}
		n = len(es)
		if n > 0 {
			cur.seq = es[n-1].c.ID
		}
		cur.end = n < batch
		return nil
	})
	return n, err
}
