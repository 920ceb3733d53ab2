// Package sqldb is the one SQL implementation of storage.DB, for SQLite
// (modernc.org/sqlite, the embedded default) and PostgreSQL (pgx). Queries
// are written once in PostgreSQL's $N style; dialect.go holds the few real
// differences. Writes go through a group committer: concurrent writes share
// one database transaction, each inside its own savepoint, so one fsync
// serves many operations while each stays atomic on its own.
//
// SQLite has a single writer connection (WAL, synchronous=FULL, immediate
// transactions) and a pool of readers. PostgreSQL uses READ COMMITTED with
// row locks on the customer row, and several committers in parallel.
package sqldb

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/crc64"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/kopilka/kopilka/internal/pii"
	"github.com/kopilka/kopilka/internal/storage"
)

//go:embed migrations
var migrations embed.FS

// Options tune a database.
type Options struct {
	// Committers is the number of parallel group committers (PostgreSQL;
	// SQLite always has one). 0 picks the default.
	Committers int
	// MaxBatch bounds the writes one transaction carries. 0: 32. On
	// PostgreSQL every write is a subtransaction (a savepoint), and more
	// than 64 in one transaction overflow each backend's subtransaction
	// cache, which slows every snapshot on the server: keep it below 64.
	MaxBatch int
	// CommitDelay is how long a committer waits for more writes before it
	// starts a batch, while another committer is busy. 0 picks the
	// default (500µs); negative turns it off.
	CommitDelay time.Duration
	// NoBatch turns group commit off: every write is its own transaction.
	NoBatch bool
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Logger receives migration and retry notes; nil discards them.
	Logger *slog.Logger
	// Keys seal customers' personal data at rest and make its blind
	// indexes (RELIABILITY S11); required. The database refuses a ring
	// whose index key is not the one it was created with.
	Keys *pii.Ring
	// Bulk opens the database for a bulk load (the import command). On
	// SQLite the writer then checkpoints its log every bulkCheckpoint
	// pages rather than every 1,000: each chunk of an import rewrites
	// pages all over the indexes, and every checkpoint copied them all to
	// the database file again. A server keeps SQLite's default, whose
	// checkpoints are short pauses between its writes.
	Bulk bool
	// SkipDurabilityCheck lets tests open a database whose fsync settings
	// would refuse a server start. Never set it in production.
	SkipDurabilityCheck bool
}

// DB is a storage.DB over SQLite or PostgreSQL.
type DB struct {
	d      dialect
	keys   *pii.Ring
	w      *sql.DB // writer pool (one connection on SQLite)
	r      *sql.DB // reader pool
	clock  func() time.Time
	log    *slog.Logger
	opts   Options
	queues []chan *job // one per committer
	rr     atomic.Uint64
	busy   atomic.Int64
	// wstmts and rstmts keep statements prepared on the writer and the
	// reader pool (SQLite; nil on PostgreSQL).
	wstmts, rstmts *stmtCache
	// searchWalk is how many customers with a search's terms SQLite
	// fetches and sorts itself, beyond which it walks the customers
	// (searchDriveMax; below zero, always the walk: SearchByWalk).
	searchWalk int
	copyPlans  copyPlans // PostgreSQL's bulk inserts (copyRows)
	wg         sync.WaitGroup
	mu         sync.RWMutex
	closed     bool
}

var _ storage.DB = (*DB)(nil)

type job struct {
	ctx  context.Context
	fn   func(storage.Tx) error
	done chan error
	// tenant and customer name the customer the write will lock by id,
	// when the caller said (storage.WithCustomer); lots: it will read the
	// customer's active lots too.
	tenant, customer string
	lots             bool
	// ref is the purchase reference the write will look up, if it said
	// (storage.WithPurchaseRef).
	ref *storage.PurchaseRef
}

// Open opens the database named by url: a postgres:// or postgresql:// URL
// for PostgreSQL, otherwise a SQLite file path (optionally "sqlite:PATH";
// empty means ./kopilka.db). It applies the embedded migrations and checks
// the durability settings (RELIABILITY D4).
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBatch <= 0 || opts.MaxBatch > 60 {
		opts.MaxBatch = 32
	}
	if opts.CommitDelay == 0 {
		opts.CommitDelay = 500 * time.Microsecond
	}
	if opts.Keys == nil {
		return nil, errors.New("no personal-data key ring (Options.Keys)")
	}
	db := &DB{clock: opts.Clock, log: opts.Logger, opts: opts, keys: opts.Keys, searchWalk: searchDriveMax}
	var err error
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		err = db.openPostgres(url)
	} else {
		err = db.openSQLite(strings.TrimPrefix(url, "sqlite:"))
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.closePools()
		return nil, err
	}
	if err := db.checkKeys(ctx); err != nil {
		db.closePools()
		return nil, err
	}
	if !opts.SkipDurabilityCheck {
		if err := db.d.checkDurability(ctx, db.w); err != nil {
			db.closePools()
			return nil, err
		}
	}
	db.start()
	if err := db.sealLegacy(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("seal personal data written before sealing: %w", err)
	}
	return db, nil
}

// Warm opens the PostgreSQL sessions a server will need now rather than
// under its first load (a new session costs the database a process
// start). Servers call it; short commands and tests do not, so that many
// databases open at once stay inside max_connections.
func (db *DB) Warm(ctx context.Context) {
	if db.d.name() != "postgres" {
		return
	}
	warm(ctx, db.w, db.d.committers(db.opts.Committers))
	warm(ctx, db.r, 8)
}

// warm opens n connections of pool at once and leaves them idle.
func warm(ctx context.Context, pool *sql.DB, n int) {
	conns := make([]*sql.Conn, 0, n)
	for range n {
		c, err := pool.Conn(ctx)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		_ = c.PingContext(ctx)
		_ = c.Close()
	}
}

func (db *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+db.d.name())
	if err != nil {
		return err
	}
	var opts []goose.ProviderOption
	if db.d.name() == "postgres" {
		// Several server processes may start at once on one database: a
		// session-level advisory lock, one per schema, lets one migrate.
		var schema string
		if err := db.w.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		id := int64(crc64.Checksum([]byte("kopilka migrations "+schema), crc64.MakeTable(crc64.ECMA)) >> 1)
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 120))
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(db.d.gooseDialect(), db.w, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range res {
		db.log.Info("migration applied", "version", r.Source.Version, "path", r.Source.Path)
	}
	return nil
}

func (db *DB) start() {
	n := db.d.committers(db.opts.Committers)
	db.queues = make([]chan *job, n)
	for i := range db.queues {
		q := make(chan *job, 1024)
		db.queues[i] = q
		db.wg.Go(func() { db.commitLoop(q) })
	}
}

// Dialect names the database kind.
func (db *DB) Dialect() string { return db.d.name() }

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return db.r.PingContext(ctx)
}

// Close stops the committers after the queued writes and closes the pools.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	for _, q := range db.queues {
		close(q)
	}
	db.mu.Unlock()
	db.wg.Wait()
	return db.closePools()
}

func (db *DB) closePools() error {
	for _, c := range []*stmtCache{db.wstmts, db.rstmts} {
		if c != nil {
			c.close()
		}
	}
	return errors.Join(db.w.Close(), db.r.Close())
}

// Read runs fn's queries straight on the reader pool, each on committed
// data, with no transaction round trips.
func (db *DB) Read(ctx context.Context, fn func(storage.Tx) error) error {
	return fn(&Tx{db: db, q: db.r, now: db.now()})
}

// Snapshot runs fn in a read-only transaction over one snapshot.
func (db *DB) Snapshot(ctx context.Context, fn func(storage.Tx) error) error {
	sqlTx, err := db.r.BeginTx(ctx, db.d.readTxOptions())
	if err != nil {
		return db.d.mapErr(fmt.Errorf("begin read: %w", err))
	}
	defer sqlTx.Rollback() //nolint:errcheck // read-only: nothing to keep
	tx := &Tx{db: db, q: sqlTx, now: db.now(), reader: true}
	if err := fn(tx); err != nil {
		return err
	}
	return db.d.mapErr(sqlTx.Commit())
}

func (db *DB) now() time.Time { return db.clock().UTC().Truncate(time.Microsecond) }

// Write queues fn for the group committer and waits for its outcome.
func (db *DB) Write(ctx context.Context, fn func(storage.Tx) error) error {
	j := &job{ctx: context.WithoutCancel(ctx), fn: fn, done: make(chan error, 1)}
	j.tenant, j.customer, j.lots = storage.CustomerFrom(ctx)
	if ref, ok := storage.PurchaseRefFrom(ctx); ok {
		j.ref = &ref
	}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return fmt.Errorf("database is closed: %w", storage.ErrRetry)
	}
	if db.opts.NoBatch {
		db.mu.RUnlock()
		return db.runAlone(j)
	}
	select {
	case db.queue(ctx) <- j:
	case <-ctx.Done():
		db.mu.RUnlock()
		return ctx.Err()
	}
	db.mu.RUnlock()
	return <-j.done
}

// queue picks the committer for a write: by its storage key, so writes of
// one customer meet in one committer and never wait on each other's row
// locks across open batches; round robin when there is no key.
func (db *DB) queue(ctx context.Context) chan *job {
	n := uint64(len(db.queues))
	if n == 1 {
		return db.queues[0]
	}
	if key := storage.KeyFrom(ctx); key != "" {
		h := fnv.New64a()
		h.Write([]byte(key))
		return db.queues[h.Sum64()%n]
	}
	return db.queues[db.rr.Add(1)%n]
}

func (db *DB) commitLoop(queue chan *job) {
	for j := range queue {
		batch := []*job{j}
		// While another committer is busy the database is loaded: wait a
		// moment for more writes, so that they share this transaction (as
		// PostgreSQL's commit_delay does for its own commits). An idle
		// database starts at once.
		var deadline time.Time
		if db.opts.CommitDelay > 0 && db.busy.Load() > 0 {
			deadline = time.Now().Add(db.opts.CommitDelay)
		}
	fill:
		for len(batch) < db.opts.MaxBatch {
			select {
			case more, ok := <-queue:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			default:
				if !deadline.IsZero() && time.Now().Before(deadline) {
					time.Sleep(20 * time.Microsecond)
					continue
				}
				break fill
			}
		}
		db.busy.Add(1)
		if len(batch) == 1 {
			j.done <- db.runAlone(j)
		} else {
			db.runBatch(batch)
		}
		db.busy.Add(-1)
	}
}

// runAlone runs one write in its own transaction, retrying serialization
// failures and deadlocks with a short back-off.
func (db *DB) runAlone(j *job) error {
	var err error
	for attempt := range 8 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt*attempt) * time.Millisecond)
		}
		err = db.runOnce(j)
		if !errors.Is(err, storage.ErrRetry) {
			return err
		}
		db.log.Debug("write retried", "attempt", attempt+1, "err", err)
	}
	return err
}

// beginWrite starts a write transaction. On PostgreSQL it holds its
// connection itself (conn), so that bulk writes can COPY on it (see
// copyRows); release hands the connection back, once the transaction has
// ended.
func (db *DB) beginWrite(ctx context.Context) (sqlTx *sql.Tx, conn *sql.Conn, release func(), err error) {
	if db.d.name() != "postgres" {
		sqlTx, err = db.w.BeginTx(ctx, nil)
		return sqlTx, nil, func() {}, err
	}
	if conn, err = db.w.Conn(ctx); err != nil {
		return nil, nil, nil, err
	}
	if sqlTx, err = conn.BeginTx(ctx, nil); err != nil {
		_ = conn.Close()
		return nil, nil, nil, err
	}
	return sqlTx, conn, func() { _ = conn.Close() }, nil
}

func (db *DB) runOnce(j *job) error {
	sqlTx, conn, release, err := db.beginWrite(j.ctx)
	if err != nil {
		return db.d.mapErr(fmt.Errorf("begin: %w", err))
	}
	defer release()
	tx := &Tx{db: db, q: sqlTx, now: db.now(), conn: conn}
	if err := j.fn(tx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return db.d.mapErr(fmt.Errorf("commit: %w", err))
	}
	return nil
}
