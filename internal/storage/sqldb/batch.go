package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// A group commit runs several writes (jobs) one after another in one
// database transaction, answering them all after its single commit.
//
// What a job writes through Apply and PutIdempotency (the whole of a
// receipt, an adjustment, a stored answer) is not sent when the job asks:
// it is gathered, and the batch sends everything gathered in one
// statement before it commits. A job that only reads and gathers needs no
// savepoint: should it fail, its gathered rows are dropped and nothing of
// it reached the database. So a typical write costs the batch one round
// trip (the customer's row lock, which also reads what the write needs)
// instead of four (savepoint, lock, insert, release).
//
// What keeps this equal to running the jobs one by one:
//   - A job that writes directly (any other statement that changes data)
//     or takes a lock that may fail first sends what the batch gathered
//     from earlier jobs, then opens its savepoint, then sends its own
//     gathered rows: from there on it is rolled back alone, as before.
//   - A job that reads after gathering sends its own rows first (in its
//     savepoint), so it reads its own writes.
//   - A job that reads a customer whose rows the batch still holds sends
//     them first and reads again (customerByRef): a later job never
//     decides on a customer's stale balance, debt or purchase sum.
//   - Rows of different customers that clash (two receipts under one
//     external id) make the batch's statement fail: the batch is then
//     lost as a whole and every job runs again alone (runBatch's
//     fallback), which gives each its proper answer.
//   - A statement that fails outside a savepoint leaves the transaction
//     unusable: the batch is lost the same way.
type batch struct {
	db    *DB
	sqlTx *sql.Tx
	// gathered holds what finished jobs gathered and is not sent yet.
	gathered writeSet
	// own is what the running job gathered; it joins gathered when the
	// job succeeds, and is dropped when it fails.
	own writeSet
	// sp: the running job has its savepoint open.
	sp bool
	// broken is the error that made the transaction unusable.
	broken error
	// locked holds the customer rows the batch locked and read up front,
	// by tenant/customer, and lots their active lots with points left;
	// any write empties both (they may be stale).
	locked map[string]lockedCustomer
	lots   map[string][]kopilka.Lot
	// refs holds what the purchases' customer references resolved to.
	refs map[storage.PurchaseRef]refRow
}

// refRow is a purchase reference resolved ahead: the customer it names
// and the purchase that already holds its external id, if any.
type refRow struct {
	customerID, existing string
}

// lockedCustomer is a customer row as LockCustomer reads it.
type lockedCustomer struct {
	kind, group, tags string
	debt, purchases   int64
}

// lockAhead locks and reads, in one statement, the customers the batch's
// writes said they will lock (storage.WithCustomer), skipping rows busy
// elsewhere; LockCustomer then costs those writes no round trip. Merged and
// deleted customers are left to LockCustomer's own lookup, which resolves
// them.
func (b *batch) lockAhead(ctx context.Context, jobs []*job) {
	if len(jobs) < 2 || b.db.d.name() != "postgres" {
		return // alone, or in-process (SQLite): nothing to save
	}
	b.refsAhead(ctx, jobs)
	if b.broken != nil {
		return
	}
	// A batch holds one tenant's writes, or a few tenants': one lookup a
	// tenant, each an index scan of its keys (= ANY), whatever the sizes.
	byTenant := map[string][]*job{}
	var tenants []string
	for _, j := range jobs {
		if j.customer == "" {
			continue
		}
		if _, ok := byTenant[j.tenant]; !ok {
			tenants = append(tenants, j.tenant)
		}
		byTenant[j.tenant] = append(byTenant[j.tenant], j)
	}
	for _, tenant := range tenants {
		if !b.customersAhead(ctx, tenant, byTenant[tenant]) {
			return
		}
	}
}

// customersAhead locks and reads a tenant's customers of jobs, then the
// active lots of those whose writes spend them, in CustomerLots' order. It
// reports whether the transaction is still usable.
func (b *batch) customersAhead(ctx context.Context, tenant string, jobs []*job) bool {
	ids := make([]string, 0, len(jobs))
	for _, j := range jobs {
		ids = append(ids, j.customer)
	}
	rows, err := b.sqlTx.QueryContext(ctx, `SELECT c.id, c.kind, c.debt, c.purchases_total, c.grp, c.tags FROM customers c
WHERE c.tenant_id = $1 AND c.id = ANY($2::text[]) AND c.merged_into IS NULL AND c.deleted_at IS NULL
FOR UPDATE OF c SKIP LOCKED`, tenant, ids)
	if err != nil {
		b.broken = b.db.d.mapErr(err)
		return false
	}
	defer rows.Close()
	if b.locked == nil {
		b.locked = make(map[string]lockedCustomer, len(ids))
	}
	for rows.Next() {
		var id string
		var c lockedCustomer
		if err := rows.Scan(&id, &c.kind, &c.debt, &c.purchases, &c.group, &c.tags); err != nil {
			b.broken = b.db.d.mapErr(err)
			return false
		}
		b.locked[tenant+"/"+id] = c
	}
	if err := rows.Err(); err != nil {
		b.broken = b.db.d.mapErr(err)
		return false
	}
	rows.Close()
	ids = ids[:0]
	for _, j := range jobs {
		if _, ok := b.locked[tenant+"/"+j.customer]; ok && j.lots {
			ids = append(ids, j.customer)
		}
	}
	if len(ids) == 0 {
		return true
	}
	lrows, err := b.sqlTx.QueryContext(ctx, `SELECT `+lotColumns+` FROM lots
WHERE tenant_id = $1 AND customer_id = ANY($2::text[]) AND remaining > 0 AND state = 'active'
ORDER BY `+customerLotsOrder, tenant, ids)
	if err != nil {
		b.broken = b.db.d.mapErr(err)
		return false
	}
	lots, err := scanLots(lrows)
	if err != nil {
		b.broken = b.db.d.mapErr(err)
		return false
	}
	if b.lots == nil {
		b.lots = make(map[string][]kopilka.Lot, len(ids))
	}
	for _, id := range ids {
		b.lots[tenant+"/"+id] = nil // read: none is an answer too
	}
	for _, l := range lots {
		k := tenant + "/" + l.CustomerID
		b.lots[k] = append(b.lots[k], l)
	}
	return true
}

// activeLots returns a customer's active lots read ahead, while still as
// read.
func (b *batch) activeLots(tenantID, customerID string) ([]kopilka.Lot, bool) {
	if !b.fresh(tenantID, customerID) {
		return nil, false
	}
	lots, ok := b.lots[tenantID+"/"+customerID]
	return slices.Clone(lots), ok
}

// refsAhead resolves the purchases' customer references (storage.
// WithPurchaseRef) in one statement, locking the customers they name
// (skipping rows busy elsewhere) and telling which external ids are taken;
// the customers join the jobs whose customers and lots are read ahead.
func (b *batch) refsAhead(ctx context.Context, jobs []*job) {
	var tenants, bys, values, exts []string
	for _, j := range jobs {
		r := j.ref
		if r == nil || (r.By == "card" && len(kopilka.CardLookups(r.Value)) > 1) {
			continue // a scanned EAN-13 may name shorter numbers: looked up alone
		}
		tenants, bys, values, exts = append(tenants, r.TenantID), append(bys, r.By), append(values, r.Value), append(exts, r.ExternalID)
	}
	// Phones are found through their blind index.
	lookups := slices.Clone(values)
	for i := range lookups {
		if bys[i] == "phone" {
			lookups[i] = b.db.keys.Index(idxPhone, tenants[i], values[i])
		}
	}
	if len(tenants) == 0 {
		return
	}
	rows, err := b.sqlTx.QueryContext(ctx, `SELECT u.n, x.id, x.existing FROM
unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(tenant_id, by, value, ext, n)
CROSS JOIN LATERAL (SELECT c.id, (SELECT p.id FROM purchases p WHERE p.tenant_id = c.tenant_id AND p.external_id = u.ext) AS existing
 FROM customers c WHERE c.tenant_id = u.tenant_id AND c.merged_into IS NULL AND c.deleted_at IS NULL AND c.id = CASE u.by
  WHEN 'id' THEN u.value
  WHEN 'card' THEN (SELECT k.customer_id FROM cards k WHERE k.tenant_id = u.tenant_id AND k.number = u.value AND k.status = 'active')
  WHEN 'phone' THEN (SELECT m.id FROM customers m WHERE m.tenant_id = u.tenant_id AND m.phone_bidx = u.value)
 END
 FOR UPDATE OF c SKIP LOCKED) AS x`, tenants, bys, lookups, exts)
	if err != nil {
		b.broken = b.db.d.mapErr(err)
		return
	}
	defer rows.Close()
	b.refs = map[storage.PurchaseRef]refRow{}
	for rows.Next() {
		var n int
		var r refRow
		var existing sql.NullString
		if err := rows.Scan(&n, &r.customerID, &existing); err != nil {
			b.broken = b.db.d.mapErr(err)
			return
		}
		r.existing = existing.String
		i := n - 1
		b.refs[storage.PurchaseRef{TenantID: tenants[i], By: bys[i], Value: values[i], ExternalID: exts[i]}] = r
		// Its row and lots are read with the others'.
		for _, j := range jobs {
			if j.ref != nil && j.ref.TenantID == tenants[i] && j.ref.By == bys[i] && j.ref.Value == values[i] && j.customer == "" {
				j.tenant, j.customer, j.lots = tenants[i], r.customerID, true
			}
		}
	}
	if err := rows.Err(); err != nil {
		b.broken = b.db.d.mapErr(err)
	}
}

// purchaseCustomer returns what PurchaseCustomer would, from what the
// batch read ahead, while it still stands.
func (b *batch) purchaseCustomer(ref storage.PurchaseRef, now time.Time) (*kopilka.Customer, string, bool) {
	r, ok := b.refs[ref]
	if !ok {
		return nil, "", false
	}
	l, ok := b.lockedRow(ref.TenantID, r.customerID)
	if !ok {
		return nil, "", false
	}
	lots, ok := b.activeLots(ref.TenantID, r.customerID)
	if !ok {
		return nil, "", false
	}
	c := &kopilka.Customer{TenantID: ref.TenantID, ID: r.customerID, Kind: kopilka.CustomerKind(l.kind), Debt: kopilka.Amount(l.debt),
		PurchasesTotal: kopilka.Amount(l.purchases), Group: l.group}
	if err := json.Unmarshal([]byte(l.tags), &c.Tags); err != nil {
		return nil, "", false
	}
	for _, lot := range lots {
		if lot.ExpiresAt == nil || lot.ExpiresAt.After(now) {
			c.Spendable += lot.Remaining
		}
	}
	return c, r.existing, true
}

// lockedRow returns a customer locked ahead whose row is still as read.
func (b *batch) lockedRow(tenantID, customerID string) (lockedCustomer, bool) {
	if !b.fresh(tenantID, customerID) {
		return lockedCustomer{}, false
	}
	c, ok := b.locked[tenantID+"/"+customerID]
	return c, ok
}

func (b *batch) exec(ctx context.Context, stmt string) error {
	if b.broken != nil {
		return b.broken
	}
	if _, err := b.sqlTx.ExecContext(ctx, stmt); err != nil {
		b.broken = b.db.d.mapErr(err)
		return b.broken
	}
	return nil
}

// sendGathered sends what finished jobs gathered.
func (b *batch) sendGathered(ctx context.Context, tx *Tx) error {
	if b.broken != nil {
		return b.broken
	}
	if b.gathered.empty() {
		return nil
	}
	b.locked, b.lots, b.refs = nil, nil, nil
	err := tx.send(ctx, &b.gathered)
	b.gathered = writeSet{}
	if err != nil {
		b.broken = err
	}
	return err
}

// savepoint makes sure the running job has its savepoint, sending what
// earlier jobs gathered first (it is theirs, not to be rolled back with
// this job).
func (b *batch) savepoint(ctx context.Context, tx *Tx) error {
	if b.sp {
		return nil
	}
	if err := b.sendGathered(ctx, tx); err != nil {
		return err
	}
	if err := b.exec(ctx, "SAVEPOINT w"); err != nil {
		return err
	}
	b.sp = true
	return nil
}

// sendOwn sends what the running job gathered, inside its savepoint.
func (b *batch) sendOwn(ctx context.Context, tx *Tx) error {
	if b.own.empty() {
		return nil
	}
	if err := b.savepoint(ctx, tx); err != nil {
		return err
	}
	b.locked, b.lots, b.refs = nil, nil, nil
	err := tx.send(ctx, &b.own)
	b.own = writeSet{}
	return err
}

// beforeWrite readies the batch for a statement of the running job that
// changes data or may fail (a NOWAIT lock).
func (b *batch) beforeWrite(ctx context.Context, tx *Tx) error {
	b.locked, b.lots, b.refs = nil, nil, nil
	if err := b.savepoint(ctx, tx); err != nil {
		return err
	}
	return b.sendOwn(ctx, tx)
}

// beforeRead lets the running job read its own writes.
func (b *batch) beforeRead(ctx context.Context, tx *Tx) error {
	return b.sendOwn(ctx, tx)
}

// fresh reports whether what the batch read ahead of a customer still
// stands: no unsent rows of the batch or of the running job may change it
// (the running job's own rows are sent before it reads, see beforeRead).
func (b *batch) fresh(tenantID, customerID string) bool {
	return b.own.empty() && !b.holds(tenantID, customerID)
}

// holds reports whether gathered rows of finished jobs write the customer.
func (b *batch) holds(tenantID, customerID string) bool {
	_, ok := b.gathered.customers[tenantID+"/"+customerID]
	return ok
}

// finish closes the running job: its gathered rows join the batch's when
// it succeeded, its savepoint is released or rolled back. It reports
// whether the transaction is still usable.
func (b *batch) finish(ctx context.Context, failed error) bool {
	if b.broken == nil && failed != nil && !b.sp && dbError(failed) {
		// A statement failed with no savepoint to return to.
		b.broken = failed
	}
	switch {
	case b.broken != nil:
	case failed == nil:
		b.gathered.merge(&b.own)
		if b.sp {
			_ = b.exec(ctx, "RELEASE SAVEPOINT w")
		}
	case b.sp:
		_ = b.exec(ctx, "ROLLBACK TO SAVEPOINT w; RELEASE SAVEPOINT w")
	}
	b.own = writeSet{}
	b.sp = false
	return b.broken == nil
}

// dbError reports whether err came from the database itself (a statement
// that failed), as opposed to a refusal the job decided on.
func dbError(err error) bool {
	var pe *pgconn.PgError
	var se *sqlite.Error
	return errors.As(err, &pe) || errors.As(err, &se) || errors.Is(err, storage.ErrUnavailable) ||
		errors.Is(err, sql.ErrTxDone) || errors.Is(err, sql.ErrConnDone)
}

// runBatch runs several writes in one transaction (see batch). A write
// that fails is rolled back alone; a write that hit a retryable error runs
// again on its own after the commit. Should the shared transaction itself
// break, every write not yet answered runs again on its own.
func (db *DB) runBatch(jobs []*job) {
	ctx := context.Background()
	// committed: their writes wait for the commit; refused: their answer
	// (an error) rests on what the writes before them did in this
	// transaction, so it holds only once that commits; retry: they asked
	// to run again. Should the transaction break, all of them run alone.
	var committed, refused, retry []*job
	var refusals []error
	fallback := func() {
		for _, k := range jobs {
			k.done <- db.runAlone(k)
		}
	}
	sqlTx, conn, release, err := db.beginWrite(ctx)
	if err != nil {
		fallback()
		return
	}
	// The connection goes back before any write runs alone: those take
	// connections of their own from the same pool.
	rollback := func() {
		_ = sqlTx.Rollback()
		release()
	}
	b := &batch{db: db, sqlTx: sqlTx}
	b.lockAhead(ctx, jobs)
	if b.broken != nil {
		rollback()
		fallback()
		return
	}
	for _, j := range jobs {
		ferr := j.fn(&Tx{db: db, q: sqlTx, now: db.now(), batched: true, b: b, conn: conn})
		if !b.finish(ctx, ferr) {
			rollback()
			fallback()
			return
		}
		switch {
		case ferr == nil:
			committed = append(committed, j)
		case errors.Is(ferr, storage.ErrRetry):
			retry = append(retry, j)
		default:
			refused = append(refused, j)
			refusals = append(refusals, ferr)
		}
	}
	if err := b.sendGathered(ctx, &Tx{db: db, q: sqlTx, now: db.now(), conn: conn}); err != nil {
		rollback()
		fallback()
		return
	}
	err = sqlTx.Commit()
	release()
	if err != nil {
		err = db.d.mapErr(err)
		if errors.Is(err, storage.ErrRetry) {
			retry = append(retry, committed...)
		} else {
			for _, j := range committed {
				j.done <- err
			}
		}
		// The refusals may rest on writes that did not commit.
		retry = append(retry, refused...)
	} else {
		for _, j := range committed {
			j.done <- nil
		}
		for i, j := range refused {
			j.done <- refusals[i]
		}
	}
	for _, j := range slices.Clip(retry) {
		j.done <- db.runAlone(j)
	}
}
