package e2e_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestCLIAcceptance checks the bootstrap contract of API-CORE: tenant
// create prints one JSON object with the tenant and its admin key, a
// missing --name is a usage error (exit 2), serve answers /healthz, and
// verify says ok on a consistent ledger and exits 1 naming the account
// once a lot has been tampered with.
func TestCLIAcceptance(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		r := s.do(t, "GET", "/healthz", "", nil, nil)
		var health struct {
			Status string `json:"status"`
		}
		r.decode(t, &health)
		if r.Status != http.StatusOK || health.Status != "ok" {
			t.Errorf("GET /healthz = %d %s, want 200 status ok", r.Status, r.Body)
		}

		ten := s.tenant(t, "Acceptance") // checks the one-object output
		other := s.tenant(t, "Another")
		if other.ID == ten.ID || other.Key == ten.Key {
			t.Errorf("two tenant creates gave %+v and %+v, want distinct tenants and keys", ten, other)
		}
		if r := s.do(t, "GET", "/v1/program", ten.Key, nil, nil); r.Status != http.StatusOK {
			t.Errorf("GET /v1/program with the printed admin key = %d %s, want 200", r.Status, r.Body)
		}

		for _, args := range [][]string{
			{"tenant", "create", "--db", s.db},
			{"tenant", "create", "--name", "  ", "--db", s.db},
		} {
			out, err := runCLI(args...)
			if exitCode(err) != 2 || out != "" {
				t.Errorf("Run(%q) = %v (exit %d), stdout %q; want exit code 2 and no output", args, err, exitCode(err), out)
			}
		}

		c := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000001"})
		s.credit(t, ten.Key, c.ID, 1500)
		s.credit(t, ten.Key, c.ID, 250)
		if r := s.adjust(t, ten.Key, c.ID, map[string]any{"amount": -300}, ""); r.Status != http.StatusCreated {
			t.Fatalf("debit = %d %s, want 201", r.Status, r.Body)
		}
		s.verify(t)

		db := s.openDB(t)
		var lot string
		q := "SELECT id FROM lots WHERE tenant_id = " + s.ph(1) + " AND customer_id = " + s.ph(2) + " AND remaining > 0 ORDER BY id LIMIT 1"
		if err := db.QueryRow(q, ten.ID, c.ID).Scan(&lot); err != nil {
			t.Fatalf("find a lot of %s: %v", c.ID, err)
		}
		res, err := db.Exec("UPDATE lots SET remaining = remaining - 1 WHERE tenant_id = "+s.ph(1)+" AND id = "+s.ph(2), ten.ID, lot)
		if n, _ := res.RowsAffected(); err != nil || n != 1 {
			t.Fatalf("tamper with lot %s: %v (%d rows)", lot, err, n)
		}
		out, err := runCLI("verify", "--db", s.db)
		if exitCode(err) != 1 {
			t.Errorf("verify after tampering = %v (exit %d), want exit code 1", err, exitCode(err))
		}
		if want := "customer " + c.ID + "/available"; !strings.Contains(out, want) {
			t.Errorf("verify after tampering printed %q, want it to name %q", out, want)
		}
	})
}
