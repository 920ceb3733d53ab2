package sqldb_test

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// checkMigrationPairs reports an error unless both dialects hold the same
// migration file names, each named NNNN_name.sql and numbered 1, 2, 3 …
func checkMigrationPairs(sqliteNames, postgresNames []string) error {
	var problems []string
	for dialect, names := range map[string][]string{"sqlite": sqliteNames, "postgres": postgresNames} {
		if len(names) == 0 {
			problems = append(problems, dialect+" has no migrations")
		}
		for i, n := range names {
			m := migrationName.FindStringSubmatch(n)
			if m == nil {
				problems = append(problems, fmt.Sprintf("%s/%s is not named NNNN_name.sql", dialect, n))
				continue
			}
			if v, _ := strconv.Atoi(m[1]); v != i+1 {
				problems = append(problems, fmt.Sprintf("%s/%s is number %d in order, want %04d", dialect, n, i+1, v))
			}
		}
	}
	for _, n := range sqliteNames {
		if !slices.Contains(postgresNames, n) {
			problems = append(problems, "sqlite/"+n+" has no postgres pair")
		}
	}
	for _, n := range postgresNames {
		if !slices.Contains(sqliteNames, n) {
			problems = append(problems, "postgres/"+n+" has no sqlite pair")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("migrations: %s", strings.Join(problems, "; "))
	}
	return nil
}

func migrationFiles(t *testing.T, dialect string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("migrations", dialect))
	if err != nil {
		t.Fatalf("read migrations: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		b, err := os.ReadFile(filepath.Join("migrations", dialect, e.Name()))
		if err != nil {
			t.Fatalf("read %s: %v", e.Name(), err)
		}
		if !strings.HasPrefix(string(b), "-- +goose Up") {
			t.Errorf("%s/%s does not start with -- +goose Up", dialect, e.Name())
		}
	}
	return names // os.ReadDir sorts by name
}

// TestMigrationPairs checks STYLE rule 10: migrations/sqlite and
// migrations/postgres hold the same numbered files.
func TestMigrationPairs(t *testing.T) {
	t.Parallel()
	if err := checkMigrationPairs(migrationFiles(t, "sqlite"), migrationFiles(t, "postgres")); err != nil {
		t.Error(err)
	}
}

// TestCheckMigrationPairsRefuses is the checker's negative control.
func TestCheckMigrationPairsRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		sqlite, postgres []string
	}{
		{"MissingPair", []string{"0001_core.sql", "0002_cards.sql"}, []string{"0001_core.sql"}},
		{"RenamedPair", []string{"0001_core.sql", "0002_cards.sql"}, []string{"0001_core.sql", "0002_card.sql"}},
		{"Gap", []string{"0001_core.sql", "0003_cards.sql"}, []string{"0001_core.sql", "0003_cards.sql"}},
		{"BadName", []string{"0001_core.sql", "2_cards.sql"}, []string{"0001_core.sql", "2_cards.sql"}},
		{"Empty", nil, nil},
	} {
		if err := checkMigrationPairs(tc.sqlite, tc.postgres); err == nil {
			t.Errorf("checkMigrationPairs(%s: %v, %v) = nil, want an error", tc.name, tc.sqlite, tc.postgres)
		}
	}
	if err := checkMigrationPairs([]string{"0001_core.sql", "0002_cards.sql"}, []string{"0001_core.sql", "0002_cards.sql"}); err != nil {
		t.Errorf("checkMigrationPairs(good pairs) = %v, want nil", err)
	}
}

// schema lists a database's "table.column" names and index names, without
// the migration tool's own table and the indexes a primary key makes.
// dialectOnly are the schemas' deliberate differences: the search terms
// are an array under a GIN index on PostgreSQL (migration 0010) and
// documents of an FTS5 index, with the tables it keeps itself, on SQLite
// (0011).
var dialectOnly = map[string][]string{
	"postgres": {"customers.terms", "index customers_terms"},
	"sqlite": {"customers.search_n", "index customers_search_n", "customer_search.terms",
		"customer_search_config.k", "customer_search_config.v", "customer_search_data.block", "customer_search_data.id",
		"customer_search_docsize.id", "customer_search_docsize.origin", "customer_search_docsize.sz",
		"customer_search_idx.pgno", "customer_search_idx.segid", "customer_search_idx.term"},
}

func schema(t *testing.T, db *sqldb.DB) []string {
	t.Helper()
	q := map[string]string{
		"sqlite": `SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name NOT IN ('goose_db_version', 'sqlite_sequence')
UNION ALL SELECT 'index ' || name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`,
		"postgres": `SELECT table_name || '.' || column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'
UNION ALL SELECT 'index ' || indexname FROM pg_indexes
WHERE schemaname = current_schema() AND indexname NOT LIKE '%_pkey' AND tablename <> 'goose_db_version'`,
	}[db.Dialect()]
	rows, err := sqldb.Writer(db).QueryContext(t.Context(), q)
	if err != nil {
		t.Fatalf("%s schema: %v", db.Dialect(), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("scan: %v", err)
		}
		if !slices.Contains(dialectOnly[db.Dialect()], s) {
			out = append(out, s)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	slices.Sort(out)
	return out
}

// TestMigrationsSameSchema: after all migrations both dialects have the
// same tables, columns and indexes.
func TestMigrationsSameSchema(t *testing.T) {
	t.Parallel()
	pg := schema(t, storagetest.Open(t, "postgres", sqldb.Options{Keys: storagetest.Keys()}))
	lite := schema(t, storagetest.Open(t, "sqlite", sqldb.Options{Keys: storagetest.Keys()}))
	if len(lite) < 10 {
		t.Fatalf("sqlite schema = %v, want the core tables", lite)
	}
	if d := cmp.Diff(pg, lite); d != "" {
		t.Errorf("schemas differ (-postgres +sqlite):\n%s", d)
	}
}

// TestMigrationsReopen: opening a migrated database again applies nothing
// new and keeps its rows.
func TestMigrationsReopen(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			u := storagetest.URL(t, dialect)
			id := kopilka.NewID("ten")
			for i := range 2 {
				db, err := sqldb.Open(ctx, u, sqldb.Options{Keys: storagetest.Keys()})
				if err != nil {
					t.Fatalf("Open #%d: %v", i+1, err)
				}
				if i == 0 {
					err = db.Write(ctx, func(tx storage.Tx) error { return tx.CreateTenant(ctx, &kopilka.Tenant{ID: id, Name: "t"}) })
				} else {
					err = db.Read(ctx, func(tx storage.Tx) error { _, err := tx.GetTenant(ctx, id); return err })
				}
				if err != nil {
					t.Errorf("Open #%d: tenant: %v", i+1, err)
				}
				var versions int
				if err := sqldb.Writer(db).QueryRowContext(ctx, "SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0").Scan(&versions); err != nil {
					t.Errorf("count versions: %v", err)
				} else if want := len(migrationFiles(t, dialect)); versions != want {
					t.Errorf("Open #%d: %d migrations recorded, want %d", i+1, versions, want)
				}
				db.Close()
			}
		})
	}
}

// seedAt migrates the database at url (a file on SQLite) to version and
// runs seed there: where a data migration's test starts. The database is
// closed with the test.
func seedAt(t *testing.T, dialect, url string, version int64, seed string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", url
	if dialect == "sqlite" {
		driver, dsn = "sqlite", "file:"+url
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if err := sqldb.MigrateTo(t.Context(), dialect, raw, version); err != nil {
		t.Fatalf("migrate to %d: %v", version, err)
	}
	if _, err := raw.ExecContext(t.Context(), seed); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return raw
}

// TestMigrationTermsArray is the data migrations 0010 and 0011 of
// PostgreSQL: the rows of customer_terms become each customer's terms
// array, tag terms bound to their tenant, and the table goes; then the
// e-mail's blind index joins the terms and its own index goes.
func TestMigrationTermsArray(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := storagetest.URL(t, "postgres")
	// pii_key set: rows sealed already, which Open leaves alone.
	raw := seedAt(t, "postgres", u, 9, `INSERT INTO customers (tenant_id, id, kind, created_at, updated_at, pii_key) VALUES
 ('ten_a', 'cus_1', 'individual', 1, 1, 'k'), ('ten_a', 'cus_2', 'individual', 1, 1, 'k'),
 ('ten_b', 'cus_3', 'individual', 1, 1, 'k');
UPDATE customers SET email_bidx = 'mail' WHERE id IN ('cus_2', 'cus_3');
INSERT INTO customer_terms (tenant_id, term, customer_id) VALUES
 ('ten_a', 't:vip', 'cus_1'), ('ten_a', 'n:abc', 'cus_1'), ('ten_b', 't:vip', 'cus_3'), ('ten_b', 'n:abc', 'cus_3')`)
	db, err := sqldb.Open(ctx, u, sqldb.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatalf("Open (migration 10): %v", err)
	}
	defer db.Close()
	const assert = `SELECT string_agg(id || '=' || array_to_string(terms, '|'), ' ' ORDER BY id),
 to_regclass('customer_terms') IS NULL AND to_regclass('customers_email_bidx') IS NULL FROM customers`
	var got string
	var dropped bool
	if err := raw.QueryRowContext(ctx, assert).Scan(&got, &dropped); err != nil {
		t.Fatalf("assert: %v", err)
	}
	if want := "cus_1=n:abc|t:ten_a:vip cus_2=e:mail cus_3=n:abc|t:ten_b:vip|e:mail"; got != want {
		t.Errorf("terms after the migration: %q, want %q", got, want)
	}
	if !dropped {
		t.Error("customer_terms or customers_email_bidx is still there")
	}
}

// TestMigrationCustomerSearch is the data migration 0011 of SQLite: the
// rows of customer_terms and the e-mails' blind indexes become a document
// per customer in the FTS5 index customer_search, numbered by the new
// customers.search_n, tag terms bound to their tenant, and the table and
// the e-mail index go.
func TestMigrationCustomerSearch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := storagetest.URL(t, "sqlite")
	// pii_key set: rows sealed already, which Open leaves alone.
	seedAt(t, "sqlite", path, 10, `INSERT INTO customers (tenant_id, id, kind, created_at, updated_at, pii_key) VALUES
 ('ten_a', 'cus_1', 'individual', 1, 1, 'k'), ('ten_a', 'cus_2', 'individual', 2, 2, 'k'),
 ('ten_b', 'cus_3', 'individual', 3, 3, 'k');
UPDATE customers SET email_bidx = 'Ma-il_x' WHERE id IN ('cus_2', 'cus_3');
INSERT INTO customer_terms (tenant_id, term, customer_id) VALUES
 ('ten_a', 't:vip', 'cus_1'), ('ten_a', 'n:aB-c_d', 'cus_1'), ('ten_b', 't:vip', 'cus_3'), ('ten_b', 'n:aB-c_d', 'cus_3'),
 ('ten_a', 't:новый клиент', 'cus_2')`).Close()
	db, err := sqldb.Open(ctx, path, sqldb.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatalf("Open (migration 11): %v", err)
	}
	defer db.Close()
	const assert = `SELECT COALESCE((SELECT group_concat(id, ' ') FROM (SELECT c.id FROM customers c
  WHERE c.search_n IN (SELECT rowid FROM customer_search WHERE customer_search MATCH $1) ORDER BY c.id)), ''),
 (SELECT count(DISTINCT search_n) FROM customers),
 (SELECT count(*) FROM sqlite_master WHERE name IN ('customer_terms', 'customers_email_bidx'))`
	for _, tc := range []struct{ match, want string }{
		{`"naB-c_d"`, "cus_1 cus_3"},
		{`"t` + strings.ToUpper(hex.EncodeToString([]byte("ten_a:vip"))) + `"`, "cus_1"},
		{`"t` + strings.ToUpper(hex.EncodeToString([]byte("ten_b:vip"))) + `"`, "cus_3"},
		{`"nab-c_d" AND "t` + hex.EncodeToString([]byte("ten_b:vip")) + `"`, "cus_3"},
		{`"eMa-il_x"`, "cus_2 cus_3"},
		{`"eMa-il_x" AND "naB-c_d"`, "cus_3"},
	} {
		var got string
		var numbered, left int
		if err := sqldb.Writer(db).QueryRowContext(ctx, assert, tc.match).Scan(&got, &numbered, &left); err != nil {
			t.Fatalf("assert %s: %v", tc.match, err)
		}
		if got != tc.want {
			t.Errorf("customers matching %s after the migration: %q, want %q", tc.match, got, tc.want)
		}
		if numbered != 3 || left != 0 {
			t.Errorf("after the migration: %d distinct search_n (want 3), %d of customer_terms and customers_email_bidx (want 0)", numbered, left)
		}
	}
	// The storage's own search finds the migrated tag terms, so the
	// migration and searchToken agree on their form.
	for tenant, want := range map[string]string{"ten_a": "cus_2", "ten_b": ""} {
		err := db.Read(ctx, func(tx storage.Tx) error {
			found, err := tx.SearchCustomers(ctx, tenant, storage.CustomerSearch{Tag: "Новый клиент", Limit: 10})
			var got []string
			for _, c := range found {
				got = append(got, c.ID)
			}
			if strings.Join(got, " ") != want {
				t.Errorf("%s: SearchCustomers(tag) = %v, want %q", tenant, got, want)
			}
			return err
		})
		if err != nil {
			t.Fatalf("%s: search: %v", tenant, err)
		}
	}
}

// TestMigrationCollateC is migration 0012 of PostgreSQL: every text
// column, arrays of text too, compares as bytes; the rows stay and the
// unique keys still refuse a duplicate.
func TestMigrationCollateC(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := storagetest.URL(t, "postgres")
	seedAt(t, "postgres", u, 11, `INSERT INTO customers (tenant_id, id, kind, created_at, updated_at, pii_key, terms) VALUES
 ('ten_a', 'cus_b', 'individual', 1, 1, 'k', '{n:x}'), ('ten_a', 'cus_A', 'individual', 2, 2, 'k', '{n:y}')`).Close()
	db, err := sqldb.Open(ctx, u, sqldb.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatalf("Open (migration 12): %v", err)
	}
	defer db.Close()
	w := sqldb.Writer(db)
	var texts int
	var other string
	if err := w.QueryRowContext(ctx, `SELECT count(*), COALESCE(string_agg(table_name || '.' || column_name || ' ' ||
 COALESCE(collation_name, 'default'), ', ') FILTER (WHERE collation_name IS DISTINCT FROM 'C'), '')
FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'
 AND (data_type = 'text' OR (data_type = 'ARRAY' AND udt_name = '_text'))`).Scan(&texts, &other); err != nil {
		t.Fatal(err)
	}
	if texts < 100 || other != "" {
		t.Errorf("after the migration: %d text columns, these not in collation C: %q", texts, other)
	}
	var ids string
	if err := w.QueryRowContext(ctx, `SELECT string_agg(id, ' ' ORDER BY id) FROM customers WHERE terms @> '{n:y}' OR terms @> '{n:x}'`).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if ids != "cus_A cus_b" {
		t.Errorf("customers in id order after the migration: %q, want %q (bytes)", ids, "cus_A cus_b")
	}
	_, err = w.ExecContext(ctx, `INSERT INTO customers (tenant_id, id, kind, created_at, updated_at, pii_key) VALUES ('ten_a', 'cus_b', 'individual', 3, 3, 'k')`)
	if err == nil || !strings.Contains(err.Error(), "customers_pkey") {
		t.Errorf("a duplicate customer after the migration: %v, want the primary key's refusal", err)
	}
}
