package loyalty

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// The customer import and export use cases. An import file arrives in
// chunks (internal/transfer reads and checks the rows); each chunk is
// matched against the tenant's customers and written in one transaction:
//
//   - A row names its customer by external_id (the external ids of the
//     integration, or a Kopilka id cus_… of this tenant, which exports
//     write for customers without an external id), else by phone, else by
//     card. A row that matches nobody creates a customer.
//   - A field left empty leaves the customer's value as it is; given
//     fields replace it, and every change goes to the customer's history.
//   - balance is the target available balance: the difference from the
//     current one is written as an "import" operation (issued → available
//     for a rise, available → issued for a fall), so `kopilka verify`
//     holds and importing the same file again changes nothing. Credited
//     points are a lot with the programme's expiry from the import day. A
//     negative balance is a debt, as a refund leaves it.
//   - purchases_total replaces the accumulated purchase sum, which places
//     the customer in its tier. Imported customers get no welcome bonus.

// ImportRow is one row of an import file, parsed and checked on its own.
// Empty strings and nil leave the customer's value as it is.
type ImportRow struct {
	Line           int
	ExternalID     string
	Phone          string // E.164
	LastName       string
	FirstName      string
	MiddleName     string
	Email          string
	BirthDate      string // YYYY-MM-DD
	Gender         string // male or female
	Cards          []string
	Tags           []string // nil: unchanged
	Balance        *kopilka.Amount
	PurchasesTotal *kopilka.Amount
}

// RowError is a problem with a row of an import file.
type RowError = storage.RowError

// ImportOptions say how a chunk is imported.
type ImportOptions struct {
	// Integration names the system the external ids come from; ""
	// means storage.DefaultIntegration.
	Integration string
	// DryRun plans the chunk against the database and writes nothing.
	DryRun bool
	// SkipBadRows writes the good rows of a chunk that has bad ones;
	// otherwise one bad row leaves the whole chunk unwritten.
	SkipBadRows bool
	// Claim, when set, is told of each row about to change an existing
	// customer and returns the line of an earlier row (of any chunk) that
	// changed the same customer, or 0; the row is then refused. It keeps
	// a file from setting one customer twice.
	Claim func(customerID string, line int) (earlier int)
	// Fresh says that a check of the whole file just before matched no
	// row to a customer, so the chunk is written without looking its
	// keys up first: a bulk load into a new tenant spent a tenth of its
	// single SQLite writer's time on lookups that found nothing. What
	// appeared since (a customer registered at a till meanwhile) holds a
	// phone, card or external id that the database's unique keys refuse;
	// the chunk is then planned again, with the lookup.
	Fresh bool
}

// ImportResult is what an import did with a chunk or, in a dry run or
// when the chunk was refused, what it would have done.
type ImportResult struct {
	Created, Updated, Unchanged int
	Errors                      []RowError // bad rows, in line order
	Written                     bool       // the good rows were written
}

// errChunkRefused rolls back a chunk that holds bad rows.
var errChunkRefused = errors.New("the chunk has bad rows")

// ImportChunk imports rows into a tenant in one transaction.
func (s *Service) ImportChunk(ctx context.Context, tenantID string, rows []ImportRow, opt ImportOptions) (*ImportResult, error) {
	if opt.Integration == "" {
		opt.Integration = storage.DefaultIntegration
	}
	if opt.DryRun {
		var plan *importPlan
		err := s.db.Read(ctx, func(tx storage.Tx) error {
			var err error
			plan, err = s.planImport(ctx, tx, tenantID, rows, opt, false)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("import (dry run): %w", err)
		}
		return &plan.res, nil
	}
	var err error
	for range 3 { // a phone or card taken meanwhile: match again
		var plan *importPlan
		err = s.db.Write(ctx, func(tx storage.Tx) error {
			p, err := s.planImport(ctx, tx, tenantID, rows, opt, true)
			if err != nil {
				return err
			}
			plan = p
			if len(p.res.Errors) > 0 && !opt.SkipBadRows {
				return errChunkRefused
			}
			if p.w.Empty() {
				return nil
			}
			return tx.WriteImport(ctx, tenantID, &p.w)
		})
		if errors.Is(err, errChunkRefused) {
			return &plan.res, nil
		}
		if err == nil {
			plan.res.Written = true
			for _, o := range plan.w.Ops {
				s.observed(o.Op)
			}
			return &plan.res, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			break
		}
		opt.Fresh = false
	}
	return nil, fmt.Errorf("import: %w", unavailable(err))
}

// importPlan is what a chunk writes and how each row fares.
type importPlan struct {
	w   storage.ImportWrites
	res ImportResult
}

// match is whom a row names and how.
type match struct {
	target  string // the customer's id, "" for a new one
	ownID   bool   // external_id is the Kopilka id of the target
	knownEx bool   // external_id is recorded for the target already
	by      string // the column that found the target
}

func (s *Service) planImport(ctx context.Context, tx storage.Tx, tenantID string, rows []ImportRow, opt ImportOptions, lock bool) (*importPlan, error) {
	m := &storage.ImportMatches{}
	if !opt.Fresh || opt.DryRun {
		var err error
		if m, err = lookup(ctx, tx, tenantID, opt.Integration, rows); err != nil {
			return nil, err
		}
	}
	ranges, err := tx.ListCardRanges(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	plan := &importPlan{}
	matches := make([]match, len(rows))
	bad := make([]bool, len(rows))
	var ids []string
	for i := range rows {
		var rerr *RowError
		matches[i], rerr = matchRow(&rows[i], m)
		if rerr == nil {
			rerr = checkDigits(&rows[i], m, ranges)
		}
		if rerr != nil {
			plan.res.Errors, bad[i] = append(plan.res.Errors, *rerr), true
		} else if matches[i].target != "" {
			ids = append(ids, matches[i].target)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var found []storage.TransferCustomer
	for part := range slices.Chunk(ids, lookupBatch) {
		f, err := tx.TransferCustomers(ctx, tenantID, opt.Integration, part, lock)
		if err != nil {
			return nil, err
		}
		found = append(found, f...)
	}
	existing := make(map[string]*storage.TransferCustomer, len(found))
	for i := range found {
		existing[found[i].ID] = &found[i]
	}
	p, err := s.program(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	b := &chunkBuilder{s: s, tx: tx, plan: plan, tenantID: tenantID, opt: opt, lt: programTimes(p, tx.Now(), false),
		actor: kopilka.ActorFrom(ctx).Name, claimed: map[string]int{},
		cusIDs: newBatchIDs("cus"), opIDs: newBatchIDs("op"), lotIDs: newBatchIDs("lot")}
	if b.actor == "" || b.actor == "system" {
		b.actor = "import"
	}
	for i := range rows {
		if bad[i] {
			continue
		}
		var rerr *RowError
		if matches[i].target == "" {
			rerr = b.create(&rows[i])
		} else if c := existing[matches[i].target]; c != nil {
			rerr, err = b.update(ctx, &rows[i], matches[i], c)
			if err != nil {
				return nil, err
			}
		} else {
			// Matched by a key whose customer vanished meanwhile (erased).
			rerr = &RowError{Line: rows[i].Line, Column: matches[i].by, Message: "the customer it names no longer exists"}
		}
		if rerr != nil {
			plan.res.Errors = append(plan.res.Errors, *rerr)
		}
	}
	slices.SortStableFunc(plan.res.Errors, func(a, b RowError) int { return a.Line - b.Line })
	return plan, nil
}

// lookupBatch is how many rows one lookup statement serves, to keep it
// within the databases' limits of bound parameters.
const lookupBatch = 1000

// lookup resolves the keys of rows, a statement per lookupBatch rows.
func lookup(ctx context.Context, tx storage.Tx, tenantID, integration string, rows []ImportRow) (*storage.ImportMatches, error) {
	var m *storage.ImportMatches
	for part := range slices.Chunk(rows, lookupBatch) {
		pm, err := tx.ImportLookup(ctx, tenantID, integration, importKeys(part))
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = pm
			continue
		}
		maps.Copy(m.ExternalIDs, pm.ExternalIDs)
		maps.Copy(m.IDs, pm.IDs)
		maps.Copy(m.Phones, pm.Phones)
		maps.Copy(m.Cards, pm.Cards)
		maps.Copy(m.RetiredCards, pm.RetiredCards)
	}
	if m == nil {
		m = &storage.ImportMatches{}
	}
	return m, nil
}

// importKeys gathers the keys of the rows for one lookup.
func importKeys(rows []ImportRow) storage.ImportKeys {
	var k storage.ImportKeys
	for _, r := range rows {
		if r.ExternalID != "" {
			k.ExternalIDs = append(k.ExternalIDs, r.ExternalID)
			if kopilka.ValidID("cus", r.ExternalID) {
				k.IDs = append(k.IDs, r.ExternalID)
			}
		}
		if r.Phone != "" {
			k.Phones = append(k.Phones, r.Phone)
		}
		k.Cards = append(k.Cards, r.Cards...)
	}
	return k
}

// matchRow finds whom a row names: by external id, else phone, else card;
// the other keys it gives must not belong to somebody else.
func matchRow(r *ImportRow, m *storage.ImportMatches) (match, *RowError) {
	var mt match
	if r.ExternalID != "" {
		if id := m.ExternalIDs[r.ExternalID]; id != "" {
			mt = match{target: id, knownEx: true, by: "external_id"}
		} else if id := m.IDs[r.ExternalID]; id != "" {
			mt = match{target: id, ownID: true, by: "external_id"}
		}
	}
	if mt.target == "" && r.Phone != "" && m.Phones[r.Phone] != "" {
		mt = match{target: m.Phones[r.Phone], by: "phone"}
	}
	if mt.target == "" {
		for _, n := range r.Cards {
			if id := m.Cards[n]; id != "" {
				mt = match{target: id, by: "card"}
				break
			}
		}
	}
	for _, n := range r.Cards {
		if m.RetiredCards[n] {
			return mt, &RowError{Line: r.Line, Column: "card",
				Message: fmt.Sprintf("card %q belonged to a customer who was deleted: its number is not issued again", n)}
		}
	}
	other := func(column, value string) *RowError {
		return &RowError{Line: r.Line, Column: column,
			Message: fmt.Sprintf("%q belongs to another customer than the one %s %q names", value, mt.by, rowKey(r, mt.by))}
	}
	if owner := m.Phones[r.Phone]; r.Phone != "" && owner != "" && owner != mt.target {
		return mt, other("phone", r.Phone)
	}
	for _, n := range r.Cards {
		if owner := m.Cards[n]; owner != "" && owner != mt.target {
			return mt, other("card", n)
		}
	}
	return mt, nil
}

// checkDigits refuses a new card number that looks like a number of a
// range with check digits but has the wrong one, as issuing a card with a
// given number does: a typo in the file.
func checkDigits(r *ImportRow, m *storage.ImportMatches, ranges []kopilka.CardRange) *RowError {
	for _, n := range r.Cards {
		if m.Cards[n] != "" {
			continue // an existing card: checked when it was issued
		}
		if rg := misdigited(ranges, n); rg != nil {
			return &RowError{Line: r.Line, Column: "card",
				Message: fmt.Sprintf("%s looks like a number of range %s, but its check digit is wrong", n, rg.ID)}
		}
	}
	return nil
}

func rowKey(r *ImportRow, by string) string {
	switch by {
	case "external_id":
		return r.ExternalID
	case "phone":
		return r.Phone
	}
	return strings.Join(r.Cards, ", ")
}

// chunkBuilder gathers the writes of a chunk row by row.
type chunkBuilder struct {
	s        *Service
	tx       storage.Tx
	plan     *importPlan
	tenantID string
	opt      ImportOptions
	lt       lotTimes
	actor    string
	claimed  map[string]int // existing customer id → line of the row that changed it
	// The ids of the chunk's new customers, operations and lots.
	cusIDs, opIDs, lotIDs *batchIDs
}

// fieldError turns a validation error into a row error on its column.
func fieldError(line int, err error) *RowError {
	e := kopilka.AsError(err)
	if e == nil {
		return &RowError{Line: line, Message: err.Error()}
	}
	return &RowError{Line: line, Column: e.Field, Message: e.Message}
}

// create plans a new customer.
func (b *chunkBuilder) create(r *ImportRow) *RowError {
	c := &kopilka.Customer{ID: b.cusIDs.next(), TenantID: b.tenantID, Kind: kopilka.Individual, Phone: r.Phone,
		Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, MiddleName: r.MiddleName, BirthDate: r.BirthDate,
		Gender: r.Gender, Tags: r.Tags}
	if err := kopilka.ValidateCustomer(c); err != nil {
		return fieldError(r.Line, err)
	}
	b.plan.res.Created++
	if b.opt.DryRun {
		return nil // counted; nothing to build
	}
	if r.PurchasesTotal != nil {
		c.PurchasesTotal = *r.PurchasesTotal
	}
	for _, n := range r.Cards {
		c.Cards = append(c.Cards, kopilka.Card{Number: n, CustomerID: c.ID, Kind: "plastic", Status: "active"})
	}
	if r.ExternalID != "" {
		b.plan.w.ExternalIDs = append(b.plan.w.ExternalIDs, storage.ExternalID{Integration: b.opt.Integration,
			ExternalID: r.ExternalID, CustomerID: c.ID})
	}
	if r.Balance != nil && *r.Balance != 0 {
		b.move(c, *r.Balance, nil)
	}
	b.plan.w.Customers = append(b.plan.w.Customers, c)
	return nil
}

// update plans the changes a row makes to an existing customer.
func (b *chunkBuilder) update(ctx context.Context, r *ImportRow, mt match, cur *storage.TransferCustomer) (*RowError, error) {
	if r.ExternalID != "" && !mt.ownID && !mt.knownEx && len(cur.ExternalIDs) > 0 {
		return &RowError{Line: r.Line, Column: "external_id", Message: fmt.Sprintf("the customer with %s %q has external_id %q, not %q",
			mt.by, rowKey(r, mt.by), cur.ExternalIDs[0], r.ExternalID)}, nil
	}
	if line, ok := b.claimed[cur.ID]; ok {
		return &RowError{Line: r.Line, Column: mt.by, Message: fmt.Sprintf("the same customer as line %d", line)}, nil
	}
	if b.opt.Claim != nil {
		if line := b.opt.Claim(cur.ID, r.Line); line != 0 && line != r.Line {
			return &RowError{Line: r.Line, Column: mt.by, Message: fmt.Sprintf("the same customer as line %d", line)}, nil
		}
	}
	b.claimed[cur.ID] = r.Line
	old := cur.Customer
	c := old
	c.Tags, c.Cards = slices.Clone(old.Tags), nil
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Phone, r.Phone)
	set(&c.Email, r.Email)
	set(&c.FirstName, r.FirstName)
	set(&c.LastName, r.LastName)
	set(&c.MiddleName, r.MiddleName)
	set(&c.BirthDate, r.BirthDate)
	set(&c.Gender, r.Gender)
	if r.Tags != nil {
		c.Tags = slices.Clone(r.Tags)
	}
	if err := kopilka.ValidateCustomer(&c); err != nil {
		return fieldError(r.Line, err), nil
	}
	changed := false
	if ch := diffCustomer(&old, &c, b.actor); len(ch) > 0 {
		b.plan.w.Updates = append(b.plan.w.Updates, &c)
		b.plan.w.Changes = append(b.plan.w.Changes, ch...)
		changed = true
	}
	for _, n := range r.Cards {
		if !slices.ContainsFunc(old.Cards, func(k kopilka.Card) bool { return k.Number == n }) {
			b.plan.w.Cards = append(b.plan.w.Cards, kopilka.Card{Number: n, CustomerID: c.ID, Kind: "plastic", Status: "active"})
			changed = true
		}
	}
	if r.ExternalID != "" && !mt.ownID && !mt.knownEx {
		b.plan.w.ExternalIDs = append(b.plan.w.ExternalIDs, storage.ExternalID{Integration: b.opt.Integration,
			ExternalID: r.ExternalID, CustomerID: c.ID})
		changed = true
	}
	debt, total := c.Debt, c.PurchasesTotal
	if r.PurchasesTotal != nil {
		c.PurchasesTotal = *r.PurchasesTotal
	}
	if r.Balance != nil {
		if diff := *r.Balance - (c.Spendable - c.Debt); diff != 0 {
			lots, sum, err := spendable(ctx, b.tx, &c)
			if err != nil {
				return nil, err
			}
			if rerr := b.move(&c, diff, &spendableLots{lots: lots, sum: sum}); rerr != nil {
				rerr.Line = r.Line
				return rerr, nil
			}
			changed = true
		}
	}
	if c.Debt != debt || c.PurchasesTotal != total {
		b.plan.w.Balances = append(b.plan.w.Balances, storage.CustomerBalances{CustomerID: c.ID, Debt: c.Debt, PurchasesTotal: c.PurchasesTotal})
		changed = true
	}
	if changed {
		b.plan.res.Updated++
	} else {
		b.plan.res.Unchanged++
	}
	return nil, nil
}

// spendableLots are what a fall of an existing customer's balance may take.
type spendableLots struct {
	lots []ledger.SpendableLot
	sum  int64
}

// move plans an import operation of amount for c: a rise is a lot with
// the programme's expiry (repaying a debt first), a fall takes points from
// the lots (from, soonest expiry first) and what they lack becomes debt.
func (b *chunkBuilder) move(c *kopilka.Customer, amount kopilka.Amount, from *spendableLots) *RowError {
	op := &kopilka.Operation{ID: b.opIDs.next(), TenantID: b.tenantID, CustomerID: c.ID, Type: kopilka.OpImport,
		Status: kopilka.StatusComplete, Amount: amount, Message: "balance imported"}
	if amount > 0 {
		debt := c.Debt
		lot, ps := planCredit(b.tx.Now(), c, op, ledger.Issued, b.lt)
		op.Message += repaidNote(debt - c.Debt)
		lot.ID = b.lotIDs.next()
		b.plan.w.Ops = append(b.plan.w.Ops, storage.OpWrite{Op: op, Postings: ps})
		b.plan.w.Lots = append(b.plan.w.Lots, lot)
		return nil
	}
	need := -amount
	if from != nil && from.sum > 0 {
		take := min(need, from.sum)
		takes, ok := ledger.Spend(from.lots, take)
		if !ok {
			return &RowError{Column: "balance", Message: "the customer's points changed meanwhile; import again"}
		}
		for _, t := range takes {
			b.plan.w.LotDeltas = append(b.plan.w.LotDeltas, storage.LotDelta{LotID: t.LotID, Delta: -t.Amount})
		}
		need -= take
	}
	c.Debt += need
	b.plan.w.Ops = append(b.plan.w.Ops, storage.OpWrite{Op: op, Postings: ledger.Move(ledger.Available, ledger.Issued, c.ID, -amount)})
	return nil
}

// idEncoding is kopilka.NewID's alphabet: lower-case Crockford base32.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// batchIDs makes the ids of one chunk's new rows in kopilka.NewID's form
// (80 bits), of which the first 56 are random and shared by the chunk and
// the last 24 random and distinct for each id. Rows of a chunk so sit
// together in every index keyed by these ids: with 80 independent random
// bits a chunk of a large import touches a page of each such index per
// row, and rewrites nearly all of them on every commit. The ids stay
// unguessable and tell neither how many rows there are nor their order;
// only that rows came in one chunk.
type batchIDs struct {
	prefix string
	id     [10]byte
	used   map[[3]byte]bool
}

func newBatchIDs(prefix string) *batchIDs {
	b := &batchIDs{prefix: prefix, used: map[[3]byte]bool{}}
	_, _ = rand.Read(b.id[:7])
	return b
}

func (b *batchIDs) next() string {
	var tail [3]byte
	for {
		_, _ = rand.Read(tail[:])
		if !b.used[tail] {
			break
		}
	}
	b.used[tail] = true
	copy(b.id[7:], tail[:])
	return b.prefix + "_" + idEncoding.EncodeToString(b.id[:])
}

// CustomerRecord is a customer as exports write it.
type CustomerRecord struct {
	Customer   kopilka.Customer // with cards
	ExternalID string           // of the default integration, or ""
	Available  kopilka.Amount   // spendable now, less debt (negative while in debt)
	Pending    kopilka.Amount
	Reserved   kopilka.Amount
	Tier       string
}

// exportPage is how many customers or operations an export reads at once.
const exportPage = 1000

// ExportCustomers calls fn with each customer of a tenant in id order. It
// reads a page at a time, each on committed data, so memory stays flat
// however many customers there are.
func (s *Service) ExportCustomers(ctx context.Context, tenantID string, fn func(*CustomerRecord) error) error {
	var p *kopilka.Program
	after := ""
	for {
		var page []storage.TransferCustomer
		err := s.db.Read(ctx, func(tx storage.Tx) error {
			var err error
			if p == nil {
				if p, err = tx.GetProgram(ctx, tenantID); err != nil {
					return err
				}
			}
			page, err = tx.ExportCustomers(ctx, tenantID, storage.DefaultIntegration, after, exportPage)
			return err
		})
		if err != nil {
			return fmt.Errorf("export customers: %w", err)
		}
		for i := range page {
			c := &page[i]
			rec := &CustomerRecord{Customer: c.Customer, Available: c.Spendable - c.Debt, Pending: c.Pending,
				Reserved: c.Held, Tier: p.TierFor(c.PurchasesTotal).Name}
			if len(c.ExternalIDs) > 0 {
				rec.ExternalID = c.ExternalIDs[0]
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// OperationRecord is an operation as exports write it.
type OperationRecord struct {
	Operation          kopilka.Operation
	CustomerExternalID string // of the default integration, or ""
}

// ExportOperations calls fn with each operation of a tenant created in
// [from, to), oldest first, reading a page at a time.
func (s *Service) ExportOperations(ctx context.Context, tenantID string, from, to time.Time, fn func(*OperationRecord) error) error {
	var after storage.OpCursor
	for {
		var page []storage.ExportedOperation
		err := s.db.Read(ctx, func(tx storage.Tx) error {
			var err error
			page, err = tx.ExportOperations(ctx, tenantID, storage.DefaultIntegration, from, to, after, exportPage)
			return err
		})
		if err != nil {
			return fmt.Errorf("export operations: %w", err)
		}
		for i := range page {
			if err := fn(&OperationRecord{Operation: page[i].Operation, CustomerExternalID: page[i].CustomerExternalID}); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		last := page[len(page)-1]
		after = storage.OpCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
}

// TenantIDs lists every tenant of the database, for the command line.
func (s *Service) TenantIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		ids, err = tx.ListTenantIDs(ctx)
		return err
	})
	return ids, err
}

// ImportJob is an import the server runs in the background.
type ImportJob = storage.ImportJob

// JobStaleAfter is how long a queued or running job may go without a
// heartbeat before it counts as interrupted (its server stopped).
const JobStaleAfter = 2 * time.Minute

// CreateImportJob stores a new job; with idem a retry replays the first
// answer instead.
func (s *Service) CreateImportJob(ctx context.Context, tenantID string, j *ImportJob, idem *Idem) (*ImportJob, error) {
	j.ID, j.TenantID, j.Status = kopilka.NewID("imp"), tenantID, storage.JobQueued
	if j.RowsTotal == 0 {
		j.RowsTotal = -1
	}
	v, err := s.write(ctx, tenantID, idem, func(tx storage.Tx) (any, error) {
		jj := *j
		return &jj, tx.CreateImportJob(ctx, &jj)
	})
	if err != nil {
		return nil, err
	}
	return v.(*ImportJob), nil
}

// UpdateImportJob writes a job's progress or outcome, which is also its
// heartbeat. It refuses (conflict) a job that has finished already, as
// when a reader found it stale and failed it.
func (s *Service) UpdateImportJob(ctx context.Context, j *ImportJob) error {
	err := s.db.Write(ctx, func(tx storage.Tx) error { return tx.UpdateImportJob(ctx, j) })
	if errors.Is(err, storage.ErrConflict) {
		return &kopilka.Error{Code: kopilka.CodeConflict, Message: "the import job has finished", Err: err}
	}
	return err
}

// GetImportJob loads a job. A queued or running job without a heartbeat
// for JobStaleAfter was interrupted by a stop of its server: it is failed
// then and there (re-importing the file is safe: imports are idempotent).
func (s *Service) GetImportJob(ctx context.Context, tenantID, id string) (*ImportJob, error) {
	if !kopilka.ValidID("imp", id) {
		return nil, kopilka.Errorf(kopilka.CodeNotFound, "import job not found")
	}
	var j *ImportJob
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		j, err = tx.GetImportJob(ctx, tenantID, id)
		return err
	})
	if err != nil {
		return nil, notFound(err, kopilka.CodeNotFound, "import job")
	}
	if (j.Status == storage.JobQueued || j.Status == storage.JobRunning) && s.clock().Sub(j.UpdatedAt) > JobStaleAfter {
		failed := *j
		now := s.clock().UTC()
		failed.Status, failed.FinishedAt = storage.JobFailed, &now
		failed.Message = "the import was interrupted (its server stopped); rows written before stay, and importing the file again completes it"
		switch err := s.UpdateImportJob(ctx, &failed); {
		case err == nil:
			return &failed, nil
		case kopilka.ErrorCode(err) == kopilka.CodeConflict:
			return s.GetImportJob(ctx, tenantID, id) // it finished meanwhile
		default:
			return nil, err
		}
	}
	return j, nil
}
