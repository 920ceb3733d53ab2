package sqldb_test

import (
	"testing"

	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// TestSearchByWalk runs the name and tag searches on SQLite the other
// way: walking the customers newest first, as it does when many match,
// rather than fetching the few that do.
func TestSearchByWalk(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, "sqlite", sqldb.Options{Clock: stepClock()})
	sqldb.SearchByWalk(db)
	storagetest.Search(t, db)
}
