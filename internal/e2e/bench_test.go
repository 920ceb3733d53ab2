package e2e_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchTool runs the load tool against a server, as the README tells
// an operator to: a short sales run (which ends with verify), a
// calculate-only run, and identification of imported customers by card
// and phone. Each must report work done and no errors; a file without
// card or phone columns is refused before any request.
func TestBenchTool(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		done := func(out, what string) int {
			t.Helper()
			m := regexp.MustCompile(what + `: (\d+) `).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("bench printed no %q line:\n%s", what, out)
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}
		out, err := runCLI("bench", "--db", s.db, "--url", s.base, "--duration", "1s", "--cashiers", "4", "--customers", "20")
		if err != nil {
			t.Fatalf("bench (sales) = %v\n%s", err, out)
		}
		if n := done(out, "sales"); n == 0 || !strings.Contains(out, "errors: 0") || !strings.Contains(out, "verify:") {
			t.Errorf("bench (sales) sold %d, want some, no errors and a verify:\n%s", n, out)
		}
		out, err = runCLI("bench", "--db", s.db, "--url", s.base, "--duration", "1s", "--cashiers", "4", "--customers", "20",
			"--calculate-only", "--verify=false")
		if err != nil || done(out, "calculate") == 0 || !strings.Contains(out, "errors: 0") {
			t.Errorf("bench --calculate-only = %v, want calculations and no errors:\n%s", err, out)
		}

		ten := s.tenant(t, "Identify")
		dir := t.TempDir()
		file := filepath.Join(dir, "customers.csv")
		// Russian headers and two cards in one cell, as import takes them.
		csv := "Внешний ID;Телефон;Карты;Баланс\r\n" +
			"A1;+7 912 000-11-01;\"IDC-0001, IDC-0011\";10,50\r\n" +
			"A2;89120001102;IDC-0002;0\r\n" +
			"A3;;IDC-0003;1\r\n" +
			"A4;+79120001104;;2\r\n"
		if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runCLI("import", "customers", file, "--db", s.db, "--tenant", ten.ID); err != nil {
			t.Fatalf("import customers = %v\n%s", err, out)
		}
		out, err = runCLI("bench", "--url", s.base, "--key", ten.Key, "--identify", file, "--duration", "1s", "--cashiers", "2")
		if err != nil || done(out, "identify") == 0 || !strings.Contains(out, "errors: 0") {
			t.Errorf("bench --identify = %v, want identifications and no errors:\n%s", err, out)
		}
		if !strings.Contains(out, "identifying 4 customers") {
			t.Errorf("bench --identify does not say it read the file's 4 customers:\n%s", out)
		}

		// A customer the file names but the tenant lacks is an error the
		// run reports (it is not a load of 404s passed off as lookups).
		other := s.tenant(t, "Empty")
		out, err = runCLI("bench", "--url", s.base, "--key", other.Key, "--identify", file, "--duration", "300ms", "--cashiers", "1")
		if exitCode(err) != 1 || !strings.Contains(out, "/v1/customers: 404") {
			t.Errorf("bench --identify into a tenant without the customers = %v (exit %d), want exit 1 naming the 404s:\n%s",
				err, exitCode(err), out)
		}

		bad := filepath.Join(dir, "bad.csv")
		if err := os.WriteFile(bad, []byte("external_id,email\nX1,i@example.com\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err = runCLI("bench", "--url", s.base, "--key", ten.Key, "--identify", bad, "--duration", "1s")
		if err == nil || !strings.Contains(err.Error(), "phone") || !strings.Contains(err.Error(), "card") || strings.Contains(out, "identify:") {
			t.Errorf("bench --identify with a file without card or phone = %v, want a clear refusal before any request:\n%s", err, out)
		}
		if _, err := runCLI("bench", "--url", s.base, "--identify", file); exitCode(err) != 2 {
			t.Errorf("bench --identify without --key = %v (exit %d), want a usage error (exit 2)", err, exitCode(err))
		}
	})
}
