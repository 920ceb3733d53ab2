package sqldb

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxCachedStmts bounds the statements a cache keeps; texts beyond it
// (queries built with a varying number of placeholders) run unprepared.
const maxCachedStmts = 2048

// stmtCache keeps statements prepared on one pool, by text. The modernc
// SQLite driver parses a statement's text on every run unless it is
// prepared, and parsing took a third of the server's CPU in a
// calculation; pgx caches prepared statements per connection itself.
//
// Preparing needs a connection of the pool, and a writer inside its
// transaction holds SQLite's only writer connection: waiting for one there
// would wait forever. So a text seen for the first time is prepared in
// the background, once a connection is free, and runs unprepared
// meanwhile.
type stmtCache struct {
	pool *sql.DB
	m    sync.Map // text → *sql.Stmt, nil while being prepared
	// n counts the texts kept; callers racing past the bound may add a
	// few more, which is harmless.
	n         atomic.Int32
	preparing sync.WaitGroup
	mu        sync.Mutex // guards closed and stop against a prepare starting after close
	closed    bool
	// ctx ends the preparations waiting for a connection when the cache
	// closes: the pool may be busy for long (an export's snapshot).
	ctx  context.Context
	stop context.CancelFunc
}

func newStmtCache(pool *sql.DB) *stmtCache {
	ctx, stop := context.WithCancel(context.Background())
	return &stmtCache{pool: pool, ctx: ctx, stop: stop}
}

// get returns text prepared on the pool, or nil when it is not (yet).
func (c *stmtCache) get(text string) *sql.Stmt {
	if s, ok := c.m.Load(text); ok {
		return s.(*sql.Stmt)
	}
	if c.n.Load() >= maxCachedStmts {
		return nil
	}
	if _, loaded := c.m.LoadOrStore(text, (*sql.Stmt)(nil)); loaded {
		return nil
	}
	c.n.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.preparing.Go(func() {
		s, err := c.pool.PrepareContext(c.ctx, text)
		if err != nil {
			// A bad text (its unprepared runs report it) or a cache closing:
			// the text stays unprepared, and is not tried again.
			return
		}
		c.m.Store(text, s)
	})
	return nil
}

// close waits for the statements being prepared and closes them all.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.stop()
	c.mu.Unlock()
	c.preparing.Wait()
	c.m.Range(func(_, s any) bool {
		if s := s.(*sql.Stmt); s != nil {
			s.Close()
		}
		return true
	})
}

// stmt returns the transaction's statement for text when it can run
// prepared: on SQLite, on the reader pool, the reader's snapshot or the
// writer's transaction. nil: run the text itself. rows: the caller keeps
// the result's rows open while it may run more. SQLite keeps one compiled
// statement per text and connection, which a transaction's second run of
// the same text would need while the first's rows are open; so a
// transaction's row-returning queries run unprepared (the pool gives a
// second run another connection).
func (tx *Tx) stmt(ctx context.Context, text string, rows bool) *sql.Stmt {
	if tx.db.rstmts == nil {
		return nil
	}
	switch q := tx.q.(type) {
	case *sql.DB:
		return tx.db.rstmts.get(text)
	case *sql.Tx:
		if rows {
			return nil
		}
		c := tx.db.wstmts
		if tx.reader {
			c = tx.db.rstmts
		}
		if s := c.get(text); s != nil {
			return q.StmtContext(ctx, s)
		}
	}
	return nil
}
