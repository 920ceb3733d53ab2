package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// fairRun is one tenant's load in the fairness test: calculations,
// purchases with confirm and balance reads at a constant rate.
type fairRun struct {
	c         *client
	customers []customer
	seed      uint64
	prefix    string

	mu      sync.Mutex
	lat     []time.Duration // latencies of the answered requests
	limited atomic.Int64    // 429 limit_exceeded answers
	errors  map[string]int  // unexpected answers by kind
	first   []string
}

func newFairRun(c *client, customers []customer, seed uint64, prefix string) *fairRun {
	return &fairRun{c: c, customers: customers, seed: seed, prefix: prefix, errors: map[string]int{}}
}

// request sends arrival n's request: 60% calculate, 30% purchase with
// confirm, 10% balance.
func (r *fairRun) request(n int) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(n)))
	cu := r.customers[rng.IntN(len(r.customers))]
	method, path, key := "GET", "/v1/customers/"+cu.ID+"/balance", ""
	var b []byte
	switch x := rng.IntN(100); {
	case x < 60:
		method, path = "POST", "/v1/purchases/calculate"
		b, _ = json.Marshal(map[string]any{"customer": map[string]any{"card": cu.Card}, "lines": receipt(rng)})
	case x < 90:
		ext := fmt.Sprintf("%s-%d", r.prefix, n)
		method, path, key = "POST", "/v1/purchases", "key-"+ext
		b, _ = json.Marshal(map[string]any{"customer": map[string]any{"card": cu.Card}, "lines": receipt(rng),
			"external_id": ext, "confirm": true})
	}
	start := time.Now()
	a := r.c.send(context.Background(), method, path, key, b)
	d := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case a.err != nil:
		r.failLocked(errorKind(a.err), a.err.Error())
	case a.status == http.StatusTooManyRequests && a.code() == "limit_exceeded":
		r.limited.Add(1)
	case a.status >= 300 && a.status != http.StatusUnprocessableEntity:
		r.failLocked(fmt.Sprintf("%d %s", a.status, a.code()), a.String())
	default:
		r.lat = append(r.lat, d)
	}
}

func (r *fairRun) failLocked(kind, detail string) {
	r.errors[kind]++
	if len(r.first) < 5 {
		r.first = append(r.first, detail)
	}
}

func (r *fairRun) errorCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.errors {
		n += c
	}
	return n
}

// latencies returns the latencies recorded so far and starts afresh.
func (r *fairRun) latencies() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lat
	r.lat = nil
	return l
}

// s5Ratio is RELIABILITY S5's bound on tenant B's p99 under A's burst,
// as a multiple of its baseline. It is judged only with
// KOPILKA_S5_STRICT=1, on a quiet machine: a p99 of 300 answers is their
// third slowest, and on the shared CI machine one stall of another job
// moves it several times over (measured: ratios from 0.6 to 12 in
// back-to-back runs, limits on or off alike).
const s5Ratio = 2

// TestFairness is RELIABILITY S5's fairness: tenants A and B each send
// the same steady load (50 requests/s: 60% calculate, 30% purchase with
// confirm, 10% balance) for 6 s; then A sends ten times as much for 6 s,
// and B's p99 latency must stay under twice its baseline. B must never be
// refused; A's excess may be (429 limit_exceeded). It runs the server with
// the default limits. It fails on any error, on a refused or dropped
// request of B, and (KOPILKA_S5_STRICT=1, without -race) on B's p99; it
// always logs the figures. Like P1 it runs alone without -race in .ci/run. KOPILKA_S5_FLAGS adds flags to `kopilka serve`:
// "--rate-limit 0 --tenant-inflight 0" shows what the limits are worth.
func TestFairness(t *testing.T) {
	skipShort(t)
	phase := time.Duration(envInt(t, "KOPILKA_S5_SECONDS", 6)) * time.Second
	seed := envSeed(t, "KOPILKA_S5_SEED")
	judge := envInt(t, "KOPILKA_S5_STRICT", 0) > 0
	extra := strings.Fields(os.Getenv("KOPILKA_S5_FLAGS"))
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			rate := envInt(t, "KOPILKA_S5_RATE", rateFor(dialect, 50, 3, 10))
			s := startServer(t, dialect, extra...)
			prefix := fmt.Sprintf("s5-%x", rand.Uint64())
			cA := newClient(t, s.addr, s.newTenant(t, "s5-a"), 1024, 10*time.Second)
			cB := newClient(t, s.addr, s.newTenant(t, "s5-b"), 64, 10*time.Second)
			a := newFairRun(cA, setup(t, cA, 50), seed, prefix+"a")
			b := newFairRun(cB, setup(t, cB, 50), seed^0xb, prefix+"b")

			// load runs A at rateA and B at rate for d, side by side, and
			// returns B's latencies and arrivals.
			load := func(rateA int, d time.Duration) ([]time.Duration, arrival, arrival) {
				var arrA, arrB arrival
				var wg sync.WaitGroup
				wg.Go(func() { arrA = arrive(context.Background(), rateA, d, 1024, a.request) })
				wg.Go(func() { arrB = arrive(context.Background(), rate, d, p1MaxInflight, b.request) })
				wg.Wait()
				a.latencies()
				return b.latencies(), arrA, arrB
			}
			load(rate, 2*time.Second) // warm-up
			base, _, _ := load(rate, phase)
			limitedBefore := a.limited.Load()
			burst, arrA, arrB := load(10*rate, phase)
			pBase, pBurst := measure(base), measure(burst)
			t.Logf("S5 %s: B at %d req/s; baseline (A at %d req/s): B %s (%d answers)", dialect, rate, rate, pBase, len(base))
			t.Logf("S5 %s: burst (A at %d req/s: offered %d, dropped %d, limited %d): B %s (%d answers, dropped %d)",
				dialect, 10*rate, arrA.Offered, arrA.Dropped, a.limited.Load()-limitedBefore, pBurst, len(burst), arrB.Dropped)
			if pBase.P99 > 0 {
				t.Logf("S5 %s: B's p99 under A's burst / baseline = %.2f (RELIABILITY: < %d)", dialect, float64(pBurst.P99)/float64(pBase.P99), s5Ratio)
			}
			if n := b.errorCount(); n > 0 || b.limited.Load() > 0 {
				t.Errorf("tenant B: unexpected answers %d %v, limited %d; want none; the first: %s", n, b.errors, b.limited.Load(), strings.Join(b.first, "; "))
			}
			if n := a.errorCount(); n > 0 {
				t.Errorf("tenant A: unexpected answers %d %v (429 limit_exceeded allowed), want none; the first: %s", n, a.errors, strings.Join(a.first, "; "))
			}
			if arrB.Dropped > 0 {
				t.Errorf("tenant B: dropped arrivals = %d, want 0", arrB.Dropped)
			}
			switch {
			case raceOn:
				t.Logf("S5 %s: built with the race detector: latency is not judged", dialect)
			case !judge:
				t.Logf("S5 %s: latency not judged (KOPILKA_S5_STRICT=1 judges it)", dialect)
			case pBurst.P99 >= s5Ratio*pBase.P99:
				t.Errorf("tenant B's p99 under A's 10× burst = %s, want < %d × its baseline %s", ms(pBurst.P99), s5Ratio, ms(pBase.P99))
			}
			s.logProblems(t)
			if err := s.stop(); err != nil {
				t.Errorf("serve: Run = %v, want nil", err)
			}
			s.verify(t)
		})
	}
}
