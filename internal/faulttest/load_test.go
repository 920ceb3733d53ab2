package faulttest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// P1's latency targets (RELIABILITY 2.5). CI fails only above
// ciFactor times these, since its machine is shared and noisy; the nightly
// run sets KOPILKA_P1_STRICT=1 to apply them as written.
var p1Targets = percentiles{P50: 10 * time.Millisecond, P99: 50 * time.Millisecond, P999: 150 * time.Millisecond}

const ciFactor = 3

// p1MaxInflight bounds the requests in flight; an arrival beyond it is
// dropped, and a dropped arrival fails P1.
const p1MaxInflight = 256

// request kinds of the P1 mix.
const (
	reqCalculate = iota // 60%
	reqPurchase         // 25%, with confirm
	reqBalance          // 10%
	reqRefund           // 5%
	numReqKinds
)

var reqNames = [numReqKinds]string{"calculate", "purchase", "balance", "refund"}

// percentiles are latency percentiles.
type percentiles struct {
	P50, P99, P999, Max time.Duration
}

func (p percentiles) String() string {
	return fmt.Sprintf("p50 %s p99 %s p99.9 %s max %s", ms(p.P50), ms(p.P99), ms(p.P999), ms(p.Max))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// measure returns the percentiles of d (which it sorts).
func measure(d []time.Duration) percentiles {
	if len(d) == 0 {
		return percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return percentiles{P50: at(0.50), P99: at(0.99), P999: at(0.999), Max: d[len(d)-1]}
}

// sale is an acknowledged purchase a refund may return goods of.
type sale struct {
	id    string
	lines int
}

// p1Run is one P1 load.
type p1Run struct {
	c         *client
	customers []customer
	seed      uint64
	prefix    string

	t0       time.Time       // when the load began
	kinds    []int8          // by arrival: its request kind
	starts   []time.Duration // by arrival: when it was sent, since t0
	lat      []time.Duration // by arrival: its latency; 0 when not started
	refusals atomic.Int64    // 422 answers: business refusals, not errors

	mu     sync.Mutex
	sold   []sale
	errors map[string]int // unexpected errors by kind
	first  []string       // the first few unexpected errors in full
}

// TestMixedLoad is RELIABILITY P1: 60% calculate, 25% purchase with
// confirm, 10% balance reads and 5% refunds offered at a constant rate.
// It passes with no unexpected error, no dropped arrival and latency
// within the CI bound (not judged in a race build); the figures are logged
// either way. It is not parallel: the load tests of this package run one
// at a time so that their latencies are their own.
func TestMixedLoad(t *testing.T) {
	skipShort(t)
	seconds := 20
	if raceOn {
		seconds = 10
	}
	d := time.Duration(envInt(t, "KOPILKA_P1_SECONDS", seconds)) * time.Second
	seed := envSeed(t, "KOPILKA_P1_SEED")
	limits := percentiles{P50: ciFactor * p1Targets.P50, P99: ciFactor * p1Targets.P99, P999: ciFactor * p1Targets.P999}
	if envInt(t, "KOPILKA_P1_STRICT", 0) > 0 {
		limits = p1Targets
	}
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			rate := envInt(t, "KOPILKA_P1_RATE", rateFor(dialect, 500, 30, 100))
			s := startServer(t, dialect)
			key := s.newTenant(t, "p1")
			r := &p1Run{c: newClient(t, s.addr, key, p1MaxInflight, 5*time.Second), seed: seed,
				prefix: fmt.Sprintf("p1-%x", rand.Uint64()), errors: map[string]int{}}
			r.customers = setup(t, r.c, 100)
			r.seedSales(t)
			// A warm-up at the same rate, judged for errors but not for
			// latency: connections, caches and the database's buffers
			// settle first, as any load test's ramp lets them.
			if warm := time.Duration(envInt(t, "KOPILKA_P1_WARMUP_SECONDS", 3)) * time.Second; warm > 0 {
				w := &p1Run{c: r.c, seed: seed ^ 0x5eed, prefix: r.prefix + "w", errors: map[string]int{}, customers: r.customers, sold: r.sold}
				n := int(int64(rate) * int64(warm) / int64(time.Second))
				w.kinds, w.starts, w.lat = make([]int8, n), make([]time.Duration, n), make([]time.Duration, n)
				w.t0 = time.Now()
				arrive(context.Background(), rate, warm, p1MaxInflight, w.request)
				if n := w.errorCount(); n > 0 {
					t.Errorf("warm-up: unexpected errors = %d %v, want 0; the first: %s", n, w.errors, strings.Join(w.first, "; "))
				}
				r.sold = w.sold
			}
			total := int(int64(rate) * int64(d) / int64(time.Second))
			r.kinds, r.starts, r.lat = make([]int8, total), make([]time.Duration, total), make([]time.Duration, total)
			r.t0 = time.Now()

			stalls := probeStalls()
			arr := arrive(context.Background(), rate, d, p1MaxInflight, r.request)
			stalled := stalls()

			var all []time.Duration
			var byKind [numReqKinds][]time.Duration
			for n, l := range r.lat {
				if l > 0 {
					all = append(all, l)
					byKind[r.kinds[n]] = append(byKind[r.kinds[n]], l)
				}
			}
			got := measure(all)
			t.Logf("P1 %s: %d req/s for %s (seed %d): offered %d, completed %d in %s (%.1f req/s), dropped %d, max start lag %s, 422 refusals %d, unexpected errors %d",
				dialect, rate, d, seed, arr.Offered, len(all), arr.Elapsed.Round(time.Millisecond),
				float64(len(all))/arr.Elapsed.Seconds(), arr.Dropped, arr.MaxLag.Round(time.Millisecond), r.refusals.Load(), r.errorCount())
			t.Logf("P1 %s latency, all requests: %s (targets p50 %s p99 %s p99.9 %s; fail above %s %s %s)", dialect, got,
				ms(p1Targets.P50), ms(p1Targets.P99), ms(p1Targets.P999), ms(limits.P50), ms(limits.P99), ms(limits.P999))
			t.Logf("P1 %s: this process's own wake-up delays meanwhile (a 1 ms sleep's overshoot; high values mean the machine, not the server, was busy): %s",
				dialect, stalled)
			for k := range byKind {
				t.Logf("P1 %s latency, %-9s (%5d): %s", dialect, reqNames[k], len(byKind[k]), measure(byKind[k]))
			}
			for _, w := range r.worstWindows(3) {
				t.Logf("P1 %s slow window: %s", dialect, w)
			}
			if n := r.errorCount(); n > 0 {
				t.Errorf("unexpected errors = %d %v, want 0; the first: %s", n, r.errors, strings.Join(r.first, "; "))
			}
			if arr.Dropped > 0 {
				t.Errorf("dropped arrivals = %d (more than %d requests in flight), want 0", arr.Dropped, p1MaxInflight)
			}
			if raceOn {
				t.Logf("P1 %s: built with the race detector: latency is not judged (run P1 without -race for its figures)", dialect)
			} else if got.P50 > limits.P50 || got.P99 > limits.P99 || got.P999 > limits.P999 {
				t.Errorf("latency %s, want p50 ≤ %s, p99 ≤ %s, p99.9 ≤ %s", got, ms(limits.P50), ms(limits.P99), ms(limits.P999))
			}
			s.logProblems(t)
			if err := s.stop(); err != nil {
				t.Errorf("serve: Run = %v, want nil", err)
			}
			s.verify(t)
		})
	}
}

// seedSales makes one confirmed purchase per customer, so refunds have
// something to return from the first second.
func (r *p1Run) seedSales(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(r.seed, 1<<40))
	for i, cu := range r.customers {
		body := map[string]any{"customer": map[string]any{"card": cu.Card}, "lines": receipt(rng),
			"external_id": fmt.Sprintf("%s-seed-%d", r.prefix, i), "confirm": true}
		var v struct {
			ID string `json:"id"`
		}
		if err := r.c.call(context.Background(), "POST", "/v1/purchases", "", body, http.StatusCreated, &v); err != nil {
			t.Fatalf("seed sales: %v", err)
		}
		r.sold = append(r.sold, sale{id: v.ID, lines: len(body["lines"].([]map[string]any))})
	}
}

// request sends arrival n's request and records its latency and outcome.
func (r *p1Run) request(n int) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(n)))
	cu := r.customers[rng.IntN(len(r.customers))]
	var method, path, key string
	var body map[string]any
	k := reqBalance
	switch x := rng.IntN(100); {
	case x < 60:
		k, method, path = reqCalculate, "POST", "/v1/purchases/calculate"
		body = map[string]any{"customer": map[string]any{"card": cu.Card}, "lines": receipt(rng)}
		if rng.IntN(3) == 0 {
			body["redeem"] = "max"
		}
	case x < 85:
		k, method, path = reqPurchase, "POST", "/v1/purchases"
		body = map[string]any{"customer": map[string]any{"card": cu.Card}, "lines": receipt(rng),
			"external_id": fmt.Sprintf("%s-%d", r.prefix, n), "confirm": true}
		if rng.IntN(3) == 0 {
			body["redeem"] = "max"
		}
		key = "key-" + body["external_id"].(string)
	case x < 95:
		method, path = "GET", "/v1/customers/"+cu.ID+"/balance"
	default:
		r.mu.Lock()
		s := r.sold[rng.IntN(len(r.sold))]
		r.mu.Unlock()
		k, method, path = reqRefund, "POST", "/v1/purchases/"+s.id+"/refunds"
		body = map[string]any{"external_id": fmt.Sprintf("%s-r-%d", r.prefix, n),
			"lines": []map[string]any{{"line": 1 + rng.IntN(s.lines), "quantity": 1}}}
		key = "key-" + body["external_id"].(string)
	}
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	r.kinds[n] = int8(k)
	start := time.Now()
	r.starts[n] = start.Sub(r.t0)
	a := r.c.send(context.Background(), method, path, key, b)
	r.lat[n] = max(time.Since(start), time.Nanosecond)
	switch {
	case a.err != nil:
		r.fail(reqNames[k]+" "+errorKind(a.err), a.err.Error())
	case a.status == http.StatusUnprocessableEntity:
		r.refusals.Add(1)
	case a.status >= 300:
		r.fail(fmt.Sprintf("%s %d %s", reqNames[k], a.status, a.code()), a.String())
	case k == reqPurchase:
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(a.body, &v); err != nil || v.ID == "" {
			r.fail(reqNames[k]+" bad answer", a.String())
			return
		}
		r.mu.Lock()
		r.sold = append(r.sold, sale{id: v.ID, lines: len(body["lines"].([]map[string]any))})
		r.mu.Unlock()
	}
}

// errorKind names a transport error: a timeout or a connection error.
func errorKind(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return "timeout"
	}
	return "connection error"
}

func (r *p1Run) fail(kind, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[kind]++
	if len(r.first) < 5 {
		r.first = append(r.first, detail)
	}
}

func (r *p1Run) errorCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.errors {
		n += c
	}
	return n
}

// probeStalls measures, until the returned function is called, how late a
// goroutine of this process wakes from a 1 ms sleep, and returns the
// percentiles of the overshoot: the share of a latency tail that comes from
// a busy machine rather than from the server.
func probeStalls() func() percentiles {
	stop := make(chan struct{})
	done := make(chan percentiles)
	go func() {
		var lags []time.Duration
		for {
			select {
			case <-stop:
				done <- measure(lags)
				return
			default:
			}
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			lags = append(lags, max(0, time.Since(t0)-time.Millisecond))
		}
	}()
	return func() percentiles {
		close(stop)
		return <-done
	}
}

// worstWindows describes the k 100 ms windows (by send time) with the
// slowest requests: how many requests each had, its slowest, and how many
// writes (purchases, refunds) and reads took over 100 ms — whether a
// tail came from stalled writes that reads then queued behind.
func (r *p1Run) worstWindows(k int) []string {
	const width = 100 * time.Millisecond
	type window struct {
		at                       time.Duration
		n, slowWrites, slowReads int
		max                      time.Duration
	}
	byAt := map[time.Duration]*window{}
	for i, l := range r.lat {
		if l == 0 {
			continue
		}
		at := r.starts[i].Truncate(width)
		w := byAt[at]
		if w == nil {
			w = &window{at: at}
			byAt[at] = w
		}
		w.n++
		w.max = max(w.max, l)
		switch {
		case l <= width:
		case r.kinds[i] == reqPurchase || r.kinds[i] == reqRefund:
			w.slowWrites++
		default:
			w.slowReads++
		}
	}
	ws := make([]*window, 0, len(byAt))
	for _, w := range byAt {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b *window) int { return cmp.Compare(b.max, a.max) })
	var out []string
	for _, w := range ws[:min(k, len(ws))] {
		out = append(out, fmt.Sprintf("from %.1fs: %d requests, slowest %s; over 100 ms: %d writes, %d reads",
			w.at.Seconds(), w.n, ms(w.max), w.slowWrites, w.slowReads))
	}
	return out
}
