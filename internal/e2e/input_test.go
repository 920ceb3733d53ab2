package e2e_test

import (
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/api"
	"github.com/kopilka/kopilka/internal/kopilka"
)

// dumpTables reads every table of the database as text: each value as it
// comes back from the driver, and byte values also in hex.
func (s *server) dumpTables(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if s.dialect == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	out := map[string]string{}
	for _, table := range tables {
		out[table] = dumpTable(t, db, table)
	}
	return out
}

func dumpTable(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM "` + table + `"`)
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				fmt.Fprintf(&sb, "%s=%s|%s\t", cols[i], b, hex.EncodeToString(b))
				continue
			}
			fmt.Fprintf(&sb, "%s=%v\t", cols[i], v)
		}
		sb.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	return sb.String()
}

// TestS3KeysAtRest is RELIABILITY S3: keys carry at least 128 random bits
// behind a visible prefix, and the database keeps only a 32-byte digest:
// a dump of every table holds no plain key and no secret part.
func TestS3KeysAtRest(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "S3")
		st := s.newStore(t, ten.Key, "S3 store")
		plain := []string{ten.Key}
		for _, body := range []map[string]any{
			{"scopes": []string{"admin"}},
			{"scopes": []string{"pos"}, "name": "till"},
			{"scopes": []string{"pos"}, "store_id": st.ID},
			{"scopes": []string{"admin", "pos"}},
		} {
			// With an Idempotency-Key, so that a stored answer (which would
			// hold the plain key) shows up in the dump should one be kept.
			r := s.do(t, "POST", "/v1/api-keys", ten.Key, body, map[string]string{"Idempotency-Key": newKey()})
			r.want(t, "POST /v1/api-keys", http.StatusCreated, "")
			var k apiKey
			r.decode(t, &k)
			plain = append(plain, k.Key)
		}
		seen := map[string]bool{}
		var secrets []string
		for _, k := range plain {
			rest, ok := strings.CutPrefix(k, "kopilka_")
			idPart, secret, ok2 := strings.Cut(rest, "_")
			raw, err := base64.RawURLEncoding.DecodeString(secret)
			if !ok || !ok2 || !kopilka.ValidID("key", "key_"+idPart) || err != nil || len(raw) < 16 {
				t.Errorf("key %q: want kopilka_<id>_<base64url secret of ≥ 16 bytes>; secret decodes to %d bytes (%v)", k, len(raw), err)
			}
			if seen[k] {
				t.Errorf("key %q issued twice", k)
			}
			seen[k] = true
			secrets = append(secrets, secret)
		}
		if r := s.do(t, "GET", "/v1/api-keys", ten.Key, nil, nil); containsAny(string(r.Body), secrets) != "" {
			t.Errorf("GET /v1/api-keys shows a secret: %s", r.Body)
		}

		db := s.openDB(t)
		dump := s.dumpTables(t, db)
		if !strings.Contains(dump["api_keys"], "digest=") || !strings.Contains(dump["tenants"], ten.ID) {
			t.Fatalf("dump misses the api_keys or tenants table: %v", dump)
		}
		for table, text := range dump {
			if x := containsAny(text, append(plain, secrets...)); x != "" {
				t.Errorf("table %s holds the key material %q", table, x)
			}
		}
		// Negative control: the dump search finds a key that is there.
		if containsAny(dump["tenants"]+plain[0], plain) == "" {
			t.Error("containsAny(text with a key) found nothing")
		}

		rows, err := db.Query("SELECT id, digest FROM api_keys")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id string
			var d []byte
			if err := rows.Scan(&id, &d); err != nil {
				t.Fatal(err)
			}
			if len(d) != 32 {
				t.Errorf("api_keys %s: digest of %d bytes, want 32 (SHA-256)", id, len(d))
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != len(plain) {
			t.Errorf("api_keys rows = %d, want %d", n, len(plain))
		}
	})
}

func containsAny(s string, subs []string) string {
	for _, x := range subs {
		if x != "" && strings.Contains(s, x) {
			return x
		}
	}
	return ""
}

// TestS4MassAssignment is RELIABILITY S4: a body naming a field the client
// may not set is refused with 400 invalid_request naming it, and nothing
// changes.
func TestS4MassAssignment(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		f := s.fixture(t, "S4")
		s.credit(t, f.Key, f.customer.ID, 500)
		extras := map[string]any{"balance": 1000000, "tenant_id": "ten_0000000000000000", "status": "complete",
			"tier": "Gold", "id": "cus_0000000000000000", "purchases_total": 99999999}
		type target struct {
			method, path string
			base         map[string]any
		}
		targets := []target{
			{"POST", "/v1/customers", map[string]any{"phone": "+79120000077"}},
			{"PATCH", "/v1/customers/" + f.customer.ID, map[string]any{"first_name": "Eve"}},
			{"POST", "/v1/customers/" + f.customer.ID + "/adjustments", map[string]any{"amount": 100}},
			{"POST", "/v1/stores", map[string]any{"name": "S4 store"}},
			{"POST", "/v1/api-keys", map[string]any{"scopes": []string{"pos"}}},
		}
		state := func() map[string]any {
			st := s.snapshotOf(t, f.Key, "/v1/customers/"+f.customer.ID, "/v1/customers/"+f.customer.ID+"/balance",
				"/v1/customers/"+f.customer.ID+"/operations", "/v1/stores", "/v1/api-keys", "/v1/program")
			st["lookup"] = s.do(t, "GET", "/v1/customers?phone=%2B79120000077", f.Key, nil, nil).Status
			return st
		}
		before := state()
		for _, tg := range targets {
			for field, v := range extras {
				body := map[string]any{field: v}
				for k, bv := range tg.base {
					body[k] = bv
				}
				r := s.do(t, tg.method, tg.path, f.Key, body, map[string]string{"Idempotency-Key": newKey()})
				if p := r.problem(t); r.Status != http.StatusBadRequest || p.Code != "invalid_request" || p.Field != field {
					t.Errorf("%s %s with %q = %d %s, want 400 invalid_request naming %s", tg.method, tg.path, field, r.Status, r.Body, field)
				}
			}
		}
		var prog map[string]any
		s.do(t, "GET", "/v1/program", f.Key, nil, nil).decode(t, &prog)
		for field, v := range extras {
			body := map[string]any{field: v}
			for k, pv := range prog {
				body[k] = pv
			}
			r := s.do(t, "PUT", "/v1/program", f.Key, body, nil)
			if p := r.problem(t); r.Status != http.StatusBadRequest || p.Code != "invalid_request" || p.Field != field {
				t.Errorf("PUT /v1/program with %q = %d %s, want 400 invalid_request naming %s", field, r.Status, r.Body, field)
			}
		}
		if d := cmp.Diff(before, state()); d != "" {
			t.Errorf("refused requests changed the data (-before +after):\n%s", d)
		}
		s.verify(t)
	})
}

// snapshotOf reads the paths with key as decoded JSON.
func (s *server) snapshotOf(t *testing.T, key string, paths ...string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, p := range paths {
		r := s.do(t, "GET", p, key, nil, nil)
		r.want(t, "GET "+p, http.StatusOK, "")
		out[p] = decoded(t, r)
	}
	return out
}

// TestErrorShapes checks the error surface outside the business rules: a
// body over 1 MiB is 413, an unknown path is 404, and each is an RFC 9457
// problem (the harness checks the shape of every error answer of every
// test).
func TestErrorShapes(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		f := s.fixture(t, "Errors")
		big := func(size int) string {
			prefix := `{"first_name":"`
			return prefix + strings.Repeat("a", size-len(prefix)-2) + `"}`
		}
		for _, tc := range []struct {
			name, method, path string
			body               string
		}{
			{"customer, 1 MiB + 1", "POST", "/v1/customers", big(api.MaxBody + 1)},
			{"customer, 1 MiB + 64 KiB", "POST", "/v1/customers", big(api.MaxBody + 64<<10)},
			{"patch, 1 MiB + 1", "PATCH", "/v1/customers/" + f.customer.ID, big(api.MaxBody + 1)},
			{"adjustment, 1 MiB + 1", "POST", "/v1/customers/" + f.customer.ID + "/adjustments", big(api.MaxBody + 1)},
			{"program, 1 MiB + 1", "PUT", "/v1/program", big(api.MaxBody + 1)},
		} {
			r := s.do(t, tc.method, tc.path, f.Key, tc.body, nil)
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: %s %s = %d %.200s, want 413", tc.name, tc.method, tc.path, r.Status, r.Body)
			}
		}
		// Exactly at the limit the body is read (and refused for its content).
		if r := s.do(t, "PATCH", "/v1/customers/"+f.customer.ID, f.Key, big(api.MaxBody), nil); r.Status != http.StatusBadRequest {
			t.Errorf("PATCH with a body of exactly 1 MiB = %d %.200s, want 400 (first_name too long)", r.Status, r.Body)
		}

		for _, tc := range []struct{ method, path, key string }{
			{"GET", "/v1/nope", f.Key},
			{"GET", "/v1/nope", ""},
			{"POST", "/v1/customers/" + f.customer.ID + "/nope", f.Key},
			{"GET", "/v1/customers/" + f.customer.ID + "/balance/extra", f.Key},
			{"GET", "/nope", ""},
		} {
			r := s.do(t, tc.method, tc.path, tc.key, nil, nil)
			r.want(t, tc.method+" "+tc.path, http.StatusNotFound, "not_found")
		}
		// A known path with a method it does not have is an error problem too.
		if r := s.do(t, "DELETE", "/v1/program", f.Key, nil, nil); r.Status < 400 || r.Status >= 500 {
			t.Errorf("DELETE /v1/program = %d %s, want a 4xx problem", r.Status, r.Body)
		}
		// Negative control of the problem check.
		for name, r := range map[string]response{
			"json content type": {Status: 404, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"type":"x","title":"x","status":404,"code":"not_found"}`)},
			"no code":           {Status: 404, Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: []byte(`{"type":"x","title":"x","status":404}`)},
			"status differs":    {Status: 404, Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: []byte(`{"type":"x","title":"x","status":400,"code":"x"}`)},
		} {
			if checkProblem(r) == nil {
				t.Errorf("checkProblem(%s) = nil, want an error", name)
			}
		}
	})
}
