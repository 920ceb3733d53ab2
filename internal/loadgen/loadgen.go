// Package loadgen is Kopilka's load tool: simulated cashiers against a
// running server over HTTP. Each sale is a calculate followed by a create
// with confirm; a share of sales redeem points and a share are refunded
// afterwards. It reports sales per second, latency percentiles and errors
// by kind. It is an HTTP client only: the invariant check that ends a run
// is the caller's (kopilka bench runs verify when it has the database).
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is a load run.
type Config struct {
	URL         string        // server base URL, e.g. http://127.0.0.1:8080
	Key         string        // an admin API key of the tenant to load
	Cashiers    int           // concurrent simulated cashiers
	Duration    time.Duration // how long to sell
	Rate        float64       // sales per second in total; 0 = as fast as the cashiers go
	Customers   int           // customers to create and sell to
	RedeemShare float64       // share of sales that redeem points (0..1)
	RefundShare float64       // share of sales refunded afterwards (0..1)
	Seed        uint64
	Setup       bool // put a programme first
	// CalculateOnly sends calculate requests alone (no create, no
	// refund): the read path's throughput. Sales then counts calculations.
	CalculateOnly bool
	// Identify, when set, makes each request an identification of one of
	// these customers (GET /v1/customers?card= or ?phone=, alternately)
	// and nothing else: no programme, no new customers, no sales.
	Identify []Ident
}

// Ident is how a customer is known at the till: a card number, a phone,
// or both.
type Ident struct{ Card, Phone string }

// Result is what a run measured.
type Result struct {
	CalculateOnly            bool // Sales are calculations
	Identify                 bool // Sales are identifications
	Sales, Refunds, Requests int64
	Elapsed                  time.Duration
	SaleLatency              Percentiles // calculate + create, one sale
	Errors                   map[string]int64
}

// Percentiles are latency percentiles.
type Percentiles struct {
	P50, P99, P999, Max time.Duration
}

// SalesPerSecond is the throughput of confirmed sales.
func (r *Result) SalesPerSecond() float64 { return float64(r.Sales) / r.Elapsed.Seconds() }

// String prints the result for a person.
func (r *Result) String() string {
	var b strings.Builder
	if r.CalculateOnly || r.Identify {
		what := "calculate"
		if r.Identify {
			what = "identify"
		}
		fmt.Fprintf(&b, "%s: %d in %.1fs = %.0f requests/s\n", what, r.Sales, r.Elapsed.Seconds(), r.SalesPerSecond())
		fmt.Fprintf(&b, "%s latency: p50 %s  p99 %s  p99.9 %s  max %s\n", what,
			ms(r.SaleLatency.P50), ms(r.SaleLatency.P99), ms(r.SaleLatency.P999), ms(r.SaleLatency.Max))
		r.errorLines(&b)
		return b.String()
	}
	fmt.Fprintf(&b, "sales: %d confirmed in %.1fs = %.0f sales/s (%d HTTP requests, %.0f req/s; %d refunds)\n",
		r.Sales, r.Elapsed.Seconds(), r.SalesPerSecond(), r.Requests, float64(r.Requests)/r.Elapsed.Seconds(), r.Refunds)
	fmt.Fprintf(&b, "sale latency (calculate + create): p50 %s  p99 %s  p99.9 %s  max %s\n",
		ms(r.SaleLatency.P50), ms(r.SaleLatency.P99), ms(r.SaleLatency.P999), ms(r.SaleLatency.Max))
	r.errorLines(&b)
	return b.String()
}

func (r *Result) errorLines(b *strings.Builder) {
	if len(r.Errors) == 0 {
		b.WriteString("errors: 0\n")
	} else {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "errors: %s × %d\n", k, r.Errors[k])
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

type runner struct {
	cfg       Config
	client    *http.Client
	customers []string
	tills     []string   // an API key per cashier (see makeTills)
	tillIDs   []string   // the ids of the keys makeTills made
	receipts  [][][]byte // per cashier, calculate-only receipts as JSON
	run       string
	requests  atomic.Int64
	mu        sync.Mutex
	errors    map[string]int64
}

// Run creates the customers, sells for the duration and reports.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Cashiers <= 0 || (cfg.Customers <= 0 && len(cfg.Identify) == 0) || cfg.Duration <= 0 {
		return nil, fmt.Errorf("cashiers, customers and duration must be positive")
	}
	tr := &http.Transport{MaxIdleConns: cfg.Cashiers * 2, MaxIdleConnsPerHost: cfg.Cashiers * 2, IdleConnTimeout: time.Minute}
	r := &runner{cfg: cfg, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, errors: map[string]int64{},
		run: fmt.Sprintf("%x", rand.Uint64())}
	defer tr.CloseIdleConnections()
	for _, id := range cfg.Identify {
		if id.Card == "" && id.Phone == "" {
			return nil, fmt.Errorf("an identification names neither a card nor a phone")
		}
	}
	defer r.dropTills(context.WithoutCancel(ctx))
	if err := r.makeTills(ctx); err != nil {
		return nil, err
	}
	if len(cfg.Identify) > 0 {
		return r.sell(ctx)
	}
	if cfg.Setup {
		if err := r.setup(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.makeCustomers(ctx); err != nil {
		return nil, err
	}
	if cfg.CalculateOnly {
		if err := r.makeReceipts(); err != nil {
			return nil, err
		}
	}
	return r.sell(ctx)
}

// call sends a request and decodes a JSON answer; it returns the status.
// A body of []byte is sent as it is (JSON already).
func (r *runner) call(ctx context.Context, key, method, path string, body, out any) (int, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.URL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	r.requests.Add(1)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(data, &p)
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, p.Code)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

// makeTills gives each cashier a pos key of its own, as each till of a
// shop has: the server limits requests per key. A key that may not make
// keys (a pos key given with --key) is shared by all cashiers.
func (r *runner) makeTills(ctx context.Context) error {
	r.tills = make([]string, r.cfg.Cashiers)
	for w := range r.tills {
		var k struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		status, err := r.call(ctx, r.cfg.Key, "POST", "/v1/api-keys",
			map[string]any{"name": fmt.Sprintf("load test till %d (%s)", w+1, r.run), "scopes": []string{"pos"}}, &k)
		switch {
		case status == http.StatusForbidden && w == 0:
			for i := range r.tills {
				r.tills[i] = r.cfg.Key
			}
			return nil
		case err != nil:
			return fmt.Errorf("make a key for till %d: %w", w+1, err)
		case k.Key == "":
			return fmt.Errorf("make a key for till %d: the answer carries no key", w+1)
		}
		r.tills[w] = k.Key
		r.tillIDs = append(r.tillIDs, k.ID)
	}
	return nil
}

// dropTills revokes the keys makeTills made, so that runs leave none
// behind.
func (r *runner) dropTills(ctx context.Context) {
	for _, id := range r.tillIDs {
		if _, err := r.call(ctx, r.cfg.Key, "DELETE", "/v1/api-keys/"+id, nil, nil); err != nil {
			r.fail("revoke a till's key: " + err.Error())
		}
	}
}

// till is cashier w's key.
func (r *runner) till(w int) string { return r.tills[w] }

func (r *runner) fail(kind string) {
	r.mu.Lock()
	r.errors[kind]++
	r.mu.Unlock()
}

func (r *runner) setup(ctx context.Context) error {
	prog := map[string]any{
		"currency": "RUB",
		"tiers": []map[string]any{
			{"name": "Base", "threshold": 0, "accrual_percent": 3, "max_redeem_percent": 30},
			{"name": "Silver", "threshold": 5000000, "accrual_percent": 5, "max_redeem_percent": 50},
		},
		"min_line_price": 100, "excluded_categories": []string{"tobacco"}, "expiry_days": 365,
	}
	_, err := r.call(ctx, r.cfg.Key, "PUT", "/v1/program", prog, nil)
	return err
}

// makeCustomers enrols the customers with a starting balance, in parallel.
func (r *runner) makeCustomers(ctx context.Context) error {
	r.customers = make([]string, r.cfg.Customers)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	next := atomic.Int64{}
	for range min(r.cfg.Cashiers, 16) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= r.cfg.Customers || firstErr.Load() != nil {
					return
				}
				var c struct {
					ID string `json:"id"`
				}
				card := fmt.Sprintf("LG%s-%07d", r.run, i)
				if _, err := r.call(ctx, r.cfg.Key, "POST", "/v1/customers", map[string]any{"card": card}, &c); err != nil {
					firstErr.Store(err)
					return
				}
				if _, err := r.call(ctx, r.cfg.Key, "POST", "/v1/customers/"+c.ID+"/adjustments",
					map[string]any{"amount": 500000, "reason": "load test start"}, nil); err != nil {
					firstErr.Store(err)
					return
				}
				r.customers[i] = card
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return fmt.Errorf("create customers: %w", err)
	}
	return nil
}

type sale struct {
	id    string
	lines int
}

func (r *runner) sell(ctx context.Context) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	var tick <-chan time.Time
	if r.cfg.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.Rate))
		defer t.Stop()
		tick = t.C
	}
	start := time.Now()
	var sales, refunds atomic.Int64
	lat := make([][]time.Duration, r.cfg.Cashiers)
	var wg sync.WaitGroup
	for w := range r.cfg.Cashiers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(w)))
			var done []sale
			for n := 0; ; n++ {
				if tick != nil {
					select {
					case <-ctx.Done():
						return
					case <-tick:
					}
				}
				if ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				s, ok := r.sale(ctx, rng, w, n)
				if !ok {
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
				sales.Add(1)
				if r.cfg.CalculateOnly || len(r.cfg.Identify) > 0 {
					continue
				}
				done = append(done, s)
				if rng.Float64() < r.cfg.RefundShare && len(done) > 0 {
					k := rng.IntN(len(done))
					if r.refund(ctx, rng, done[k], w, n) {
						refunds.Add(1)
					}
					done = slices.Delete(done, k, k+1)
				}
			}
		})
	}
	wg.Wait()
	res := &Result{CalculateOnly: r.cfg.CalculateOnly, Identify: len(r.cfg.Identify) > 0, Sales: sales.Load(), Refunds: refunds.Load(), Requests: r.requests.Load(),
		Elapsed: time.Since(start), Errors: r.errors}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	res.SaleLatency = percentiles(all)
	return res, nil
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return Percentiles{P50: at(0.50), P99: at(0.99), P999: at(0.999), Max: d[len(d)-1]}
}

// makeReceipts makes 256 receipts per cashier for calculate-only runs,
// from the cashier's own random stream.
func (r *runner) makeReceipts() error {
	r.receipts = make([][][]byte, r.cfg.Cashiers)
	for w := range r.receipts {
		rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(w)))
		r.receipts[w] = make([][]byte, 256)
		for i := range r.receipts[w] {
			b, err := json.Marshal(r.receipt(rng, r.customers[rng.IntN(len(r.customers))]))
			if err != nil {
				return err
			}
			r.receipts[w][i] = b
		}
	}
	return nil
}

func (r *runner) receipt(rng *rand.Rand, card string) map[string]any {
	n := 1 + rng.IntN(5)
	lines := make([]map[string]any, n)
	for i := range lines {
		l := map[string]any{"sku": fmt.Sprintf("SKU-%d", rng.IntN(500)), "name": "товар",
			"quantity": 1 + rng.IntN(3), "price": 5000 + rng.IntN(200000)}
		if rng.IntN(10) == 0 {
			l["category"] = "tobacco"
		}
		if rng.IntN(4) == 0 {
			l["discount"] = rng.IntN(1000)
		}
		lines[i] = l
	}
	body := map[string]any{"customer": map[string]any{"card": card}, "lines": lines}
	if rng.Float64() < r.cfg.RedeemShare {
		body["redeem"] = "max"
	}
	return body
}

// sale is calculate then create with confirm (or, with Identify, one
// identification).
func (r *runner) sale(ctx context.Context, rng *rand.Rand, w, n int) (sale, bool) {
	if len(r.cfg.Identify) > 0 {
		return sale{}, r.identify(ctx, rng, w, n)
	}
	if r.cfg.CalculateOnly {
		// Receipts made up front: the generator shares the machine with
		// the server, and marshalling a receipt of maps cost it more CPU
		// than the server's decoding of it.
		receipts := r.receipts[w]
		if _, err := r.call(ctx, r.till(w), "POST", "/v1/purchases/calculate", receipts[rng.IntN(len(receipts))], nil); err != nil {
			if ctx.Err() == nil {
				r.fail(kind(err))
			}
			return sale{}, false
		}
		return sale{}, true
	}
	card := r.customers[rng.IntN(len(r.customers))]
	body := r.receipt(rng, card)
	if _, err := r.call(ctx, r.till(w), "POST", "/v1/purchases/calculate", body, nil); err != nil {
		if ctx.Err() == nil {
			r.fail(kind(err))
		}
		return sale{}, false
	}
	body["external_id"] = fmt.Sprintf("lg-%s-%d-%d", r.run, w, n)
	body["confirm"] = true
	var p struct {
		ID string `json:"id"`
	}
	if _, err := r.call(ctx, r.till(w), "POST", "/v1/purchases", body, &p); err != nil {
		if ctx.Err() == nil {
			r.fail(kind(err))
		}
		return sale{}, false
	}
	return sale{id: p.ID, lines: len(body["lines"].([]map[string]any))}, true
}

// identify looks a customer up by card or phone, as a till does before a
// sale. A customer not found is an error: the file named customers that
// are there.
func (r *runner) identify(ctx context.Context, rng *rand.Rand, w, n int) bool {
	id := r.cfg.Identify[rng.IntN(len(r.cfg.Identify))]
	q := url.Values{}
	switch {
	case id.Card != "" && (n%2 == 0 || id.Phone == ""):
		q.Set("card", id.Card)
	case id.Phone != "":
		q.Set("phone", id.Phone)
	default:
		return false
	}
	if _, err := r.call(ctx, r.till(w), "GET", "/v1/customers?"+q.Encode(), nil, nil); err != nil {
		if ctx.Err() == nil {
			r.fail(kind(err))
		}
		return false
	}
	return true
}

// refund returns one line of a sale, or the whole of it.
func (r *runner) refund(ctx context.Context, rng *rand.Rand, s sale, w, n int) bool {
	body := map[string]any{"external_id": fmt.Sprintf("lgr-%s-%d-%d", r.run, w, n)}
	if rng.IntN(2) == 0 {
		body["lines"] = []map[string]any{{"line": 1 + rng.IntN(s.lines), "quantity": 1}}
	}
	if _, err := r.call(ctx, r.till(w), "POST", "/v1/purchases/"+s.id+"/refunds", body, nil); err != nil {
		if ctx.Err() == nil {
			r.fail(kind(err))
		}
		return false
	}
	return true
}

// kind names an error for the report without its ids.
func kind(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); i > 0 {
		path := s[:i]
		if q := strings.IndexByte(path, '?'); q > 0 { // an identification: not its number
			return path[:q] + s[i:]
		}
		for _, p := range []string{"/v1/purchases/calculate", "/v1/purchases", "/refunds"} {
			if strings.Contains(path, p) {
				return p + s[i:]
			}
		}
	}
	return s
}
