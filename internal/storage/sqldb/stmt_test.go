package sqldb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
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
	deadline := time.Now().Add(30 * time.Second)
	for round := 0; ; round++ {
		if err := f.db.Write(ctx, func(tx storage.Tx) error {
			return f.credit(ctx, tx, c, 100, nil, "")
		}); err != nil {
			t.Fatalf("credit: %v", err)
		}
		want += 100
		if round%3 == 2 {
			if err := f.db.Write(ctx, func(tx storage.Tx) error { return f.debit(ctx, tx, c, 50) }); err != nil {
				t.Fatalf("debit: %v", err)
			}
			want -= 50
		}
		if got := f.available(c); got != want {
			t.Fatalf("round %d: available = %d, want %d", round, got, want)
		}
		f.verify()
		w, r := f.db.PreparedStatements()
		if w > 0 && r > 0 && round >= 5 {
			t.Logf("%d rounds: %d writer and %d reader statements prepared", round+1, w, r)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d rounds %d writer and %d reader statements are prepared; want some of each", round+1, w, r)
		}
		time.Sleep(10 * time.Millisecond) // the background preparation needs the connections free
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
		time.Sleep(10 * time.Millisecond)
	}
}
