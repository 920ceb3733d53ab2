package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to read and tamper with the database directly
	_ "modernc.org/sqlite"             // the "sqlite" driver, likewise

	"github.com/kopilka/kopilka/internal/cli"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// syncBuffer is an io.Writer the server's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a running `kopilka serve` and the database it uses.
type server struct {
	dialect string
	db      string // the --db argument
	base    string // http://127.0.0.1:port
	client  *http.Client
	log     *syncBuffer
	stopFn  func(t *testing.T)
}

// forEachDialect runs fn as a parallel subtest per database, each with a
// server of its own.
func forEachDialect(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Helper()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, startServer(t, d))
		})
	}
}

// startServer runs `kopilka serve` in-process on a fresh database of the
// dialect, waits until it listens and /healthz answers 200, and stops it
// when t ends, failing t unless Run then returns nil. extra flags follow
// the defaults (and win over them).
func startServer(t *testing.T, dialect string, extra ...string) *server {
	t.Helper()
	return startServerOn(t, dialect, storagetest.URL(t, dialect), testGetenv, extra...)
}

// startServerOn is startServer on the database db, with the environment
// getenv.
func startServerOn(t *testing.T, dialect, db string, getenv func(string) string, extra ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- cli.Run(ctx, cli.Env{
			Args:   append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--log-level", "warn"}, extra...),
			Getenv: getenv,
			Stdin:  strings.NewReader(""),
			Stdout: io.Discard,
			Stderr: log,
			Ready:  func(addr string) { ready <- addr },
		})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve exited before listening: %v\n%s", err, log)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
	s := &server{dialect: dialect, db: db, base: "http://" + addr, client: &http.Client{Transport: tr}, log: log}
	var once sync.Once
	s.stopFn = func(t *testing.T) {
		once.Do(func() {
			tr.CloseIdleConnections()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: Run = %v, want nil after the context ends", err)
			}
			// At --log-level warn the server logs only 5xx answers, panics and
			// failed background work: each is a bug.
			if l := log.String(); strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, `"level":"WARN"`) {
				t.Errorf("the server logged warnings or errors:\n%s", l)
			}
		})
	}
	t.Cleanup(func() { s.stopFn(t) })
	r := s.do(t, "GET", "/healthz", "", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /healthz = %d %s, want 200", r.Status, r.Body)
	}
	return s
}

// stop ends the server now (and checks its log) rather than when t ends.
func (s *server) stop(t *testing.T) { s.stopFn(t) }

// response is an HTTP answer read in full.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// send makes one request; it is safe to call from any goroutine. body is
// nil (no body), a string or []byte (sent as is) or a value to marshal.
// key, when not empty, is sent as a Bearer token; hdr adds headers (and
// may set Authorization itself).
func (s *server) send(ctx context.Context, method, path, key string, body any, hdr map[string]string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// do is send for the test goroutine: a transport error is fatal, and every
// error answer must be a well-formed problem.
func (s *server) do(t *testing.T, method, path, key string, body any, hdr map[string]string) response {
	t.Helper()
	r, err := s.send(context.Background(), method, path, key, body, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if err := checkProblem(r); err != nil {
		t.Errorf("%s %s: %v", method, path, err)
	}
	return r
}

// checkProblem returns an error unless an error answer (status ≥ 400) is
// RFC 9457 application/problem+json with type, title, status (equal to
// the HTTP status) and code. Other answers pass.
func checkProblem(r response) error {
	if r.Status < 400 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/problem+json" {
		return fmt.Errorf("status %d: Content-Type = %q, want application/problem+json", r.Status, r.Header.Get("Content-Type"))
	}
	var p map[string]any
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return fmt.Errorf("status %d: problem body %q is not a JSON object: %v", r.Status, r.Body, err)
	}
	for _, f := range []string{"type", "title", "code"} {
		if v, ok := p[f].(string); !ok || v == "" {
			return fmt.Errorf("status %d: problem field %q = %v, want a non-empty string (body %s)", r.Status, f, p[f], r.Body)
		}
	}
	if st, ok := p["status"].(float64); !ok || int(st) != r.Status {
		return fmt.Errorf("problem field status = %v, want %d", p["status"], r.Status)
	}
	return nil
}

// problem is the part of a problem document the tests compare.
type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// code returns the problem code of an error answer, "" for a success.
func (r response) code() string {
	if r.Status < 400 {
		return ""
	}
	var p problem
	_ = json.Unmarshal(r.Body, &p)
	return p.Code
}

func (r response) problem(t *testing.T) problem {
	t.Helper()
	var p problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem %q: %v", r.Body, err)
	}
	return p
}

// decode unmarshals the body into v, failing t when it cannot.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// want fails t unless the answer has the status (and, for errors, the
// problem code).
func (r response) want(t *testing.T, what string, status int, code string) {
	t.Helper()
	if r.Status != status || r.code() != code {
		t.Fatalf("%s = %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
}

// runCLI runs a kopilka command in-process and returns its stdout.
func runCLI(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := cli.Run(context.Background(), cli.Env{Args: args, Getenv: testGetenv,
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	return out.String(), err
}

// tenant is a tenant and its first admin key, as `tenant create` prints them.
type tenant struct {
	ID  string `json:"tenant_id"`
	Key string `json:"api_key"`
}

// tenant runs `kopilka tenant create` on the server's database.
func (s *server) tenant(t *testing.T, name string) tenant {
	t.Helper()
	out, err := runCLI("tenant", "create", "--name", name, "--db", s.db)
	if err != nil {
		t.Fatalf("tenant create --name %s: %v", name, err)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var tn tenant
	if err := dec.Decode(&tn); err != nil {
		t.Fatalf("tenant create printed %q: %v", out, err)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" || dec.More() {
		t.Fatalf("tenant create printed %q, want exactly one JSON object", out)
	}
	if tn.ID == "" || tn.Key == "" {
		t.Fatalf("tenant create printed %q, want a tenant_id and an api_key", out)
	}
	return tn
}

// verify runs `kopilka verify` and fails t unless it reports ok.
func (s *server) verify(t *testing.T) {
	t.Helper()
	out, err := runCLI("verify", "--db", s.db)
	if err != nil || !strings.HasPrefix(out, "ok") {
		t.Errorf("verify = %v, printed %q; want nil and ok", err, out)
	}
}

// customer is the part of a customer the tests use.
type customer struct {
	ID        string `json:"id"`
	Phone     string `json:"phone"`
	FirstName string `json:"first_name"`
	Cards     []struct {
		Number string `json:"number"`
	} `json:"cards"`
}

// newCustomer enrols a customer with the body and returns it.
func (s *server) newCustomer(t *testing.T, key string, body any) customer {
	t.Helper()
	r := s.do(t, "POST", "/v1/customers", key, body, nil)
	r.want(t, "POST /v1/customers", http.StatusCreated, "")
	var c customer
	r.decode(t, &c)
	return c
}

// operation is an operation as the API shows it.
type operation struct {
	ID         string  `json:"id"`
	CustomerID string  `json:"customer_id"`
	Type       string  `json:"type"`
	Status     string  `json:"status"`
	Amount     int64   `json:"amount"`
	PurchaseID *string `json:"purchase_id"`
	ExternalID *string `json:"external_id"`
}

// adjust posts an adjustment and returns the answer.
func (s *server) adjust(t *testing.T, key, customerID string, body any, idemKey string) response {
	t.Helper()
	var hdr map[string]string
	if idemKey != "" {
		hdr = map[string]string{"Idempotency-Key": idemKey}
	}
	return s.do(t, "POST", "/v1/customers/"+customerID+"/adjustments", key, body, hdr)
}

// credit adds points to a customer with a fresh request and fails t
// unless it succeeds.
func (s *server) credit(t *testing.T, key, customerID string, amount int64) operation {
	t.Helper()
	r := s.adjust(t, key, customerID, map[string]any{"amount": amount, "reason": "credit"}, newKey())
	r.want(t, "credit", http.StatusCreated, "")
	var op operation
	r.decode(t, &op)
	return op
}

// balance is a customer's balance.
type balance struct {
	Available int64 `json:"available"`
	Pending   int64 `json:"pending"`
}

func (s *server) balance(t *testing.T, key, customerID string) balance {
	t.Helper()
	r := s.do(t, "GET", "/v1/customers/"+customerID+"/balance", key, nil, nil)
	r.want(t, "GET balance", http.StatusOK, "")
	var b balance
	r.decode(t, &b)
	return b
}

// operations returns every operation of a customer, newest first.
func (s *server) operations(t *testing.T, key, customerID string) []operation {
	t.Helper()
	var all []operation
	cursor := ""
	for {
		path := "/v1/customers/" + customerID + "/operations?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := s.do(t, "GET", path, key, nil, nil)
		r.want(t, "GET operations", http.StatusOK, "")
		var page struct {
			Items []operation `json:"items"`
			Next  *string     `json:"next_cursor"`
		}
		r.decode(t, &page)
		all = append(all, page.Items...)
		if page.Next == nil {
			return all
		}
		cursor = *page.Next
	}
}

// apiKey is a key as POST /v1/api-keys returns it.
type apiKey struct {
	ID      string   `json:"id"`
	Key     string   `json:"key"`
	Scopes  []string `json:"scopes"`
	StoreID *string  `json:"store_id"`
}

func (s *server) newAPIKey(t *testing.T, adminKey string, body any) apiKey {
	t.Helper()
	r := s.do(t, "POST", "/v1/api-keys", adminKey, body, nil)
	r.want(t, "POST /v1/api-keys", http.StatusCreated, "")
	var k apiKey
	r.decode(t, &k)
	if k.ID == "" || k.Key == "" {
		t.Fatalf("POST /v1/api-keys = %s, want an id and a key", r.Body)
	}
	return k
}

// store is a store as the API shows it.
type store struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *server) newStore(t *testing.T, adminKey, name string) store {
	t.Helper()
	r := s.do(t, "POST", "/v1/stores", adminKey, map[string]any{"name": name}, nil)
	r.want(t, "POST /v1/stores", http.StatusCreated, "")
	var st store
	r.decode(t, &st)
	return st
}

// newKey returns a fresh Idempotency-Key.
func newKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "k-" + hex.EncodeToString(b[:])
}

// openDB opens the server's database directly, beside the server.
func (s *server) openDB(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", s.db
	if s.dialect == "sqlite" {
		driver, dsn = "sqlite", "file:"+s.db+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", s.dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ph is the dialect's n-th query placeholder.
func (s *server) ph(n int) string {
	if s.dialect == "sqlite" {
		return "?"
	}
	return fmt.Sprintf("$%d", n)
}

// exitCode returns the code of a cli.ExitError in err, or -1.
func exitCode(err error) int {
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// purchase is the part of a purchase the tests use.
type purchase struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Status     string `json:"status"`
}

// purchaseBody is a one-line receipt of 100.00 at the store for the
// customer, registered under ext (calculate takes ext "").
func purchaseBody(storeID string, customer map[string]string, ext string, confirm bool) map[string]any {
	b := map[string]any{"customer": customer,
		"lines": []map[string]any{{"sku": "MILK-1", "name": "Milk", "quantity": 1, "price": 10000}}}
	if storeID != "" {
		b["store_id"] = storeID
	}
	if ext != "" {
		b["external_id"] = ext
		b["confirm"] = confirm
	}
	return b
}

// newPurchase registers a purchase (complete when confirm) and fails t
// unless it succeeds.
func (s *server) newPurchase(t *testing.T, key, storeID, customerID string, confirm bool) purchase {
	t.Helper()
	r := s.do(t, "POST", "/v1/purchases", key, purchaseBody(storeID, map[string]string{"id": customerID}, newKey(), confirm), nil)
	r.want(t, "POST /v1/purchases", http.StatusCreated, "")
	var p purchase
	r.decode(t, &p)
	return p
}

// ruleBody is a valid body for POST /v1/promotions (kind "prm") or
// POST /v1/offers (kind "ofr").
func ruleBody(kind, name string) string {
	if kind == "ofr" {
		return `{"name":"` + name + `","starts_at":"2026-01-01T00:00:00Z","extra_percent":1,"tags":["vip"]}`
	}
	return `{"name":"` + name + `","starts_at":"2026-01-01T00:00:00Z","multiplier":2}`
}

// newRule creates a promotion ("prm") or a personal offer ("ofr") and
// returns its id.
func (s *server) newRule(t *testing.T, key, kind, name string) string {
	t.Helper()
	path := map[string]string{"prm": "/v1/promotions", "ofr": "/v1/offers"}[kind]
	r := s.do(t, "POST", path, key, ruleBody(kind, name), nil)
	r.want(t, "POST "+path, http.StatusCreated, "")
	var v struct {
		ID string `json:"id"`
	}
	r.decode(t, &v)
	return v.ID
}
