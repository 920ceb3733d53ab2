package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig shapes a run of the load generator.
type loadConfig struct {
	Rate     float64       // operations per second offered
	Duration time.Duration // how long new operations are offered
	Workers  int           // concurrent clients
	Grace    time.Duration // how long unknown outcomes are retried after the load ends
	Seed     uint64        // seed of the operation mix
}

// stat names a counter of the load.
type stat int

const (
	statAttempts     stat = iota // HTTP attempts at adjustments
	statOK                       // 201
	statRefused                  // 422 insufficient_points
	statRejected                 // other definitive answers
	statConnErrors               // no answer at all
	statUnavailable              // 503
	statServerErrors             // other 5xx: always a bug
	statReplayed                 // answers with Idempotent-Replayed: true
	statDropped                  // offered operations no worker was free to take
	statReads                    // balance reads
	statNegative                 // balance reads below zero
	numStats
)

var statNames = [numStats]string{"attempts", "ok", "refused", "rejected", "conn_errors", "503", "other_5xx",
	"replayed", "dropped", "balance_reads", "negative_balances"}

// counters is one set of load counters.
type counters [numStats]atomic.Int64

func (c *counters) String() string {
	var b strings.Builder
	for i := range c {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%d", statNames[i], c[i].Load())
	}
	return b.String()
}

// restart is one fault and the server's return after it.
type restart struct {
	n        int
	fault    fault
	at       time.Duration // when the fault happened, since the load began
	inflight int64         // adjustment attempts in flight at that moment
	exit     exit          // SIGTERM only
	window   *counters     // SIGTERM only: what clients got between the signal and the exit
	check    string        // SQLite integrity_check between the fault and the restart
	begin    time.Time     // when the new process was started
	start    startInfo
	first2xx atomic.Int64 // ns from begin to the first 201 of the new process; 0: none yet
}

// load offers a bounded, seeded mix of adjustments and balance reads at a
// fixed rate to a pool of workers and records every adjustment's history.
type load struct {
	cfg       loadConfig
	c         *client
	customers []string

	mu   sync.Mutex
	hist []*opRecord

	total    counters
	window   atomic.Pointer[counters] // also counted into while set (the SIGTERM window)
	inflight atomic.Int64
	epoch    atomic.Pointer[restart] // the latest restart
	samples  struct {
		sync.Mutex
		list []string // a few bad answers for the report
	}

	begin time.Time
	done  chan struct{}
}

// job is one offered operation: an adjustment, or a balance read when rec
// is nil.
type job struct {
	rec      *opRecord
	customer string
}

// startLoad begins offering operations; wait waits until every one is
// resolved or the grace period is over.
func startLoad(ctx context.Context, cfg loadConfig, c *client, customers []string) *load {
	l := &load{cfg: cfg, c: c, customers: customers, begin: time.Now(), done: make(chan struct{})}
	jobs := make(chan job, 2*cfg.Workers)
	deadline := l.begin.Add(cfg.Duration + cfg.Grace)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			for j := range jobs {
				if j.rec == nil {
					l.read(ctx, j.customer)
					continue
				}
				l.mu.Lock()
				l.hist = append(l.hist, j.rec)
				l.mu.Unlock()
				l.execute(ctx, j.rec, deadline)
			}
		})
	}
	go l.offer(ctx, jobs)
	go func() {
		wg.Wait()
		close(l.done)
	}()
	return l
}

// wait returns when the load is over.
func (l *load) wait() { <-l.done }

// history returns the records of the adjustments sent; call it after wait.
func (l *load) history() []*opRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hist
}

// offer produces operations at cfg.Rate for cfg.Duration. An operation no
// worker is free to take is dropped (counted), so a stalled server does
// not pile up an unbounded queue.
func (l *load) offer(ctx context.Context, jobs chan<- job) {
	defer close(jobs)
	rng := rand.New(rand.NewPCG(l.cfg.Seed, 0x6b6f70696c6b61))
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	issued := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			elapsed := now.Sub(l.begin)
			if elapsed >= l.cfg.Duration {
				return
			}
			for due := int(elapsed.Seconds()*l.cfg.Rate) - issued; due > 0; due-- {
				issued++
				select {
				case jobs <- l.next(rng, issued):
				default:
					l.count(statDropped)
				}
			}
		}
	}
}

// next makes the n-th operation: 5% balance reads, half of the rest
// credits of 1–50 points, the others debits of 1–60 points, so balances
// hover near zero and the server often refuses with insufficient_points.
func (l *load) next(rng *rand.Rand, n int) job {
	customer := l.customers[rng.IntN(len(l.customers))]
	if rng.IntN(100) < 5 {
		return job{customer: customer}
	}
	amount := int64(100 + rng.IntN(4901))
	if rng.IntN(2) == 0 {
		amount = -int64(100 + rng.IntN(5901))
	}
	id := fmt.Sprintf("%x-%d", l.cfg.Seed, n)
	return job{customer: customer, rec: &opRecord{N: n, CustomerID: customer, Amount: amount,
		Key: "key-" + id, ExternalID: "ext-" + id}}
}

func adjustmentBody(amount int64, externalID string) []byte {
	b, _ := json.Marshal(map[string]any{"amount": amount, "reason": "crash test", "external_id": externalID})
	return b
}

// execute sends an adjustment and retries an unknown outcome with the same
// key and body, with a bounded back-off, until it is definitive or the
// deadline passes.
func (l *load) execute(ctx context.Context, rec *opRecord, deadline time.Time) {
	body := adjustmentBody(rec.Amount, rec.ExternalID)
	path := "/v1/customers/" + rec.CustomerID + "/adjustments"
	backoff := 10 * time.Millisecond
	for {
		rec.Attempts++
		l.count(statAttempts)
		l.inflight.Add(1)
		a := l.c.send(ctx, http.MethodPost, path, rec.Key, body)
		l.inflight.Add(-1)
		if l.settle(rec, a) {
			return
		}
		rec.Unknowns++
		if time.Now().After(deadline) || ctx.Err() != nil {
			rec.Outcome = unknown
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))): // retry back-off, not synchronisation
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// settle records an attempt's answer and reports whether it is definitive.
func (l *load) settle(rec *opRecord, a answer) bool {
	if a.err == nil && a.replayed {
		l.count(statReplayed)
	}
	switch {
	case a.err != nil:
		l.count(statConnErrors)
		return false
	case a.status == http.StatusCreated:
		var op struct {
			ID         string `json:"id"`
			CustomerID string `json:"customer_id"`
			Amount     int64  `json:"amount"`
			ExternalID string `json:"external_id"`
		}
		if err := json.Unmarshal(a.body, &op); err != nil || op.ID == "" || op.Amount != rec.Amount ||
			op.ExternalID != rec.ExternalID || op.CustomerID != rec.CustomerID {
			l.reject(rec, a)
			return true
		}
		l.count(statOK)
		rec.Outcome, rec.OpID, rec.Replayed = ok, op.ID, a.replayed
		if r := l.epoch.Load(); r != nil {
			r.first2xx.CompareAndSwap(0, int64(time.Since(r.begin)))
		}
		return true
	case a.status == http.StatusUnprocessableEntity && a.code() == "insufficient_points":
		l.count(statRefused)
		rec.Outcome, rec.Replayed = refused, a.replayed
		return true
	case a.status == http.StatusServiceUnavailable:
		l.count(statUnavailable)
		return false
	case a.status >= 500:
		l.count(statServerErrors)
		l.sample(fmt.Sprintf("op %d: %s", rec.N, a))
		return false
	}
	l.reject(rec, a)
	return true
}

func (l *load) reject(rec *opRecord, a answer) {
	l.count(statRejected)
	rec.Outcome, rec.Answer = rejected, a.String()
	l.sample(fmt.Sprintf("op %d: %s", rec.N, a))
}

// read checks a balance is never seen below zero (O3).
func (l *load) read(ctx context.Context, customer string) {
	b, err := l.c.balance(ctx, customer)
	if err != nil {
		return // a read during an outage; nothing to learn
	}
	l.count(statReads)
	if b.Available < 0 || b.Pending < 0 {
		l.count(statNegative)
		l.sample(fmt.Sprintf("balance of %s below zero: %+v", customer, b))
	}
}

func (l *load) count(s stat) {
	l.total[s].Add(1)
	if w := l.window.Load(); w != nil {
		w[s].Add(1)
	}
}

func (l *load) sample(s string) {
	l.samples.Lock()
	defer l.samples.Unlock()
	if len(l.samples.list) < 20 {
		l.samples.list = append(l.samples.list, s)
	}
}

// badAnswers returns the sampled bad answers.
func (l *load) badAnswers() []string {
	l.samples.Lock()
	defer l.samples.Unlock()
	return l.samples.list
}
