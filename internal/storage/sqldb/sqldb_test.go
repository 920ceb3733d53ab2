package sqldb_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// stepClock returns a clock that starts at a fixed instant and moves one
// second forward on every reading, so every transaction has its own time.
func stepClock() func() time.Time {
	var n atomic.Int64
	start := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Second) }
}

// TestConformance runs the storage suite on both databases, with group
// commit (the default) and with every write in a transaction of its own.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		for _, mode := range []struct {
			name    string
			noBatch bool
		}{{"GroupCommit", false}, {"NoBatch", true}} {
			t.Run(dialect+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				storagetest.Run(t, func(t *testing.T) storage.DB {
					return storagetest.Open(t, dialect, sqldb.Options{Clock: stepClock(), NoBatch: mode.noBatch})
				})
			})
		}
	}
}

// isImmutableError reports whether err is the refusal of the history
// triggers: RAISE EXCEPTION (P0001) on PostgreSQL, RAISE(ABORT) in a
// trigger on SQLite.
func isImmutableError(dialect string, err error) bool {
	var pe *pgconn.PgError
	var se *sqlite.Error
	switch dialect {
	case "postgres":
		return errors.As(err, &pe) && pe.Code == "P0001"
	case "sqlite":
		return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_TRIGGER
	}
	return false
}

// TestImmutableHistory proves RELIABILITY O6 in the database itself:
// postings can be neither changed nor deleted, and an operation changes
// only while it is pending, whatever SQL a bug or an operator runs.
func TestImmutableHistory(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := storagetest.Open(t, dialect, sqldb.Options{Clock: stepClock()})
			tenantID, cus := kopilka.NewID("ten"), kopilka.NewID("cus")
			op := func(status kopilka.OpStatus) *kopilka.Operation {
				return &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: tenantID, CustomerID: cus,
					Type: kopilka.OpAdjustment, Status: status, Amount: 100, Message: "original"}
			}
			complete, pending, voided := op(kopilka.StatusComplete), op(kopilka.StatusPending), op(kopilka.StatusVoided)
			if err := db.Write(ctx, func(tx storage.Tx) error {
				if err := tx.CreateTenant(ctx, &kopilka.Tenant{ID: tenantID, Name: "t"}); err != nil {
					return err
				}
				for _, o := range []*kopilka.Operation{complete, pending, voided} {
					if err := tx.InsertOperation(ctx, o, ledger.Move(ledger.Issued, ledger.Available, cus, 100)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			facts := func() *ledger.TenantFacts {
				t.Helper()
				var f *ledger.TenantFacts
				if err := db.Read(ctx, func(tx storage.Tx) error {
					var err error
					f, err = tx.VerifyFacts(ctx, tenantID)
					return err
				}); err != nil {
					t.Fatalf("Read: %v", err)
				}
				return f
			}
			before := facts()

			w := sqldb.Writer(db)
			where := func(id string) string { return fmt.Sprintf(" WHERE tenant_id = '%s' AND id = '%s'", tenantID, id) }
			postingsOf := fmt.Sprintf(" WHERE tenant_id = '%s' AND operation_id = '%s'", tenantID, complete.ID)
			for _, tc := range []struct {
				name string
				stmt string
				ok   bool
			}{
				{"UpdatePosting", "UPDATE postings SET amount = amount + 1" + postingsOf, false},
				{"MovePosting", "UPDATE postings SET account = 'expired'" + postingsOf, false},
				{"DeletePosting", "DELETE FROM postings" + postingsOf, false},
				{"UpdateComplete", "UPDATE operations SET message = 'changed'" + where(complete.ID), false},
				{"VoidComplete", "UPDATE operations SET status = 'voided'" + where(complete.ID), false},
				{"UnvoidVoided", "UPDATE operations SET status = 'complete'" + where(voided.ID), false},
				{"DeleteComplete", "DELETE FROM operations" + where(complete.ID), false},
				{"DeletePending", "DELETE FROM operations" + where(pending.ID), false},
				// Positive control: the triggers let a pending operation change.
				{"UpdatePending", "UPDATE operations SET message = 'changed'" + where(pending.ID), true},
			} {
				res, err := w.ExecContext(ctx, tc.stmt)
				if tc.ok {
					n, _ := res.RowsAffected()
					if err != nil || n != 1 {
						t.Errorf("%s: Exec(%s) = %d rows, %v; want 1 row", tc.name, tc.stmt, n, err)
					}
					continue
				}
				if !isImmutableError(dialect, err) {
					t.Errorf("%s: Exec(%s) = %v, want the immutability trigger's error", tc.name, tc.stmt, err)
				}
			}
			if d := cmp.Diff(before, facts()); d != "" {
				t.Errorf("postings changed despite the triggers (-before +after):\n%s", d)
			}
			if err := db.Read(ctx, func(tx storage.Tx) error {
				for _, o := range []*kopilka.Operation{complete, voided} {
					got, err := tx.GetOperation(ctx, tenantID, o.ID)
					if err != nil {
						return err
					}
					if d := cmp.Diff(o, got); d != "" {
						t.Errorf("operation %s changed despite the triggers (-want +got):\n%s", o.Status, d)
					}
				}
				return nil
			}); err != nil {
				t.Fatalf("Read: %v", err)
			}
		})
	}
}

// TestGroupCommitBatch queues writes behind one that holds the only
// committer, so they run as one batch in one transaction, each in a
// savepoint: the ones that fail (their own error, or a unique violation,
// which on PostgreSQL aborts the statement's savepoint) leave nothing,
// the others commit, and one that asks for a retry runs again on its own.
func TestGroupCommitBatch(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			const n = 32 // one batch: MaxBatch writes
			db := storagetest.Open(t, dialect, sqldb.Options{Committers: 1, MaxBatch: n, Clock: stepClock()})
			tenantID, phone := kopilka.NewID("ten"), "+79161110000"
			if err := db.Write(ctx, func(tx storage.Tx) error {
				if err := tx.CreateTenant(ctx, &kopilka.Tenant{ID: tenantID, Name: "t"}); err != nil {
					return err
				}
				return tx.CreateCustomer(ctx, &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: tenantID, Kind: kopilka.Individual, Phone: phone})
			}); err != nil {
				t.Fatalf("Write: %v", err)
			}

			kinds := []string{"ok", "fail", "conflict", "retry"}
			errBoom := errors.New("boom")
			type result struct {
				kind, store string
				err         error
				txs         []any // the transaction of each run
			}
			results := make([]result, n)
			writes := make([]batchWrite, n)
			for i := range n {
				r := &results[i]
				r.kind, r.store = kinds[i%len(kinds)], kopilka.NewID("sto")
				runs := 0
				writes[i] = batchWrite{ctx, func(tx storage.Tx) error {
					runs++
					if err := tx.CreateStore(ctx, &kopilka.Store{ID: r.store, TenantID: tenantID, Name: r.kind}); err != nil {
						return err
					}
					switch {
					case r.kind == "fail":
						return errBoom
					case r.kind == "conflict":
						return tx.CreateCustomer(ctx, &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: tenantID, Kind: kopilka.Individual, Phone: phone})
					case r.kind == "retry" && runs == 1:
						return fmt.Errorf("try again: %w", storage.ErrRetry)
					}
					return nil
				}}
			}
			for i, run := range inOneBatch(t, db, writes) {
				results[i].err, results[i].txs = run.err, run.txs
			}

			var stores []kopilka.Store
			if err := db.Read(ctx, func(tx storage.Tx) error {
				var err error
				stores, err = tx.ListStores(ctx, tenantID)
				return err
			}); err != nil {
				t.Fatalf("Read: %v", err)
			}
			kept := map[string]bool{}
			for _, s := range stores {
				kept[s.ID] = true
			}
			batch := results[0].txs[0]
			for i, r := range results {
				want, wantRuns := map[string]error{"fail": errBoom, "conflict": storage.ErrConflict}[r.kind], 1
				if r.kind == "retry" {
					wantRuns = 2
				}
				if !errors.Is(r.err, want) || (want == nil && r.err != nil) {
					t.Errorf("write %d (%s) = %v, want %v", i, r.kind, r.err, want)
				}
				if kept[r.store] != (want == nil) {
					t.Errorf("write %d (%s): store kept = %v, want %v", i, r.kind, kept[r.store], want == nil)
				}
				if len(r.txs) != wantRuns {
					t.Errorf("write %d (%s) ran %d times, want %d", i, r.kind, len(r.txs), wantRuns)
					continue
				}
				if r.txs[0] != batch {
					t.Errorf("write %d (%s) ran in a transaction of its own, want the shared batch transaction", i, r.kind)
				}
				if wantRuns == 2 && r.txs[1] == batch {
					t.Errorf("write %d (%s) was retried inside the batch transaction, want a transaction of its own", i, r.kind)
				}
			}
			if len(stores) != n/2 {
				t.Errorf("ListStores = %d stores, want %d", len(stores), n/2)
			}
		})
	}
}

// withQuery returns rawURL with the query parameter added.
func withQuery(t *testing.T, rawURL, key, value string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse %s: %v", rawURL, err)
	}
	// pgx decodes %20 but not + as a space.
	u.RawQuery += "&" + key + "=" + strings.ReplaceAll(url.QueryEscape(value), "+", "%20")
	return u.String()
}

// TestDurabilityGuardPostgres: a URL that turns synchronous_commit off for
// the session (pgx sends "options" as a startup parameter) must make Open
// refuse the database (RELIABILITY D4).
func TestDurabilityGuardPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	good := storagetest.PostgresURL(t)
	bad := withQuery(t, good, "options", "-c synchronous_commit=off")

	// Control: the option really reaches the server.
	raw, err := sql.Open("pgx", bad)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer raw.Close()
	var setting string
	if err := raw.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&setting); err != nil || setting != "off" {
		t.Fatalf("SHOW synchronous_commit with options in the URL = %q, %v; want off", setting, err)
	}
	if err := sqldb.CheckDurability(ctx, "postgres", raw); err == nil {
		t.Errorf("CheckDurability(synchronous_commit=off) = nil, want an error")
	}

	if db, err := sqldb.Open(ctx, bad, sqldb.Options{Keys: storagetest.Keys()}); err == nil {
		db.Close()
		t.Errorf("Open(URL with synchronous_commit=off) = nil error, want a refusal")
	}
	// The refusal came from the guard: skipping it, the same URL opens.
	db, err := sqldb.Open(ctx, bad, sqldb.Options{SkipDurabilityCheck: true, Keys: storagetest.Keys()})
	if err != nil {
		t.Fatalf("Open(URL with synchronous_commit=off, SkipDurabilityCheck) = %v, want nil", err)
	}
	db.Close()
	// Positive control: the plain URL passes the guard.
	db, err = sqldb.Open(ctx, good, sqldb.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatalf("Open(durable URL) = %v, want nil", err)
	}
	defer db.Close()
	if err := sqldb.CheckDurability(ctx, "postgres", sqldb.Writer(db)); err != nil {
		t.Errorf("CheckDurability(durable writer pool) = %v, want nil", err)
	}
}

// TestDurabilityGuardSQLite runs the SQLite guard on connections opened
// with weaker settings than Open uses (RELIABILITY D4).
func TestDurabilityGuardSQLite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		pragmas string
		ok      bool
	}{
		{"WALFull", "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)", true},
		{"WALNormal", "_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)", false},
		{"WALOff", "_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)", false},
		{"RollbackJournalFull", "_pragma=journal_mode(DELETE)&_pragma=synchronous(FULL)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "g.db")+"?"+tc.pragmas)
			if err != nil {
				t.Fatalf("sql.Open: %v", err)
			}
			defer raw.Close()
			raw.SetMaxOpenConns(1)
			err = sqldb.CheckDurability(ctx, "sqlite", raw)
			if (err == nil) != tc.ok {
				t.Errorf("CheckDurability(%s) = %v, want ok = %v", tc.pragmas, err, tc.ok)
			}
		})
	}
	t.Run("Open", func(t *testing.T) {
		t.Parallel()
		db := storagetest.Open(t, "sqlite", sqldb.Options{Keys: storagetest.Keys()})
		if err := sqldb.CheckDurability(ctx, "sqlite", sqldb.Writer(db)); err != nil {
			t.Errorf("CheckDurability(writer pool of Open) = %v, want nil", err)
		}
	})
}

// TestClosed: after Close, Write refuses with ErrRetry (the caller may try
// another instance) and Close is idempotent.
func TestClosed(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := storagetest.Open(t, dialect, sqldb.Options{Keys: storagetest.Keys()})
			if got := db.Dialect(); got != dialect {
				t.Errorf("Dialect() = %q, want %q", got, dialect)
			}
			if err := db.Ping(ctx); err != nil {
				t.Errorf("Ping() = %v, want nil", err)
			}
			for i := range 2 {
				if err := db.Close(); err != nil {
					t.Errorf("Close() #%d = %v, want nil", i+1, err)
				}
			}
			ran := false
			err := db.Write(ctx, func(storage.Tx) error { ran = true; return nil })
			if !errors.Is(err, storage.ErrRetry) || ran {
				t.Errorf("Write after Close = %v (fn ran: %v), want ErrRetry without running fn", err, ran)
			}
		})
	}
}
