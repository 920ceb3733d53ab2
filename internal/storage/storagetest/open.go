// Package storagetest holds the conformance suite every storage.DB must
// pass and the helpers that give each test a database of its own: a fresh
// SQLite file, or a fresh schema on the PostgreSQL server named by
// KOPILKA_TEST_POSTGRES.
package storagetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for schema set-up

	"github.com/kopilka/kopilka/internal/pii"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
)

// PostgresEnv names the environment variable that holds the URL of a
// PostgreSQL server for tests. When it is empty, PostgreSQL tests skip;
// .ci/run always sets it, so there they run.
const PostgresEnv = "KOPILKA_TEST_POSTGRES"

// Dialects are the databases every shared test runs against.
var Dialects = []string{"sqlite", "postgres"}

// URL returns a database URL of the dialect that belongs to t alone: a new
// SQLite file in t.TempDir(), or a new schema on the test PostgreSQL
// server (dropped when t ends). It skips t for postgres when
// KOPILKA_TEST_POSTGRES is unset.
func URL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return filepath.Join(t.TempDir(), "kopilka.db")
	case "postgres":
		return PostgresURL(t)
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

// PostgresURL makes a fresh schema and returns a URL whose search_path is
// that schema.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a server URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", PostgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Keys is the personal-data key ring of tests: fixed keys, so that a test
// may reopen its database. Never use it outside tests.
func Keys() *pii.Ring {
	data := sha256.Sum256([]byte("kopilka test data key"))
	index := sha256.Sum256([]byte("kopilka test index key"))
	r, err := pii.New("ktest", map[string][]byte{"ktest": data[:]}, index[:])
	if err != nil {
		panic(err) // fixed, valid sizes
	}
	return r
}

// KeyFile writes Keys() as a key file in dir and returns its path, for
// tests that run the program (which reads --pii-keys / KOPILKA_PII_KEYS).
func KeyFile(dir string) (string, error) {
	p := filepath.Join(dir, "kopilka-test.keys")
	return p, pii.Save(p, Keys())
}

// runKeyFile is the key file MainWithKeys made for the test binary.
var runKeyFile string

// MainWithKeys runs a test binary's tests (call it from TestMain) with a
// personal-data key file made for the run, which Getenv hands to the
// programs the tests start; name tells the temporary folder and errors
// apart. It returns the exit code.
func MainWithKeys(m *testing.M, name string) int {
	dir, err := os.MkdirTemp("", "kopilka-"+name+"-")
	if err == nil {
		runKeyFile, err = KeyFile(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	defer os.RemoveAll(dir)
	return m.Run()
}

// Getenv is the environment of a program a test starts: only the key
// file of MainWithKeys (each test has a database of its own; the keys may
// be shared).
func Getenv(name string) string {
	if name == "KOPILKA_PII_KEYS" {
		return runKeyFile
	}
	return ""
}

// Open opens a fresh database of the dialect for t and closes it when t
// ends. Options.Keys defaults to Keys().
func Open(t testing.TB, dialect string, opts sqldb.Options) *sqldb.DB {
	t.Helper()
	if opts.Keys == nil {
		opts.Keys = Keys()
	}
	db, err := sqldb.Open(context.Background(), URL(t, dialect), opts)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
