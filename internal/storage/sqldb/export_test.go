package sqldb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kopilka/kopilka/internal/storage"
)

// Writer returns the writer pool, so tests can try raw SQL that no
// storage method issues.
func Writer(db *DB) *sql.DB { return db.w }

// QueueLen reports how many writes wait for the group committers.
func QueueLen(db *DB) int {
	n := 0
	for _, q := range db.queues {
		n += len(q)
	}
	return n
}

// SQLTx returns what runs a storage.Tx's statements (a *sql.Tx for
// writes), to tell which writes shared a transaction.
func SQLTx(tx storage.Tx) any { return tx.(*Tx).q }

// CheckDurability runs the durability guard of the dialect on db.
func CheckDurability(ctx context.Context, dialect string, db *sql.DB) error {
	switch dialect {
	case "sqlite":
		return sqliteDialect{}.checkDurability(ctx, db)
	case "postgres":
		return postgres{}.checkDurability(ctx, db)
	}
	return fmt.Errorf("unknown dialect %q", dialect)
}
