package sqldb_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// TestCopyRows: PostgreSQL's bulk insert writes each Go type of the
// imports into its column type, NULLs and empty arrays included, and
// refuses a value its column cannot hold, writing nothing.
func TestCopyRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := storagetest.Open(t, "postgres", sqldb.Options{Keys: storagetest.Keys()})
	w := sqldb.Writer(db)
	if _, err := w.ExecContext(ctx, `CREATE TABLE copy_probe (t TEXT, n INTEGER, b BIGINT, h BYTEA, a TEXT[], s TEXT, x BIGINT)`); err != nil {
		t.Fatal(err)
	}
	const cols = "t, n,\n b, h, a, s, x"
	rows := [][]any{
		{"Иванов\tИ.", 7, int64(-1 << 40), []byte{0, 1, 255}, []string{"n:a", "t:ten_1:дети", ""}, sql.NullString{String: "s", Valid: true}, sql.NullInt64{Int64: 5, Valid: true}},
		{"", int64(-2147483648), int64(0), []byte(nil), []string{}, sql.NullString{}, sql.NullInt64{}},
	}
	if err := sqldb.CopyRows(ctx, db, "copy_probe", cols, rows); err != nil {
		t.Fatalf("CopyRows: %v", err)
	}
	q, err := w.QueryContext(ctx, `SELECT t, n, b, COALESCE(encode(h, 'hex'), 'null'), array_to_string(a, '|', 'null') || ' ' || cardinality(a),
 COALESCE(s, 'null'), COALESCE(x::text, 'null') FROM copy_probe ORDER BY n DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var got []string
	for q.Next() {
		var f [7]string
		if err := q.Scan(&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join(f[:], ";"))
	}
	want := []string{
		"Иванов\tИ.;7;-1099511627776;0001ff;n:a|t:ten_1:дети| 3;s;5",
		";-2147483648;0;null; 0;null;null",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rows copied (-want +got):\n%s", d)
	}
	for _, bad := range [][]any{
		{"t", int64(1 << 31), int64(0), nil, []string{}, nil, nil},
		{"t", 1, "not a number", nil, []string{}, nil, nil},
		{"t", 1, int64(0), nil, []string{}, nil},
	} {
		if err := sqldb.CopyRows(ctx, db, "copy_probe", cols, [][]any{rows[0], bad}); err == nil {
			t.Errorf("CopyRows(%v) = nil, want an error", bad)
		}
	}
	var n int
	if err := w.QueryRowContext(ctx, `SELECT count(*) FROM copy_probe`).Scan(&n); err != nil || n != 2 {
		t.Errorf("rows after the refused copies: %d (%v), want 2", n, err)
	}
}
