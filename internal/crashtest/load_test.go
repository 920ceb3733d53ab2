package crashtest

import (
	"context"
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
	statAttempts     stat = iota // HTTP attempts at state-changing requests
	statOK                       // 200/201 of a state-changing request
	statRefused                  // 422 insufficient_points or redeem_limit_exceeded
	statRejected                 // other definitive answers
	statConnErrors               // no answer at all
	statUnavailable              // 503
	statServerErrors             // other 5xx: always a bug
	statReplayed                 // answers with Idempotent-Replayed: true
	statDropped                  // offered operations no worker was free to take
	statReads                    // balance reads
	statNegative                 // balance reads below zero that no refund explains
	statDebt                     // balance reads below zero after a refund of the customer (a debt)
	numStats
)

var statNames = [numStats]string{"attempts", "ok", "refused", "rejected", "conn_errors", "503", "other_5xx",
	"replayed", "dropped", "balance_reads", "negative_balances", "debt_reads"}

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
	inflight int64         // state-changing attempts in flight at that moment
	exit     exit          // SIGTERM only
	window   *counters     // SIGTERM only: what clients got between the signal and the exit
	check    string        // SQLite integrity_check between the fault and the restart
	begin    time.Time     // when the new process was started
	start    startInfo
	first2xx atomic.Int64 // ns from begin to the first 2xx of the new process; 0: none yet
}

// load offers a bounded, seeded mix of adjustments, purchases (sales,
// and orders later confirmed or cancelled), refunds and balance reads at
// a fixed rate to a pool of workers and records every state-changing
// request's history.
type load struct {
	cfg       loadConfig
	c         *client
	customers []string

	mu   sync.Mutex
	hist []*opRecord

	// Acknowledged purchases waiting for a later request: orders to
	// confirm or cancel, complete purchases with something left to refund.
	pending, complete pool
	// estimate is, per customer, the available points the acknowledged
	// answers add up to: stale under concurrency, good enough to ask for
	// redemptions the customer can likely afford.
	estimate map[string]*atomic.Int64
	// refunding is set, per customer, before its first refund is sent:
	// from then on a refund's revocation may take its balance below zero.
	refunding map[string]*atomic.Bool

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

// job is one offered operation: its number, kind and customer (for a
// confirm, cancel or refund the worker picks the purchase when it takes
// the job) and the seed of its own parameters.
type job struct {
	n        int
	kind     opKind
	read     bool // a balance read instead
	customer string
	seed     uint64
}

// startLoad begins offering operations; wait waits until every one is
// resolved or the grace period is over.
func startLoad(ctx context.Context, cfg loadConfig, c *client, customers []string) *load {
	l := &load{cfg: cfg, c: c, customers: customers, begin: time.Now(), done: make(chan struct{}),
		estimate: map[string]*atomic.Int64{}, refunding: map[string]*atomic.Bool{}}
	for _, id := range customers {
		l.estimate[id], l.refunding[id] = new(atomic.Int64), new(atomic.Bool)
	}
	jobs := make(chan job, 2*cfg.Workers)
	deadline := l.begin.Add(cfg.Duration + cfg.Grace)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			for j := range jobs {
				if j.read {
					l.read(ctx, j.customer)
					continue
				}
				rec, t := l.materialise(j)
				l.mu.Lock()
				l.hist = append(l.hist, rec)
				l.mu.Unlock()
				l.execute(ctx, rec, t, deadline)
				l.after(rec, t)
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

// history returns the records of the requests sent; call it after wait.
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

// next makes the n-th operation: its kind from the mix (mixKind), a
// customer, and a seed for its parameters.
func (l *load) next(rng *rand.Rand, n int) job {
	kind, read := mixKind(rng)
	return job{n: n, kind: kind, read: read, customer: l.customers[rng.IntN(len(l.customers))], seed: rng.Uint64()}
}

// materialise turns a job into the record of its request: adjustments of
// +1..+50 or -1..-60 points (so balances hover near zero and the server
// often refuses), sales and orders of 1–3 lines with or without a
// redemption, and a confirm, cancel or refund of a purchase it takes from
// a pool (t), or a sale when the pool is empty.
func (l *load) materialise(j job) (*opRecord, *target) {
	rng := rand.New(rand.NewPCG(j.seed, uint64(j.n)))
	id := fmt.Sprintf("%x-%d", l.cfg.Seed, j.n)
	rec := &opRecord{N: j.n, Kind: j.kind, CustomerID: j.customer, Key: "key-" + id}
	var t *target
	switch j.kind {
	case kindConfirm, kindCancel:
		t = l.pending.take(rng)
	case kindRefund:
		t = l.complete.take(rng)
	}
	if t == nil && (j.kind == kindConfirm || j.kind == kindCancel || j.kind == kindRefund) {
		rec.Kind = kindSale
	}
	if t != nil {
		rec.CustomerID, rec.PurchaseID, rec.PurchaseExt = t.create.CustomerID, t.create.Purchase.ID, t.create.ExternalID
	}
	switch rec.Kind {
	case kindAdjust:
		rec.ExternalID = "adj-" + id
		rec.Amount = int64(100 + rng.IntN(4901))
		if rng.IntN(2) == 0 {
			rec.Amount = -int64(100 + rng.IntN(5901))
		}
	case kindSale, kindOrder:
		rec.ExternalID = "pur-" + id
		rec.Lines = receipt(rng)
		rec.Redeem = redeemFor(rng, l.estimate[rec.CustomerID].Load())
	case kindRefund:
		rec.ExternalID = "ref-" + id
		rec.RefundLines = refundLinesFor(rng, t)
		l.refunding[rec.CustomerID].Store(true)
	}
	return rec, t
}

// after does the client's bookkeeping of a finished request: the
// estimate of the customer's points, and the pools. A target whose
// request did not end with an acknowledgement leaves the pools for good.
func (l *load) after(rec *opRecord, t *target) {
	if rec.Outcome != ok {
		return
	}
	est := l.estimate[rec.CustomerID]
	switch rec.Kind {
	case kindAdjust:
		est.Add(rec.Amount)
	case kindSale:
		est.Add(rec.Purchase.Accrue - rec.Purchase.Redeem)
		l.complete.put(newTarget(rec))
	case kindOrder:
		est.Add(-rec.Purchase.Redeem)
		l.pending.put(newTarget(rec))
	case kindConfirm:
		est.Add(t.create.Purchase.Accrue)
		l.complete.put(t)
	case kindCancel:
		est.Add(t.create.Purchase.Redeem)
	case kindRefund:
		est.Add(rec.Refund.PointsReturned - rec.Refund.PointsRevoked)
		for _, rl := range rec.Refund.Lines {
			t.refunded[rl.Line-1] += rl.Quantity
		}
		if !t.exhausted() {
			l.complete.put(t)
		}
	}
}

// execute sends a request and retries an unknown outcome with the same
// key and body, with a bounded back-off, until it is definitive or the
// deadline passes.
func (l *load) execute(ctx context.Context, rec *opRecord, t *target, deadline time.Time) {
	path, body := rec.request()
	backoff := 10 * time.Millisecond
	for {
		rec.Attempts++
		l.count(statAttempts)
		l.inflight.Add(1)
		a := l.c.send(ctx, http.MethodPost, path, rec.Key, body)
		l.inflight.Add(-1)
		if l.settle(rec, t, a) {
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
func (l *load) settle(rec *opRecord, t *target, a answer) bool {
	if a.err == nil && a.replayed {
		l.count(statReplayed)
	}
	switch {
	case a.err != nil:
		l.count(statConnErrors)
		return false
	case a.status == http.StatusServiceUnavailable:
		l.count(statUnavailable)
		return false
	case a.status >= 500:
		l.count(statServerErrors)
		l.sample(fmt.Sprintf("%s %d: %s", rec.Kind, rec.N, a))
		return false
	}
	o, why := settleDefinitive(rec, t, a)
	rec.Outcome, rec.Replayed = o, a.replayed
	switch o {
	case ok:
		l.count(statOK)
		if r := l.epoch.Load(); r != nil {
			r.first2xx.CompareAndSwap(0, int64(time.Since(r.begin)))
		}
	case refused:
		l.count(statRefused)
	default:
		l.reject(rec, a, why)
	}
	return true
}

func (l *load) reject(rec *opRecord, a answer, why string) {
	l.count(statRejected)
	rec.Outcome, rec.Answer = rejected, a.String()+" ("+why+")"
	l.sample(fmt.Sprintf("%s %d: %s (%s)", rec.Kind, rec.N, a, why))
}

// read checks a balance is never seen below zero (O3): pending and
// reserved never, available only once a refund of the customer was sent
// (a revocation of spent points leaves a debt).
func (l *load) read(ctx context.Context, customer string) {
	b, err := l.c.balance(ctx, customer)
	if err != nil {
		return // a read during an outage; nothing to learn
	}
	l.count(statReads)
	switch {
	case b.Pending < 0 || b.Reserved < 0 || (b.Available < 0 && !l.refunding[customer].Load()):
		l.count(statNegative)
		l.sample(fmt.Sprintf("balance of %s below zero: %+v", customer, b))
	case b.Available < 0:
		l.count(statDebt)
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
