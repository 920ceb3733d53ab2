package e2e_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// The personal data of TestPIIAtRest: distinctive enough that any
// occurrence in a dump or a log is theirs.
var piiMarkers = struct {
	phone, phoneTyped, extra, email, newEmail, last, first, middle, birth, importPhone, importEmail string
}{
	phone: "+79165551729", phoneTyped: "+7 916 555-17-29", extra: "+79037770418", email: "s11.marker.zx@example.org",
	newEmail: "s11.second.qv@example.org", last: "Зорькина", first: "Эльвира", middle: "Аркадьевна", birth: "1987-03-14",
	importPhone: "+79265550934", importEmail: "s11.import.kw@example.org",
}

// needles are the strings a dump or a log must not hold: each marker,
// the phones also without their "+", and (for PostgreSQL's bytea dumps)
// hex forms.
func piiNeedles() []string {
	m := piiMarkers
	base := []string{m.phone, m.phone[1:], m.extra[1:], m.email, m.newEmail, m.last, m.first, m.middle, m.birth,
		m.importPhone[1:], m.importEmail, "9165551729"}
	out := append([]string{}, base...)
	for _, n := range base {
		out = append(out, hex.EncodeToString([]byte(n)))
	}
	return out
}

// found lists the needles that occur in hay.
func found(hay []byte, needles []string) []string {
	var out []string
	for _, n := range needles {
		if bytes.Contains(bytes.ToLower(hay), bytes.ToLower([]byte(n))) {
			out = append(out, n)
		}
	}
	return out
}

// TestPIIAtRest is RELIABILITY S11: personal data given through the API
// (creation, a change, a lookup by phone, an idempotent retry, a purchase
// by phone, an import with a bad row quoting a phone) is nowhere in a
// dump of the database nor in the server's log (at debug level, every
// request logged); the API still reads it back, finds the customer by
// phone, e-mail and name, and refuses a duplicate phone. The negative
// control writes one value in clear and the same dump finds it.
func TestPIIAtRest(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, d, "--log-level", "debug")
			ten := s.tenant(t, "S11")
			m := piiMarkers
			idem := map[string]string{"Idempotency-Key": newKey()}
			body := map[string]any{"phone": m.phoneTyped, "extra_phone": m.extra, "email": m.email, "last_name": m.last,
				"first_name": m.first, "middle_name": m.middle, "birth_date": m.birth, "card": "S11-0001"}
			r := s.do(t, "POST", "/v1/customers", ten.Key, body, idem)
			r.want(t, "POST /v1/customers", http.StatusCreated, "")
			var c customer
			r.decode(t, &c)
			if again := s.do(t, "POST", "/v1/customers", ten.Key, body, idem); again.Status != http.StatusCreated || !bytes.Equal(again.Body, r.Body) {
				t.Errorf("idempotent retry = %d %s, want the first answer", again.Status, again.Body)
			}
			s.do(t, "POST", "/v1/customers", ten.Key, map[string]any{"phone": m.phone}, nil).
				want(t, "a duplicate phone", http.StatusConflict, "conflict")
			s.do(t, "PATCH", "/v1/customers/"+c.ID, ten.Key, map[string]any{"email": m.newEmail}, nil).
				want(t, "PATCH email", http.StatusOK, "")

			r = s.do(t, "GET", "/v1/customers?phone="+url.QueryEscape(m.phone), ten.Key, nil, nil)
			r.want(t, "GET by phone", http.StatusOK, "")
			var got map[string]any
			r.decode(t, &got)
			if got["id"] != c.ID || got["phone"] != m.phone || got["email"] != m.newEmail || got["last_name"] != m.last ||
				got["birth_date"] != m.birth || got["extra_phone"] != m.extra {
				t.Errorf("GET by phone = %s, want the customer's data read back", r.Body)
			}
			var hist struct {
				Items []map[string]any `json:"items"`
			}
			s.do(t, "GET", "/v1/customers/"+c.ID+"/history", ten.Key, nil, nil).decode(t, &hist)
			if len(hist.Items) == 0 || hist.Items[0]["old_value"] != m.email || hist.Items[0]["new_value"] != m.newEmail {
				t.Errorf("history = %+v, want the e-mail change read back", hist.Items)
			}
			store := s.newStore(t, ten.Key, "S11 shop")
			s.do(t, "POST", "/v1/purchases", ten.Key, purchaseBody(store.ID, map[string]string{"phone": m.phone}, "S11-1", true), nil).
				want(t, "a purchase by phone", http.StatusCreated, "")
			imp := s.newImport(t, ten.Key, customersHeader+"\nS11-E1,"+m.importPhone+",,,,"+m.importEmail+",,,,,,\n"+
				"S11-E2,"+m.importPhone+",,,,,,,,,,\n")
			if imp.Status != "failed" || len(imp.Errors) == 0 || !strings.Contains(imp.Errors[0].Message, m.importPhone) {
				t.Errorf("import with a repeated phone = %+v, want failed, its error quoting the phone", imp)
			}
			if imp = s.newImport(t, ten.Key, customersHeader+"\nS11-E1,"+m.importPhone+",,,,"+m.importEmail+",,,,,,\n"); imp.Status != "done" {
				t.Errorf("import = %+v, want done", imp)
			}

			if leaks := found(dumpDB(t, s), piiNeedles()); len(leaks) > 0 {
				t.Errorf("the %s database holds in clear: %q", d, leaks)
			}
			if leaks := found([]byte(s.log.String()), piiNeedles()); len(leaks) > 0 {
				t.Errorf("the server's log holds in clear: %q", leaks)
			}
			if !strings.Contains(s.log.String(), `"msg":"request"`) {
				t.Errorf("the log has no request lines: the log check saw nothing (log level?)")
			}

			// Negative control: one value written in clear is found by
			// the same dump and grep.
			db := s.openDB(t)
			if _, err := db.ExecContext(context.Background(), "UPDATE customers SET middle_name = "+s.ph(1)+" WHERE id = "+s.ph(2),
				m.middle, c.ID); err != nil {
				t.Fatalf("write a clear value: %v", err)
			}
			if leaks := found(dumpDB(t, s), []string{m.middle}); len(leaks) != 1 {
				t.Errorf("negative control: a name written in clear, the dump finds %q; want it found", leaks)
			}
		})
	}
}

// dumpDB returns every byte the database holds: the SQLite file with its
// WAL, or pg_dump of the test schema (when pg_dump is missing, the text
// of every column of every table).
func dumpDB(t *testing.T, s *server) []byte {
	t.Helper()
	if s.dialect == "sqlite" {
		var all []byte
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(s.db + suffix)
			if err != nil && suffix == "" {
				t.Fatalf("read the database file: %v", err)
			}
			all = append(all, b...)
		}
		return all
	}
	u, err := url.Parse(s.db)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	if path, err := exec.LookPath("pg_dump"); err == nil {
		out, err := exec.Command(path, "--schema="+schema, "--no-owner", u.String()).Output()
		if err == nil && bytes.Contains(out, []byte("CREATE TABLE")) {
			return out
		}
		t.Logf("pg_dump failed (%v); reading every column instead", err)
	}
	return selectAll(t, s, schema)
}

// selectAll reads the text of every column of every table of schema.
func selectAll(t *testing.T, s *server, schema string) []byte {
	t.Helper()
	db := s.openDB(t)
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT table_name, string_agg(quote_ident(column_name) || '::text', ' || '' '' || ')
FROM information_schema.columns WHERE table_schema = $1 GROUP BY table_name`, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var all bytes.Buffer
	type tab struct{ name, expr string }
	var tabs []tab
	for rows.Next() {
		var tb tab
		if err := rows.Scan(&tb.name, &tb.expr); err != nil {
			t.Fatal(err)
		}
		tabs = append(tabs, tb)
	}
	for _, tb := range tabs {
		rs, err := db.QueryContext(ctx, fmt.Sprintf("SELECT COALESCE(%s, '') FROM %s", tb.expr, tb.name))
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var line string
			if err := rs.Scan(&line); err != nil {
				t.Fatal(err)
			}
			all.WriteString(line + "\n")
		}
		rs.Close()
	}
	return all.Bytes()
}
