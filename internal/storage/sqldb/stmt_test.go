package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// TestPreparedStatements runs the same reads and writes until SQLite keeps
// their statements prepared (on the reader pool, in read snapshots and in
// the writer's transactions), and checks that they answer the same after:
// balances move by exactly what was written and verify passes.
func TestPreparedStatements(t *testing.T) {
	t.Parallel()
	f := newLedgerFixture(t, "sqlite")
	ctx := t.Context()
	c := f.customer()
	var want kopilka.Amount
	// The first round meets every text for the first time and prepares it
	// in the background; the later ones run them prepared.
	for round := range 3 {
		if err := f.db.Write(ctx, func(tx storage.Tx) error {
			return f.credit(ctx, tx, c, 100, nil, "")
		}); err != nil {
			t.Fatalf("credit: %v", err)
		}
		if err := f.db.Write(ctx, func(tx storage.Tx) error { return f.debit(ctx, tx, c, 30) }); err != nil {
			t.Fatalf("debit: %v", err)
		}
		want += 70
		if got := f.available(c); got != want {
			t.Fatalf("round %d: available = %d, want %d", round, got, want)
		}
		f.verify()
		sqldb.WaitPrepared(f.db)
	}
	if w, r := f.db.PreparedStatements(); w == 0 || r == 0 {
		t.Fatalf("%d writer and %d reader statements are prepared; want some of each", w, r)
	}
	// A lookup of a row that is not there answers not found prepared too.
	for range 3 {
		err := f.db.Read(ctx, func(tx storage.Tx) error {
			_, err := tx.CustomerByRef(context.Background(), f.tenant, "id", "cus_missing", false)
			return err
		})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("CustomerByRef(missing) = %v, want not found", err)
		}
		sqldb.WaitPrepared(f.db)
	}
}

// TestMaintain checks that on PostgreSQL with autovacuum off (as on this
// project's machine) Maintain analyses the tables writes changed, and
// then leaves them be until they change again; with autovacuum on it
// leaves everything to PostgreSQL.
func TestMaintain(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			f := newLedgerFixture(t, dialect)
			ctx := t.Context()
			for range 120 {
				f.customer()
			}
			auto := "off"
			if dialect == "postgres" {
				pg, err := sql.Open("pgx", os.Getenv(storagetest.PostgresEnv))
				if err != nil {
					t.Fatal(err)
				}
				err = pg.QueryRowContext(ctx, "SHOW autovacuum").Scan(&auto)
				pg.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			if dialect != "postgres" || auto == "on" {
				m, err := f.db.Maintain(ctx, sqldb.Background)
				if err != nil || len(m.Analyzed)+len(m.Vacuumed) > 0 {
					t.Errorf("Maintain (%s, autovacuum %s) = %+v, %v; want nothing done", dialect, auto, m, err)
				}
				return
			}
			// PostgreSQL's other sessions publish the counts Maintain reads
			// when they go idle, up to some seconds later: another
			// process's timing, which only polling can wait for.
			deadline := time.Now().Add(20 * time.Second)
			var analyzed []string
			for !slices.Contains(analyzed, "customers") {
				m, err := f.db.Maintain(ctx, sqldb.Background)
				if err != nil {
					t.Fatalf("Maintain: %v", err)
				}
				analyzed = append(analyzed, m.Analyzed...)
				if time.Now().After(deadline) {
					t.Fatalf("Maintain analysed %v in 20 s, want customers among them", analyzed)
				}
				time.Sleep(200 * time.Millisecond)
			}
			m, err := f.db.Maintain(ctx, sqldb.Background)
			if err != nil || slices.Contains(m.Analyzed, "customers") {
				t.Errorf("Maintain right after analysing = %+v, %v; want customers left alone", m, err)
			}
			// The background throttle stays with Maintain: every
			// connection of the writer pool (the one Maintain used among
			// them, for they are all held at once) runs vacuums at full
			// speed again.
			w := sqldb.Writer(f.db)
			var conns []*sql.Conn
			for range w.Stats().MaxOpenConnections {
				c, err := w.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				var delay string
				if err := c.QueryRowContext(ctx, "SHOW vacuum_cost_delay").Scan(&delay); err != nil {
					t.Fatal(err)
				}
				if delay != "0" {
					t.Errorf("a writer connection has vacuum_cost_delay %s after Maintain, want 0", delay)
				}
				c.Close()
			}
			// An import's maintenance analyses what changed, never waits
			// for the minute's rest, and vacuums nothing; it waits for
			// another maintainer (here a session holding the lock) to
			// finish first.
			for range 120 {
				f.customer()
			}
			deadline = time.Now().Add(20 * time.Second)
			for {
				var mods, live int64
				if err := w.QueryRowContext(ctx, `SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables
 WHERE schemaname = current_schema() AND relname = 'customers'`).Scan(&mods, &live); err != nil {
					t.Fatal(err)
				}
				if mods > 50+live/10 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("customers shows %d changes since its analysis after 20 s, want over %d", mods, 50+live/10)
				}
				time.Sleep(200 * time.Millisecond)
			}
			other, err := w.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if _, err := other.ExecContext(ctx, "SELECT pg_advisory_lock($1)", sqldb.MaintainLock); err != nil {
				t.Fatal(err)
			}
			type result struct {
				m   sqldb.Maintenance
				err error
			}
			done := make(chan result, 1)
			go func() {
				m, err := f.db.Maintain(ctx, sqldb.AfterImport)
				done <- result{m, err}
			}()
			for waiting := false; !waiting; {
				if err := other.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
 AND NOT granted AND (classid::bigint << 32) + objid::bigint = $1)`, sqldb.MaintainLock).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				select {
				case r := <-done:
					t.Fatalf("Maintain(AfterImport) = %+v, %v while another session held the lock; want it to wait", r.m, r.err)
				default:
				}
				if !waiting && time.Now().After(deadline.Add(10*time.Second)) {
					t.Fatal("Maintain(AfterImport) never waited for the lock")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if _, err := other.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", sqldb.MaintainLock); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil || len(r.m.Vacuumed) > 0 || !slices.Contains(r.m.Analyzed, "customers") {
				t.Errorf("Maintain(AfterImport) = %+v, %v; want customers analysed and nothing vacuumed", r.m, r.err)
			}
		})
	}
}

// TestPreparedStatementsNested runs a text again inside a read snapshot
// while the rows of its first run are open, after the text was prepared:
// SQLite has one compiled statement per text and connection, so the
// second run must not take the same one.
func TestPreparedStatementsNested(t *testing.T) {
	t.Parallel()
	f := newLedgerFixture(t, "sqlite")
	ctx := t.Context()
	for range 3 {
		f.customer()
	}
	const q = "SELECT id FROM customers WHERE tenant_id = ?"
	// On the pool, which prepares it (a second run takes another
	// connection there).
	if err := f.db.Read(ctx, func(tx storage.Tx) error { return sqldb.QueryTwice(ctx, tx, q, f.tenant) }); err != nil {
		t.Fatalf("the same query twice on the reader pool: %v", err)
	}
	sqldb.WaitPrepared(f.db)
	if _, r := f.db.PreparedStatements(); r == 0 {
		t.Fatal("the query was not prepared")
	}
	if err := f.db.Snapshot(ctx, func(tx storage.Tx) error { return sqldb.QueryTwice(ctx, tx, q, f.tenant) }); err != nil {
		t.Fatalf("the same query twice in a snapshot, once prepared: %v", err)
	}
}

// TestCloseWithBusyReaders closes the database while every reader
// connection is held by a snapshot and a new text waits to be prepared on
// that pool: Close must not wait for the snapshots.
func TestCloseWithBusyReaders(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, "sqlite", sqldb.Options{})
	ctx := t.Context()
	held := make(chan struct{})
	release := make(chan struct{})
	readers := 2 * runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			_ = db.Snapshot(ctx, func(tx storage.Tx) error {
				if i == 0 {
					// A text never seen: its preparation waits for a reader.
					_ = sqldb.RowOnce(ctx, tx, "SELECT 1 WHERE 1 = ?", 1)
				}
				held <- struct{}{}
				<-release
				return nil
			})
		})
	}
	for range readers {
		<-held
	}
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Error("Close waited for the snapshots holding every reader")
	}
	close(release)
	wg.Wait()
}
