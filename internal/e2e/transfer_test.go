package e2e_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/cli"
)

// importJob is an import job as the API shows it.
type importJob struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	RowsDone  int64  `json:"rows_done"`
	RowsTotal *int64 `json:"rows_total"`
	Created   int64  `json:"created"`
	Updated   int64  `json:"updated"`
	Unchanged int64  `json:"unchanged"`
	BadRows   int64  `json:"bad_rows"`
	Errors    []struct {
		Line    int    `json:"line"`
		Column  string `json:"column"`
		Message string `json:"message"`
	} `json:"errors"`
	Message string `json:"message"`
}

// upload posts a file to /v1/imports with the query and returns the job.
func (s *server) upload(t *testing.T, key, query, ctype string, file []byte, hdr map[string]string) (importJob, response) {
	t.Helper()
	h := map[string]string{"Content-Type": ctype}
	for k, v := range hdr {
		h[k] = v
	}
	r := s.do(t, "POST", "/v1/imports"+query, key, file, h)
	var j importJob
	if r.Status == http.StatusAccepted {
		r.decode(t, &j)
		if loc := r.Header.Get("Location"); loc != "/v1/imports/"+j.ID {
			t.Errorf("POST /v1/imports Location = %q, want /v1/imports/%s", loc, j.ID)
		}
	}
	return j, r
}

// waitImport polls a job until it has finished.
func (s *server) waitImport(t *testing.T, key, id string) importJob {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var j importJob
		r := s.do(t, "GET", "/v1/imports/"+id, key, nil, nil)
		r.want(t, "GET /v1/imports/"+id, http.StatusOK, "")
		r.decode(t, &j)
		if j.Status == "done" || j.Status == "failed" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %s is still %s after a minute", id, j.Status)
		}
		time.Sleep(20 * time.Millisecond) // polling an asynchronous job: nothing to wait on but its state
	}
}

// newImport imports a CSV file and waits for it.
func (s *server) newImport(t *testing.T, key, file string) importJob {
	t.Helper()
	j, r := s.upload(t, key, "", "text/csv", []byte(file), nil)
	r.want(t, "POST /v1/imports", http.StatusAccepted, "")
	return s.waitImport(t, key, j.ID)
}

// exportRows returns an export's rows, header first, the rest sorted.
func (s *server) exportRows(t *testing.T, key, path string) [][]string {
	t.Helper()
	r := s.do(t, "GET", path, key, nil, nil)
	r.want(t, "GET "+path, http.StatusOK, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("GET %s Content-Type = %q, Content-Disposition %q; want a CSV attachment", path, ct, r.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("GET %s = %q: %v", path, r.Body, err)
	}
	slices.SortFunc(rows[1:], func(a, b []string) int { return strings.Compare(strings.Join(a, ","), strings.Join(b, ",")) })
	return rows
}

const customersHeader = "external_id,phone,last_name,first_name,middle_name,email,birth_date,gender,card,balance,purchases_total,tags"

const transferFile = customersHeader + "\n" +
	"E1,8 912 000-00-01,Иванова,Анна,,anna@example.com,17.05.1990,ж,CARD-1,\"1 234,50\",15000,vip\n" +
	"E2,+79120000002,Петров,Борис,,,,,CARD-2,-5,,\n"

// TestImportExportAPI runs imports through the API as background jobs:
// a good file, a bad one (nothing written, every error named), a dry
// run, skipping bad rows, an idempotent retry, and the round trip of the
// exports into an empty tenant, CSV and XLSX.
func TestImportExportAPI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		a := s.tenant(t, "Transfer A")
		bad := s.newImport(t, a.Key, transferFile+"E3,8 912,,,,,,x,,,,\nE1,,,,,,,,,,,\n")
		type lc struct {
			Line   int
			Column string
		}
		var got []lc
		for _, e := range bad.Errors {
			got = append(got, lc{e.Line, e.Column})
		}
		if want := []lc{{4, "phone"}, {4, "gender"}, {5, "external_id"}}; bad.Status != "failed" || bad.BadRows != 2 || !cmp.Equal(want, got) {
			t.Errorf("import of a bad file = %+v, want failed with errors %v", bad, want)
		}
		if rows := s.exportRows(t, a.Key, "/v1/exports/customers"); len(rows) != 1 {
			t.Fatalf("customers after a bad file = %q, want none", rows)
		}

		if j := s.newImport(t, a.Key, transferFile); j.Status != "done" || j.Created != 2 || j.RowsDone != 2 {
			t.Errorf("import of a good file = %+v, want done with 2 created", j)
		}
		j, r := s.upload(t, a.Key, "?dry_run=true", "text/csv; charset=utf-8", []byte(transferFile), nil)
		r.want(t, "dry run", http.StatusAccepted, "")
		if j = s.waitImport(t, a.Key, j.ID); j.Status != "done" || j.Unchanged != 2 || j.Created != 0 {
			t.Errorf("dry run of an imported file = %+v, want done, 2 unchanged", j)
		}

		// The idempotent retry answers the first job, and starts no other.
		idem := map[string]string{"Idempotency-Key": newKey()}
		more := []byte(customersHeader + "\nE3,,,Вера,,,,,,,,\nE4,x,,,,,,,,,,\n")
		first, r := s.upload(t, a.Key, "?skip_bad_rows=true", "application/octet-stream", more, idem)
		r.want(t, "skip bad rows", http.StatusAccepted, "")
		again, r := s.upload(t, a.Key, "?skip_bad_rows=true", "application/octet-stream", more, idem)
		if r.Status != http.StatusAccepted || again.ID != first.ID || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry of an upload = %d %+v, want the first job %s replayed", r.Status, again, first.ID)
		}
		if j := s.waitImport(t, a.Key, first.ID); j.Status != "done" || j.Created != 1 || j.BadRows != 1 {
			t.Errorf("import skipping bad rows = %+v, want done with 1 created and 1 bad", j)
		}
		s.do(t, "POST", "/v1/imports?format=csv", a.Key, []byte(customersHeader+"\n"+strings.Repeat(",", 11)+"\n"), map[string]string{"Content-Type": "application/json"}).
			want(t, "an import naming its format", http.StatusAccepted, "")
		s.do(t, "POST", "/v1/imports", a.Key, []byte("phone\n1\n"), map[string]string{"Content-Type": "application/json"}).
			want(t, "an import sent as JSON", http.StatusBadRequest, "invalid_request")

		want := s.exportRows(t, a.Key, "/v1/exports/customers")
		if len(want) != 4 {
			t.Fatalf("export of A = %q, want 3 customers", want)
		}
		for _, format := range []string{"csv", "xlsx"} {
			r := s.do(t, "GET", "/v1/exports/customers?format="+format, a.Key, nil, nil)
			r.want(t, "export as "+format, http.StatusOK, "")
			b := s.tenant(t, "Transfer copy "+format)
			ctype := map[string]string{"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
			j, up := s.upload(t, b.Key, "", ctype, r.Body, nil)
			up.want(t, "import of A's export", http.StatusAccepted, "")
			if j = s.waitImport(t, b.Key, j.ID); j.Status != "done" || j.Created != 3 {
				t.Errorf("import of A's %s export = %+v, want 3 created", format, j)
			}
			if d := cmp.Diff(want, s.exportRows(t, b.Key, "/v1/exports/customers")); d != "" {
				t.Errorf("customers of the copy made from A's %s export mismatch (-A +copy):\n%s", format, d)
			}
			if d := cmp.Diff(s.exportRows(t, a.Key, "/v1/exports/balances"), s.exportRows(t, b.Key, "/v1/exports/balances")); d != "" {
				t.Errorf("balances of the copy made from A's %s export mismatch (-A +copy):\n%s", format, d)
			}
		}
		ops := s.exportRows(t, a.Key, "/v1/exports/operations?from=2000-01-01")
		if len(ops) != 3 || ops[1][5] != "complete" || ops[1][4] != "import" {
			t.Errorf("operations export of A = %q, want the two import operations", ops)
		}
		s.do(t, "GET", "/v1/exports/operations?from=2026-13-01", a.Key, nil, nil).want(t, "a bad period", http.StatusBadRequest, "invalid_request")
		s.verify(t)
	})
}

// runKopilka runs a command in-process and returns its stdout and stderr.
func runKopilka(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := cli.Run(context.Background(), cli.Env{Args: args, Getenv: testGetenv,
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	return out.String(), errOut.String(), err
}

// TestImportExportCLI: kopilka import and export, their exit codes and
// reports, and the tenant they pick.
func TestImportExportCLI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		dir := t.TempDir()
		file := func(name, data string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		good := file("good.csv", transferFile)
		bad := file("bad.csv", transferFile+"E3,8 912,,,,,,,,,,\n")
		db := []string{"--db", s.db, "--log-level", "warn"}
		// Two tenants in the database: commands must be told which.
		a := s.tenant(t, "CLI A")
		s.tenant(t, "CLI B")
		if _, _, err := runKopilka(append([]string{"import", "customers", good}, db...)...); exitCode(err) != 2 {
			t.Errorf("import without --tenant in a database of two tenants = %v, want exit code 2", err)
		}
		out, errOut, err := runKopilka(append([]string{"import", "customers", bad, "--tenant", a.ID}, db...)...)
		if exitCode(err) != 1 || !strings.Contains(errOut, "line 4, column phone: \"8 912\" is not a phone number") || !strings.Contains(out, "nothing written") {
			t.Errorf("import of a bad file = %v, stdout %q, stderr %q; want exit code 1 naming line 4, column phone", err, out, errOut)
		}
		out, _, err = runKopilka(append([]string{"import", "customers", "--tenant", a.ID, "--dry-run", good}, db...)...)
		if err != nil || !strings.HasPrefix(out, "dry run: 2 rows: would create 2") {
			t.Errorf("import --dry-run = %v, %q; want 2 to create", err, out)
		}
		out, _, err = runKopilka(append([]string{"import", "customers", good, "--tenant", a.ID}, db...)...)
		if err != nil || !strings.HasPrefix(out, "2 rows: created 2") {
			t.Errorf("import = %v, %q; want 2 created", err, out)
		}
		out, errOut, err = runKopilka(append([]string{"import", "customers", bad, "--tenant", a.ID, "--skip-bad-rows"}, db...)...)
		if err != nil || !strings.HasPrefix(out, "3 rows: created 0, updated 0, unchanged 2; 1 bad rows skipped") || !strings.Contains(errOut, "line 4") {
			t.Errorf("import --skip-bad-rows = %v, %q, %q; want 2 unchanged and line 4 reported", err, out, errOut)
		}
		xlsx := filepath.Join(dir, "a.xlsx")
		if _, errOut, err := runKopilka(append([]string{"export", "customers", "--tenant", a.ID, "--out", xlsx}, db...)...); err != nil ||
			!strings.Contains(errOut, "exported 2 customers") {
			t.Errorf("export customers --out a.xlsx = %v, %q", err, errOut)
		}
		out, _, err = runKopilka(append([]string{"import", "customers", xlsx, "--tenant", a.ID}, db...)...)
		if err != nil || !strings.HasPrefix(out, "2 rows: created 0, updated 0, unchanged 2") {
			t.Errorf("import of the tenant's own XLSX export = %v, %q; want 2 unchanged", err, out)
		}
		out, _, err = runKopilka(append([]string{"export", "balances", "--tenant", a.ID}, db...)...)
		if err != nil || !strings.Contains(out, "E1,+79120000001,CARD-1,1234.50,0.00,0.00,15000.00,Base") {
			t.Errorf("export balances = %v, %q", err, out)
		}
		if _, _, err := runKopilka(append([]string{"export", "customers", "--from", "2026-01-01", "--tenant", a.ID}, db...)...); exitCode(err) != 2 {
			t.Errorf("export customers --from = %v, want exit code 2", err)
		}
		if _, _, err := runKopilka(append([]string{"export", "operations", "--from", "someday", "--tenant", a.ID}, db...)...); exitCode(err) != 2 {
			t.Errorf("export operations --from someday = %v, want exit code 2", err)
		}
		s.verify(t)
	})
}
