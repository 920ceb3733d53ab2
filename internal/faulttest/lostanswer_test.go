package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// i5Config shapes one I5 run.
type i5Config struct {
	Rate      int           // operations offered per second
	Duration  time.Duration // how long operations are offered
	Grace     time.Duration // how long lost answers are retried after the load ends
	Seed      uint64        // seed of the operations and the toxic schedule
	Customers int
	// Control defeats deduplication on purpose: a lost answer is retried
	// under a new Idempotency-Key and a new external_id.
	Control bool
}

// i5Stats counts what the clients saw.
type i5Stats struct {
	attempts  atomic.Int64 // HTTP attempts
	lost      atomic.Int64 // attempts without a definitive answer
	status503 atomic.Int64 // 503: retryable
	other5xx  atomic.Int64 // other 5xx: always a bug
	replayed  atomic.Int64 // definitive answers with Idempotent-Replayed: true
	// replayedAfterLoss counts operations whose answer was lost and whose
	// retry got the stored answer: the fault hit an answer after commit.
	replayedAfterLoss atomic.Int64
}

func (s *i5Stats) String() string {
	return fmt.Sprintf("attempts=%d lost=%d 503=%d other_5xx=%d replayed=%d replayed_after_loss=%d",
		s.attempts.Load(), s.lost.Load(), s.status503.Load(), s.other5xx.Load(), s.replayed.Load(), s.replayedAfterLoss.Load())
}

// i5Run is one I5 load: the client goes through the proxy.
type i5Run struct {
	cfg       i5Config
	c         *client
	customers []customer
	prefix    string // makes keys and external ids unique to the run
	stats     i5Stats

	mu      sync.Mutex
	hist    []*record
	sold    []*record       // acknowledged purchases, for refunds
	answers []time.Duration // latency of the attempts that got an answer
}

// TestLostAnswers is RELIABILITY I5: answers lost after commit are
// retried with the same key and body, and nothing happens twice.
// Like every load test of the package it runs alone, dialects one after
// the other: on two shared cores parallel servers starve each other.
func TestLostAnswers(t *testing.T) {
	skipShort(t)
	seconds := envInt(t, "KOPILKA_I5_SECONDS", 15)
	seed := envSeed(t, "KOPILKA_I5_SEED")
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			cfg := i5Config{Rate: envInt(t, "KOPILKA_I5_RATE", rateFor(dialect, 300, 20, 60)),
				Duration: time.Duration(seconds) * time.Second, Grace: 30 * time.Second, Seed: seed, Customers: 50}
			t.Logf("I5 %s: %d ops/s for %s, seed %d (KOPILKA_I5_SEED=%d replays the schedule)", dialect, cfg.Rate, cfg.Duration, cfg.Seed, cfg.Seed)
			s, r, lv := runI5(t, dialect, cfg)
			if n := r.stats.other5xx.Load(); n > 0 {
				t.Errorf("the server answered %d times with a 5xx other than 503; want 0", n)
			}
			vs := check(r.hist, customerIDs(r.customers), lv)
			for i, v := range vs {
				if i == 30 {
					t.Errorf("… and %d more violations", len(vs)-i)
					break
				}
				t.Errorf("oracle: %s", v)
			}
			if n, floor := r.stats.replayed.Load(), replayFloor(cfg, len(r.hist)); n < floor {
				t.Errorf("replays observed = %d, want at least %d: the toxics did not hit enough answers after commit", n, floor)
			}
			s.verify(t)
		})
	}
}

// replayFloor is the fewest replays a run of ops operations must observe:
// RELIABILITY's 100 for the full form (60 s), and for shorter ones one
// per 30 operations. Fifteen-second runs at 300/s replayed 7–17% of their
// operations (313 to 768 of 4,500 over five seeds), so noise does not
// fail the floor while a schedule that misses the answers still does.
func replayFloor(cfg i5Config, ops int) int64 {
	if cfg.Duration >= time.Minute {
		return 100
	}
	return int64(max(5, ops/30))
}

// rateFor is the rate a load offers: normal, or in a race build what each
// database sustains under the detector on two shared cores (SQLite, pure
// Go here, served about 50 requests/s with it; PostgreSQL many more).
func rateFor(dialect string, normal, raceSQLite, racePostgres int) int {
	switch {
	case !raceOn:
		return normal
	case dialect == "sqlite":
		return raceSQLite
	}
	return racePostgres
}

// TestLostAnswersControl is I5's negative control: the client retries a
// lost answer under a new key and a new external_id, so a lost answer
// after commit becomes a second purchase, and the oracle must say so.
func TestLostAnswersControl(t *testing.T) {
	skipShort(t)
	seed := envSeed(t, "KOPILKA_I5_SEED")
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			cfg := i5Config{Rate: rateFor(dialect, 200, 15, 50), Duration: 4 * time.Second, Grace: 30 * time.Second,
				Seed: seed, Customers: 20, Control: true}
			t.Logf("I5 control %s: seed %d", dialect, cfg.Seed)
			_, r, lv := runI5(t, dialect, cfg)
			ghosts := 0
			for _, rec := range r.hist {
				for _, ext := range rec.Abandoned {
					if lv.Purchases[ext] != nil {
						ghosts++
					}
				}
			}
			t.Logf("control: %d abandoned purchases were committed after their answer was lost", ghosts)
			if ghosts == 0 {
				t.Fatalf("control setup: no answer was lost after commit (%s), so the control proves nothing; make the toxics harsher", &r.stats)
			}
			vs := check(r.hist, customerIDs(r.customers), lv)
			kinds := map[string]int{}
			for _, v := range vs {
				kinds[v.Kind]++
			}
			t.Logf("control: the oracle reports %v", kinds)
			if kinds["unacknowledged"] < ghosts {
				t.Errorf("check(control history) found %d unacknowledged operations, want at least %d (one per committed abandoned purchase); all: %v",
					kinds["unacknowledged"], ghosts, kinds)
			}
			if kinds["balance"] == 0 {
				t.Errorf("check(control history) found no balance mismatch, want at least one; all: %v", kinds)
			}
		})
	}
}

func customerIDs(cs []customer) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// runI5 starts a server and a proxy in front of it, sets a tenant up,
// runs the load with the toxic schedule and reads the ledger back.
func runI5(t *testing.T, dialect string, cfg i5Config) (*server, *i5Run, ledgerView) {
	t.Helper()
	s := startServer(t, dialect)
	key := s.newTenant(t, "i5")
	direct := newClient(t, s.addr, key, 16, 30*time.Second)
	r := &i5Run{cfg: cfg, customers: setup(t, direct, cfg.Customers), prefix: fmt.Sprintf("i5-%x", rand.Uint64())}
	proxy := startProxy(t, s.addr)
	// A connection per attempt, as many cash registers do: each attempt
	// meets a toxic with its toxicity's odds, so the share of lost answers
	// does not depend on how many connections the load happens to keep.
	r.c = newClient(t, proxy.Listen, key, 0, 10*time.Second)
	r.c.tr.DisableKeepAlives = true

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+cfg.Grace)
	defer cancel()
	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.Duration)
	defer stopLoad()
	var phases map[string]int
	toxicsDone := make(chan struct{})
	go func() {
		defer close(toxicsDone)
		phases = runToxics(loadCtx, t, proxy, cfg.Seed, cfg.Control)
	}()
	arr := arrive(loadCtx, cfg.Rate, cfg.Duration, 512, func(n int) { r.operate(ctx, n) })
	<-toxicsDone
	outcomes := map[string]int{}
	for _, rec := range r.hist {
		outcomes[rec.Kind.String()+" "+rec.Outcome.String()]++
	}
	t.Logf("I5 %s: toxic phases %v; offered %d operations in %s (dropped %d, max start lag %s); outcomes %v; %s",
		dialect, phases, arr.Offered, arr.Elapsed.Round(time.Millisecond), arr.Dropped, arr.MaxLag.Round(time.Millisecond),
		outcomes, &r.stats)
	t.Logf("I5 %s: latency of the %d attempts answered: %s", dialect, len(r.answers), measure(r.answers))

	lv, err := readLedger(context.Background(), direct, customerIDs(r.customers), r.hist)
	if err != nil {
		t.Fatalf("read the ledger back: %v", err)
	}
	s.logProblems(t)
	if err := s.stop(); err != nil {
		t.Errorf("serve: Run = %v, want nil", err)
	}
	return s, r, lv
}

// startProxy starts an in-process Toxiproxy in front of upstream.
func startProxy(t *testing.T, upstream string) *toxiproxy.Proxy {
	t.Helper()
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(api, "kopilka", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("start the proxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// runToxics switches downstream (server→client) toxics on the proxy on a
// schedule drawn from seed until ctx ends, then removes them. Phases last
// 0.3–1.2 s: no toxic, limit_data (the connection is closed after 100 to
// 3000 more bytes, mostly inside an answer) or reset_peer (the connection
// is reset 0–10 ms after the answer starts), each with toxicity 0.1–0.5,
// the share of connections it applies to (Toxiproxy draws which
// connections from its own unseeded source). The control keeps a toxic on
// all the time, at toxicity 0.5. It returns how many phases of each kind
// it ran.
func runToxics(ctx context.Context, t *testing.T, p *toxiproxy.Proxy, seed uint64, control bool) map[string]int {
	rng := rand.New(rand.NewPCG(seed, 0x70c1c))
	phases := map[string]int{}
	current, n := "", 0
	remove := func() {
		if current != "" {
			if err := p.Toxics.RemoveToxic(context.Background(), current); err != nil {
				t.Errorf("remove toxic %s: %v", current, err)
			}
			current = ""
		}
	}
	defer remove()
	for ctx.Err() == nil {
		remove()
		toxicity := 0.1 + 0.4*rng.Float64()
		// The kinds take turns, so every run of a given length gets about
		// as much of each; their settings and lengths are drawn.
		x := []string{"limit_data", "reset_peer", "none"}[n%3]
		if control {
			toxicity = 0.5
			x = []string{"limit_data", "reset_peer"}[n%2]
		}
		n++
		var spec map[string]any
		switch x {
		case "none":
			phases["none"]++
		case "limit_data":
			phases["limit_data"]++
			spec = map[string]any{"name": "cut", "type": "limit_data", "stream": "downstream", "toxicity": toxicity,
				"attributes": map[string]any{"bytes": 100 + rng.IntN(2900)}}
		case "reset_peer":
			phases["reset_peer"]++
			spec = map[string]any{"name": "reset", "type": "reset_peer", "stream": "downstream", "toxicity": toxicity,
				"attributes": map[string]any{"timeout": rng.IntN(11)}}
		}
		if spec != nil {
			b, _ := json.Marshal(spec)
			if _, err := p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
				t.Errorf("add toxic %s: %v", b, err)
				return phases
			}
			current = spec["name"].(string)
		}
		select {
		case <-ctx.Done():
		case <-time.After(300*time.Millisecond + time.Duration(rng.IntN(900))*time.Millisecond):
		}
	}
	return phases
}

// operate runs operation n: a purchase, or (one in five, once there are
// sales) a refund of an acknowledged purchase.
func (r *i5Run) operate(ctx context.Context, n int) {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(n)))
	var rec *record
	if rng.IntN(5) == 0 {
		rec = r.refund(ctx, rng, n)
	}
	if rec == nil {
		rec = r.purchase(ctx, rng, n)
	}
	r.mu.Lock()
	r.hist = append(r.hist, rec)
	if rec.Kind == kindPurchase && rec.Outcome == ok {
		r.sold = append(r.sold, rec)
	}
	r.mu.Unlock()
}

// purchase sells a random receipt with confirm; three in ten redeem the
// most they may, two in ten a small fixed amount.
func (r *i5Run) purchase(ctx context.Context, rng *rand.Rand, n int) *record {
	cu := r.customers[rng.IntN(len(r.customers))]
	lines := receipt(rng)
	body := map[string]any{"customer": map[string]any{"card": cu.Card}, "lines": lines, "confirm": true}
	switch x := rng.IntN(10); {
	case x < 3:
		body["redeem"] = "max"
	case x < 5:
		body["redeem"] = 100 + rng.IntN(3000)
	}
	rec := &record{N: n, Kind: kindPurchase, CustomerID: cu.ID, Lines: len(lines)}
	a := r.send(ctx, rec, "/v1/purchases", body)
	if rec.Outcome != ok {
		return rec
	}
	var v struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Redeem   int64  `json:"redeem"`
		Accrue   int64  `json:"accrue"`
		Customer struct {
			ID string `json:"id"`
		} `json:"customer"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil || v.ID == "" || v.Customer.ID != cu.ID || v.Status != kopilka.PurchaseComplete {
		rec.Outcome, rec.Answer = rejected, fmt.Sprintf("an unexpected 201 (%v): %s", err, a.body)
		return rec
	}
	rec.PurchaseID, rec.Redeem, rec.Accrue = v.ID, v.Redeem, v.Accrue
	return rec
}

// refund returns one unit of one line, or everything left, of a random
// acknowledged purchase; it returns nil when nothing was sold yet.
func (r *i5Run) refund(ctx context.Context, rng *rand.Rand, n int) *record {
	r.mu.Lock()
	if len(r.sold) == 0 {
		r.mu.Unlock()
		return nil
	}
	p := r.sold[rng.IntN(len(r.sold))]
	r.mu.Unlock()
	body := map[string]any{}
	if rng.IntN(2) == 0 {
		body["lines"] = []map[string]any{{"line": 1 + rng.IntN(p.Lines), "quantity": 1}}
	}
	rec := &record{N: n, Kind: kindRefund, CustomerID: p.CustomerID, PurchaseID: p.PurchaseID}
	a := r.send(ctx, rec, "/v1/purchases/"+p.PurchaseID+"/refunds", body)
	if rec.Outcome != ok {
		return rec
	}
	var v struct {
		ID         string               `json:"id"`
		PurchaseID string               `json:"purchase_id"`
		Returned   int64                `json:"points_returned"`
		Revoked    int64                `json:"points_revoked"`
		Lines      []kopilka.RefundLine `json:"lines"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil || v.ID == "" || v.PurchaseID != p.PurchaseID {
		rec.Outcome, rec.Answer = rejected, fmt.Sprintf("an unexpected 201 (%v): %s", err, a.body)
		return rec
	}
	rec.RefundID, rec.Returned, rec.Revoked, rec.RefundLines = v.ID, v.Returned, v.Revoked, v.Lines
	return rec
}

// send posts body (with the record's external_id added) until the answer
// is definitive or ctx ends, and sets the record's outcome. A lost answer
// — no complete answer, a timeout, or a 5xx — is retried after a bounded
// backoff with the same key and body; the control retries it under a new
// key and a new external_id instead.
func (r *i5Run) send(ctx context.Context, rec *record, path string, body map[string]any) answer {
	gen := 0
	renew := func() []byte {
		rec.ExternalID = fmt.Sprintf("%s-%d-%d", r.prefix, rec.N, gen)
		rec.Key = "key-" + rec.ExternalID
		body["external_id"] = rec.ExternalID
		b, _ := json.Marshal(body)
		return b
	}
	b := renew()
	backoff := 5 * time.Millisecond
	for {
		if ctx.Err() != nil {
			rec.Outcome = unknown
			return answer{}
		}
		rec.Attempts++
		r.stats.attempts.Add(1)
		t0 := time.Now()
		a := r.c.send(ctx, "POST", path, rec.Key, b)
		if a.err == nil {
			r.mu.Lock()
			r.answers = append(r.answers, time.Since(t0))
			r.mu.Unlock()
		}
		if a.err == nil && a.status < 500 {
			switch {
			case a.status == http.StatusCreated:
				rec.Outcome = ok
			case a.status == http.StatusUnprocessableEntity:
				rec.Outcome, rec.Answer = refused, fmt.Sprintf("%d %s", a.status, a.code())
			default:
				rec.Outcome, rec.Answer = rejected, a.String()
			}
			rec.Replayed = a.replayed
			if a.replayed {
				r.stats.replayed.Add(1)
				if rec.Lost > 0 {
					r.stats.replayedAfterLoss.Add(1)
				}
			}
			return a
		}
		if ctx.Err() != nil {
			rec.Outcome = unknown
			return answer{}
		}
		rec.Lost++
		r.stats.lost.Add(1)
		switch {
		case a.err != nil:
		case a.status == http.StatusServiceUnavailable:
			r.stats.status503.Add(1)
		default:
			r.stats.other5xx.Add(1)
		}
		if r.cfg.Control {
			rec.Abandoned = append(rec.Abandoned, rec.ExternalID)
			gen++
			b = renew()
		}
		jitter := time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
		case <-time.After(backoff + jitter):
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}
