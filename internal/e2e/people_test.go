package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/cli"
	"github.com/kopilka/kopilka/internal/pii"
)

type customerPage struct {
	Items      []map[string]any `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

func (s *server) search(t *testing.T, key, query string) customerPage {
	t.Helper()
	r := s.do(t, "GET", "/v1/customers/search?"+query, key, nil, nil)
	r.want(t, "search "+query, http.StatusOK, "")
	var p customerPage
	r.decode(t, &p)
	return p
}

func pageIDs(p customerPage) []string {
	out := []string{}
	for _, c := range p.Items {
		out = append(out, c["id"].(string))
	}
	return out
}

// TestCustomerSearch: GET /v1/customers/search filters (combined with
// AND) by phone, e-mail, name words, card, tag and group, newest first,
// in pages; bad parameters are 400.
func TestCustomerSearch(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "Search")
		anna := s.newCustomer(t, ten.Key, map[string]any{"phone": "8 916 100-00-01", "email": "Anna@Example.com",
			"last_name": "Петрова", "first_name": "Анна", "tags": []string{"VIP"}, "group": "gold", "card": "SR-1"})
		petr := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79161000002", "last_name": "Петров", "first_name": "Пётр", "tags": []string{"vip"}})
		vera := s.newCustomer(t, ten.Key, map[string]any{"last_name": "Петрова-Водкина", "first_name": "Вера", "group": "gold"})
		other := s.tenant(t, "Search other")
		s.newCustomer(t, other.Key, map[string]any{"phone": "+79161000001", "last_name": "Петрова", "tags": []string{"vip"}})

		for _, tt := range []struct {
			query string
			want  []string
		}{
			{"", []string{vera.ID, petr.ID, anna.ID}},
			{"phone=" + url.QueryEscape("+7 (916) 100-00-01"), []string{anna.ID}},
			{"email=anna@EXAMPLE.com", []string{anna.ID}},
			{"name=" + url.QueryEscape("петрова"), []string{vera.ID, anna.ID}},
			{"name=" + url.QueryEscape("Петр"), []string{petr.ID}},
			{"name=" + url.QueryEscape("Анна Петрова"), []string{anna.ID}},
			{"name=" + url.QueryEscape("Водкина"), []string{vera.ID}},
			{"name=" + url.QueryEscape("Пет"), []string{}},
			{"card=SR-1", []string{anna.ID}},
			{"tag=vip", []string{petr.ID, anna.ID}},
			{"group=gold", []string{vera.ID, anna.ID}},
			{"group=gold&tag=vip", []string{anna.ID}},
			{"group=gold&name=" + url.QueryEscape("Пётр"), []string{}},
		} {
			if got := pageIDs(s.search(t, ten.Key, tt.query)); !cmp.Equal(tt.want, got) {
				t.Errorf("search %q = %v, want %v", tt.query, got, tt.want)
			}
		}
		p := s.search(t, ten.Key, "limit=2")
		if len(p.Items) != 2 || p.NextCursor == nil || p.Items[0]["first_name"] != "Вера" {
			t.Fatalf("first page of 2 = %+v, want Вера first and a cursor", p)
		}
		rest := s.search(t, ten.Key, "limit=2&cursor="+url.QueryEscape(*p.NextCursor))
		if got := pageIDs(rest); !cmp.Equal([]string{anna.ID}, got) || rest.NextCursor != nil {
			t.Errorf("second page = %v (next %v), want anna's and no cursor", got, rest.NextCursor)
		}
		if cards, _ := rest.Items[0]["cards"].([]any); len(cards) != 1 {
			t.Errorf("anna in a search = %v, want her card", rest.Items[0])
		}
		for _, q := range []string{"limit=201", "limit=0", "cursor=abc", "phone=12"} {
			s.do(t, "GET", "/v1/customers/search?"+q, ten.Key, nil, nil).want(t, "search "+q, http.StatusBadRequest, "invalid_request")
		}
	})
}

type consentList struct {
	Items []struct {
		Kind, Action, Source string
	} `json:"items"`
	InForce map[string]bool `json:"in_force"`
}

// TestConsents: consents are given and withdrawn per kind, as records
// never changed; marketing drives ad_consent both ways (also from PATCH
// and creation); a withdrawal of what is not in force is 409.
func TestConsents(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "Consents")
		c := s.newCustomer(t, ten.Key, map[string]any{"first_name": "Ирина", "ad_consent": true})
		base := "/v1/customers/" + c.ID + "/consents"
		idem := map[string]string{"Idempotency-Key": newKey()}
		r := s.do(t, "POST", base, ten.Key, map[string]any{"kind": "personal_data", "source": "paper"}, idem)
		r.want(t, "give personal_data", http.StatusCreated, "")
		again := s.do(t, "POST", base, ten.Key, map[string]any{"kind": "personal_data", "source": "paper"}, idem)
		if again.Status != http.StatusCreated || string(again.Body) != string(r.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry = %d %s, want the first answer replayed", again.Status, again.Body)
		}
		s.do(t, "POST", base+"/marketing/withdraw", ten.Key, map[string]any{"source": "web"}, nil).want(t, "withdraw marketing", http.StatusCreated, "")
		var cu map[string]any
		s.do(t, "GET", "/v1/customers/"+c.ID, ten.Key, nil, nil).decode(t, &cu)
		if cu["ad_consent"] != false || cu["ad_consent_at"] == nil {
			t.Errorf("customer after withdrawing marketing = %v, want ad_consent false with its time", cu)
		}
		s.do(t, "POST", base+"/marketing/withdraw", ten.Key, nil, nil).want(t, "withdraw it again", http.StatusConflict, "conflict")
		s.do(t, "POST", base+"/spam/withdraw", ten.Key, nil, nil).want(t, "withdraw an unknown kind", http.StatusBadRequest, "invalid_request")
		s.do(t, "POST", base, ten.Key, map[string]any{"kind": "marketing", "source": "sms"}, nil).want(t, "an unknown source", http.StatusBadRequest, "invalid_request")
		s.do(t, "POST", base, ten.Key, map[string]any{"kind": "marketing", "balance": 100}, nil).want(t, "an extra field", http.StatusBadRequest, "invalid_request")
		s.do(t, "PATCH", "/v1/customers/"+c.ID, ten.Key, map[string]any{"ad_consent": true}, nil).want(t, "PATCH ad_consent", http.StatusOK, "")

		var l consentList
		s.do(t, "GET", base, ten.Key, nil, nil).decode(t, &l)
		got := []string{}
		for _, it := range l.Items {
			got = append(got, it.Kind+" "+it.Action+" "+it.Source)
		}
		want := []string{"marketing given api", "personal_data given paper", "marketing withdrawn web", "marketing given api"}
		if !cmp.Equal(want, got) || !l.InForce["personal_data"] || !l.InForce["marketing"] {
			t.Errorf("consents = %v, in force %v; want %v, both in force", got, l.InForce, want)
		}
		var hist struct {
			Items []struct{ Field, NewValue string } `json:"items"`
		}
		r = s.do(t, "GET", "/v1/customers/"+c.ID+"/history", ten.Key, nil, nil)
		if err := json.Unmarshal(r.Body, &hist); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, h := range hist.Items {
			if h.Field == "ad_consent" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("history = %s, want 2 ad_consent changes", r.Body)
		}
		other := s.tenant(t, "Consents other")
		s.do(t, "GET", base, other.Key, nil, nil).want(t, "another tenant's consents", http.StatusNotFound, "not_found")
	})
}

// TestPIIRotateCLI: kopilka pii rotate adds a data key, reseals every row
// with it and keeps the old key; the server then reads the data as before.
// A database started with a key file that lacks its keys stops with a
// clear error rather than reading garbage.
func TestPIIRotateCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "kopilka.db")
	// No KOPILKA_PII_KEYS: the key file is the default one, beside the
	// database, made by the first command.
	noEnv := func(string) string { return "" }
	run := func(args ...string) (string, string, error) {
		var o, e bytes.Buffer
		err := cli.Run(context.Background(), cli.Env{Args: args, Getenv: noEnv, Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e})
		return o.String(), e.String(), err
	}
	out, stderr, err := run("tenant", "create", "--name", "Rotate", "--db", db)
	if err != nil || !strings.Contains(stderr, "back this file up") {
		t.Fatalf("tenant create: %v, stderr %q; want the key file made with a warning", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "kopilka.keys")); err != nil {
		t.Fatalf("the key file beside the database: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "kopilka.keys")); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", st.Mode().Perm())
	}
	var ten tenant
	if err := json.Unmarshal([]byte(out), &ten); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "kopilka.keys")
	before, err := pii.Load(keys)
	if err != nil {
		t.Fatal(err)
	}
	serve := func() *server {
		return startServerOn(t, "sqlite", db, noEnv)
	}
	s := serve()
	c := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79167770001", "last_name": "Ротова", "email": "rot@example.com"})
	s.stop(t)

	out, stderr, err = run("pii", "rotate", "--db", db)
	if err != nil {
		t.Fatalf("pii rotate: %v (%s)", err, stderr)
	}
	var res struct {
		Current string   `json:"current"`
		Rows    int64    `json:"rows"`
		Keys    []string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Rows < 1 || len(res.Keys) != 2 ||
		res.Current == before.Current() || !slices.Contains(res.Keys, before.Current()) || !strings.Contains(stderr, "resealed") {
		t.Fatalf("pii rotate printed %q (stderr %q), want a new current key, the old kept, rows resealed", out, stderr)
	}
	s = serve()
	var got map[string]any
	s.do(t, "GET", "/v1/customers?phone=%2B79167770001", ten.Key, nil, nil).decode(t, &got)
	if got["id"] != c.ID || got["last_name"] != "Ротова" || got["email"] != "rot@example.com" {
		t.Errorf("customer after rotation = %v", got)
	}
	s.stop(t)

	// The old key file (without the new data key) must not read garbage.
	old := filepath.Join(dir, "old.keys")
	if err := pii.Save(old, before); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = run("export", "customers", "--db", db, "--pii-keys", old)
	if err == nil || !strings.Contains(err.Error()+stderr, "key") {
		t.Errorf("export with a key file missing the data key = %v (%s), want a clear error naming the key", err, stderr)
	}
	// Another key file altogether is refused at start.
	other := filepath.Join(dir, "other.keys")
	r, _ := pii.Generate()
	if err := pii.Save(other, r); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run("verify", "--db", db, "--pii-keys", other); err == nil || !strings.Contains(err.Error(), "key file") {
		t.Errorf("verify with another key file = %v, want a refusal naming the key file", err)
	}
}
