package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/api"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// TestS5BodyLimit is RELIABILITY S5's body limit: on every route of the
// table that takes a body, a body one byte over 1 MiB is refused with 413
// payload_too_large and changes nothing; the import of a file is the
// exception (its own limit is 100 MiB).
func TestS5BodyLimit(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		f := s.fixture(t, "S5")
		type target struct {
			rt   api.Route
			path string
		}
		var targets []target
		for _, rt := range api.Routes() {
			if rt.Method == "GET" || rt.Method == "DELETE" || rt.Name == "createImport" {
				continue
			}
			path, _, ok := s.validRequest(t, rt, f)
			if !ok {
				t.Errorf("route %s %s: S5 cannot build a request for it; teach validRequest", rt.Method, rt.Pattern)
				continue
			}
			targets = append(targets, target{rt, path})
		}
		if len(targets) < 10 {
			t.Fatalf("S5 found %d routes with a body, want every POST, PUT and PATCH of the table", len(targets))
		}
		// A JSON object a byte over the limit, valid but for its size.
		big := `{"name":"` + strings.Repeat("я", (api.MaxBody-9)/2) + `"}`
		big += strings.Repeat(" ", api.MaxBody+1-len(big))
		db := s.openDB(t)
		before := s.dumpTables(t, db)
		for _, tg := range targets {
			r := s.do(t, tg.rt.Method, tg.path, f.Key, big, map[string]string{"Idempotency-Key": newKey()})
			if r.Status != http.StatusRequestEntityTooLarge || r.code() != "invalid_request" {
				t.Errorf("%s %s with a body of %d bytes = %d %s, want 413 invalid_request", tg.rt.Method, tg.path, len(big), r.Status, r.Body)
			}
		}
		if diff := cmp.Diff(before, s.dumpTables(t, db)); diff != "" {
			t.Errorf("oversized bodies changed the database (-before +after):\n%s", diff)
		}
		// The exception: a customers file over 1 MiB is taken.
		file := "external_id,first_name\n"
		for i := 0; len(file) <= api.MaxBody; i++ {
			file += fmt.Sprintf("S5-%06d,Покупатель номер %d\n", i, i)
		}
		r := s.do(t, "POST", "/v1/imports?format=csv&dry_run=true", f.Key, file, nil)
		if r.Status >= 300 {
			t.Errorf("POST /v1/imports with a file of %d bytes = %d %s, want it taken (imports may be up to 100 MiB)", len(file), r.Status, r.Body)
		}
	})
}

// TestS5PageSize is RELIABILITY S5's page cap: every operation the
// OpenAPI document gives a limit parameter takes 1 to 200 and refuses
// anything else with 400 invalid_request naming limit.
func TestS5PageSize(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		f := s.fixture(t, "S5")
		var doc struct {
			Paths map[string]map[string]struct {
				ID     string `json:"operationId"`
				Params []struct {
					Ref string `json:"$ref"`
				} `json:"parameters"`
			} `json:"paths"`
		}
		s.do(t, "GET", "/v1/openapi.json", "", nil, nil).decode(t, &doc)
		paged := map[string]bool{}
		for _, ops := range doc.Paths {
			for _, op := range ops {
				for _, p := range op.Params {
					if p.Ref == "#/components/parameters/Limit" {
						paged[op.ID] = true
					}
				}
			}
		}
		covered := 0
		for _, rt := range api.Routes() {
			if !paged[rt.Name] {
				continue
			}
			path, _, ok := s.validRequest(t, rt, f)
			if !ok {
				t.Errorf("route %s %s: S5 cannot build a request for it; teach validRequest", rt.Method, rt.Pattern)
				continue
			}
			for _, c := range []struct {
				limit string
				want  int
			}{{"200", http.StatusOK}, {"201", http.StatusBadRequest}, {"100000", http.StatusBadRequest},
				{"0", http.StatusBadRequest}, {"-1", http.StatusBadRequest}, {"x", http.StatusBadRequest}} {
				r := s.do(t, rt.Method, path+"?limit="+c.limit, f.Key, nil, nil)
				if r.Status != c.want || (c.want == http.StatusBadRequest && (r.code() != "invalid_request" || r.problem(t).Field != "limit")) {
					t.Errorf("%s %s?limit=%s = %d %s, want %d", rt.Method, path, c.limit, r.Status, r.Body, c.want)
				}
			}
			covered++
		}
		if covered < 2 {
			t.Errorf("S5 covered %d paged routes, want at least 2 (operations, history)", covered)
		}
	})
}

// TestS5RateLimit is RELIABILITY S5's per-key rate limit, on a server
// started with a small one: past the burst a key gets 429
// limit_exceeded with a Retry-After in whole seconds, another key of the
// same tenant is not affected, /healthz and /metrics are never limited,
// the metrics count the refusal, and after the wait the key is served
// again.
func TestS5RateLimit(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, d, "--rate-limit", "2", "--rate-burst", "3")
			ten := s.tenant(t, "S5")
			out, err := runCLI("key", "create", "--tenant", ten.ID, "--scopes", "pos", "--db", s.db)
			var other struct {
				Key string `json:"api_key"`
			}
			if err != nil || json.Unmarshal([]byte(out), &other) != nil || other.Key == "" {
				t.Fatalf("key create = %v, printed %q", err, out)
			}
			for i := range 3 {
				s.do(t, "GET", "/v1/program", ten.Key, nil, nil).want(t, fmt.Sprintf("request %d of the burst", i+1), http.StatusOK, "")
			}
			r := s.do(t, "GET", "/v1/program", ten.Key, nil, nil)
			r.want(t, "the request past the burst", http.StatusTooManyRequests, "limit_exceeded")
			wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || wait < 1 {
				t.Fatalf("Retry-After = %q, want whole seconds, at least 1", r.Header.Get("Retry-After"))
			}
			s.do(t, "GET", "/v1/program", other.Key, nil, nil).want(t, "another key of the tenant", http.StatusOK, "")
			for range 10 {
				s.do(t, "GET", "/healthz", "", nil, nil).want(t, "GET /healthz", http.StatusOK, "")
			}
			m := s.do(t, "GET", "/metrics", "", nil, nil)
			m.want(t, "GET /metrics", http.StatusOK, "")
			if got := metric(string(m.Body), `kopilka_http_limited_total{limit="key_rate"}`); got != 1 {
				t.Errorf(`kopilka_http_limited_total{limit="key_rate"} = %v, want 1`, got)
			}
			time.Sleep(time.Duration(wait) * time.Second)
			s.do(t, "GET", "/v1/program", ten.Key, nil, nil).want(t, "the request after Retry-After", http.StatusOK, "")
		})
	}
}

// metric returns the value of a series in a Prometheus text exposition,
// or -1 when it is missing.
func metric(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// TestLimitFlags checks that serve refuses bad limit settings as usage
// mistakes (exit code 2) before it opens anything.
func TestLimitFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--rate-limit", "-1"}, {"--rate-limit", "many"}, {"--rate-limit", "NaN"}, {"--rate-limit", "+Inf"},
		{"--rate-burst", "0"}, {"--rate-burst", "1.5"}, {"--tenant-inflight", "-1"}, {"--tenant-inflight", "x"},
	} {
		_, err := runCLI(append([]string{"serve", "--db", t.TempDir() + "/k.db", "--addr", "127.0.0.1:0"}, args...)...)
		if exitCode(err) != 2 {
			t.Errorf("serve %v = %v, want a usage error (exit code 2)", args, err)
		}
	}
}

// TestServerFlagsAreServes checks that the server's own flags belong to
// serve: another command refuses them as a usage mistake (exit code 2)
// rather than taking and ignoring them.
func TestServerFlagsAreServes(t *testing.T) {
	t.Parallel()
	db := t.TempDir() + "/k.db"
	for _, args := range [][]string{
		{"verify", "--db", db, "--addr", "127.0.0.1:0"},
		{"import", "customers", "x.csv", "--db", db, "--rate-limit", "1"},
		{"export", "customers", "--db", db, "--tenant-inflight", "1"},
		{"tenant", "create", "--name", "T", "--db", db, "--due-interval", "1m"},
		{"migrate", "--db", db, "--pprof", "127.0.0.1:0"},
	} {
		if _, err := runCLI(args...); exitCode(err) != 2 {
			t.Errorf("%v = %v, want a usage error (exit code 2)", args, err)
		}
	}
	if _, err := runCLI("verify", "--db", db, "--log-level", "warn", "--no-batch"); err != nil {
		t.Errorf("verify with the database's own flags = %v, want success", err)
	}
	// An import may be profiled: --pprof is no usage mistake there (the
	// missing file is what fails).
	if _, err := runCLI("import", "customers", t.TempDir()+"/missing.csv", "--db", db, "--pprof", "127.0.0.1:0"); err == nil || exitCode(err) == 2 {
		t.Errorf("import customers --pprof = %v (exit %d), want the missing file's failure, not a usage error", err, exitCode(err))
	}
}
