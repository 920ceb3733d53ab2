package faulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/cli"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// startBalance is every customer's balance before the load, in hundredths.
const startBalance = 500000

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

// server is a `kopilka serve` running in this process.
type server struct {
	dialect string
	db      string // the --db argument
	addr    string // host:port it listens on
	log     *syncBuffer
	cancel  context.CancelFunc
	done    chan error
	once    sync.Once
	err     error
}

// startServer runs `kopilka serve` in-process on a fresh database of the
// dialect, with the extra flags, and waits until it listens. It is stopped when t ends, if the
// test has not stopped it already.
func startServer(t *testing.T, dialect string, extra ...string) *server {
	t.Helper()
	s := &server{dialect: dialect, db: storagetest.URL(t, dialect), log: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ready := make(chan string, 1)
	go func() {
		s.done <- cli.Run(ctx, cli.Env{
			Args:   append([]string{"serve", "--db", s.db, "--addr", "127.0.0.1:0", "--log-level", "warn"}, extra...),
			Getenv: testGetenv,
			Stdin:  strings.NewReader(""),
			Stdout: io.Discard,
			Stderr: s.log,
			Ready:  func(addr string) { ready <- addr },
		})
	}()
	select {
	case s.addr = <-ready:
	case err := <-s.done:
		cancel()
		t.Fatalf("serve exited before listening: %v\n%s", err, s.log)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve: Run = %v, want nil after the context ends", err)
		}
	})
	return s
}

// stop ends the server and returns what Run returned; it may be called
// more than once.
func (s *server) stop() error {
	s.once.Do(func() {
		s.cancel()
		s.err = <-s.done
	})
	return s.err
}

// logProblems logs, and returns the count of, the WARN and ERROR lines the
// server wrote (at --log-level warn it logs only those).
func (s *server) logProblems(t *testing.T) int {
	t.Helper()
	var lines []string
	for l := range strings.SplitSeq(s.log.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, `"level":"WARN"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) > 0 {
		show := lines[:min(len(lines), 10)]
		t.Logf("the server logged %d warnings or errors; the first %d:\n%s", len(lines), len(show), strings.Join(show, "\n"))
	}
	return len(lines)
}

// runCLI runs a kopilka command and returns what it printed.
func runCLI(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := cli.Run(context.Background(), cli.Env{Args: args, Getenv: testGetenv,
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	if err != nil {
		return out.String(), fmt.Errorf("%w (stderr: %s)", err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// newTenant runs `kopilka tenant create` on the server's database and
// returns the admin key it printed.
func (s *server) newTenant(t *testing.T, name string) string {
	t.Helper()
	out, err := runCLI("tenant", "create", "--name", name, "--db", s.db)
	if err != nil {
		t.Fatalf("tenant create --name %s: %v", name, err)
	}
	var tn struct {
		ID  string `json:"tenant_id"`
		Key string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(out), &tn); err != nil || tn.ID == "" || tn.Key == "" {
		t.Fatalf("tenant create printed %q (%v), want a tenant_id and an api_key", out, err)
	}
	return tn.Key
}

// verify runs `kopilka verify` on the server's database (O5).
func (s *server) verify(t *testing.T) {
	t.Helper()
	out, err := runCLI("verify", "--db", s.db)
	if err != nil {
		t.Errorf("verify --db %s = %v, printed %q; want nil", s.dialect, err, out)
		return
	}
	t.Logf("verify: %s", strings.TrimSpace(out))
}

// client speaks the /v1 API with one key.
type client struct {
	base string
	key  string
	hc   *http.Client
	tr   *http.Transport
}

// newClient returns a client of the server at addr; conns bounds its idle
// connections. Its transport is closed when t ends.
func newClient(t *testing.T, addr, key string, conns int, timeout time.Duration) *client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second,
		DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{base: "http://" + addr, key: key, tr: tr, hc: &http.Client{Transport: tr, Timeout: timeout}}
}

// answer is what one HTTP attempt got: a status and body, or an error
// when no complete answer arrived.
type answer struct {
	status   int
	body     []byte
	replayed bool // Idempotent-Replayed: true
	err      error
}

// code returns the problem code of an error answer.
func (a answer) code() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(a.body, &p)
	return p.Code
}

func (a answer) String() string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
}

// send makes one attempt; idemKey may be empty, body may be nil.
func (c *client) send(ctx context.Context, method, path, idemKey string, body []byte) answer {
	var rd io.Reader
	if body != nil {
		// Not a *bytes.Reader: the request then has no GetBody, so that
		// net/http never resends it by itself on a broken keep-alive
		// connection (it would for a POST with an Idempotency-Key). Every
		// lost answer reaches the caller, which records and retries it.
		rd = io.NopCloser(bytes.NewReader(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return answer{err: err}
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{err: fmt.Errorf("read the answer of %d: %w", resp.StatusCode, err)}
	}
	return answer{status: resp.StatusCode, body: b, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
}

// call sends a JSON body (nil for none) and decodes a `want` answer into
// out (which may be nil).
func (c *client) call(ctx context.Context, method, path, idemKey string, body any, want int, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	return decodeAnswer(c.send(ctx, method, path, idemKey, b), method+" "+path, want, out)
}

// decodeAnswer checks a has the status want and decodes its body into out
// (which may be nil); what names the request in errors.
func decodeAnswer(a answer, what string, want int, out any) error {
	if a.err != nil {
		return fmt.Errorf("%s: %w", what, a.err)
	}
	if a.status != want {
		return fmt.Errorf("%s = %s, want %d", what, a, want)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			return fmt.Errorf("%s: decode %s: %w", what, a.body, err)
		}
	}
	return nil
}

// program is the programme of every test: one tier, 3% accrual, at most
// 30% of a receipt in points (RELIABILITY's test programme).
var program = map[string]any{
	"currency": "RUB",
	"tiers": []map[string]any{
		{"name": "Base", "threshold": 0, "accrual_percent": 3, "max_redeem_percent": 30},
	},
	"min_line_price": 100,
	"expiry_days":    365,
}

// customer is an enrolled customer.
type customer struct {
	ID   string
	Card string
}

// setup puts the programme and enrols n customers, each with
// startBalance points credited by an adjustment.
func setup(t *testing.T, c *client, n int) []customer {
	t.Helper()
	ctx := context.Background()
	if err := c.call(ctx, "PUT", "/v1/program", "", program, http.StatusOK, nil); err != nil {
		t.Fatal(err)
	}
	cs := make([]customer, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range cs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			card := fmt.Sprintf("C%06d", i)
			var v struct {
				ID string `json:"id"`
			}
			if err := c.call(ctx, "POST", "/v1/customers", "cus-"+card, map[string]any{"card": card}, http.StatusCreated, &v); err != nil {
				errs <- err
				return
			}
			adj := map[string]any{"amount": startBalance, "reason": "test start", "external_id": "start-" + card}
			if err := c.call(ctx, "POST", "/v1/customers/"+v.ID+"/adjustments", "adj-"+card, adj, http.StatusCreated, nil); err != nil {
				errs <- err
				return
			}
			cs[i] = customer{ID: v.ID, Card: card}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("setup: %v", err)
	}
	return cs
}

// receipt returns random purchase lines: 1 to 5 lines, quantities 1 to 3,
// prices 50.00 to 2050.00, some with a discount.
func receipt(rng *rand.Rand) []map[string]any {
	lines := make([]map[string]any, 1+rng.IntN(5))
	for i := range lines {
		l := map[string]any{"sku": fmt.Sprintf("SKU-%d", rng.IntN(500)), "name": "товар",
			"quantity": 1 + rng.IntN(3), "price": 5000 + rng.IntN(200000)}
		if rng.IntN(4) == 0 {
			l["discount"] = rng.IntN(1000)
		}
		lines[i] = l
	}
	return lines
}

// envInt reads a positive integer setting, or returns def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// envSeed reads a seed setting, or takes one from the clock.
func envSeed(t *testing.T, name string) uint64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return uint64(time.Now().UnixNano())
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an unsigned integer", name, s)
	}
	return n
}

// skipShort skips the battery under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the fault and load battery is skipped with -short")
	}
}
