package limit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Inflight caps the requests a tenant has in flight while other tenants
// have requests running or waiting (a tenant alone is not held back: the
// cap is there to share the server, not to slow it). A request over the
// cap queues for a slot, up to the limiter's wait, behind at most its
// queue of others of the same tenant; past that it is refused. Queued
// requests hold no database session, so another tenant's requests pass
// them by. The tenants it remembers
// are those with requests running or queued. It is safe for concurrent
// use.
type Inflight struct {
	max   int
	queue int
	wait  time.Duration

	mu      sync.Mutex
	tenants map[string]*slots

	refused atomic.Int64
}

type slots struct {
	sem   chan struct{} // a token per running request
	users int           // running and queued requests; 0 forgets the tenant
}

// NewInflight returns a cap of perTenant requests in flight per tenant,
// with at most queue more waiting, each at most wait, for a slot;
// perTenant 0 turns it off.
func NewInflight(perTenant, queue int, wait time.Duration) *Inflight {
	return &Inflight{max: perTenant, queue: max(queue, 0), wait: wait, tenants: map[string]*slots{}}
}

// Acquire takes one of tenant's slots, waiting for one at most the
// limiter's wait. It returns the function that gives the slot back, or
// false when none came: the queue was full, the wait ran out or ctx
// ended (the caller tells these apart by ctx.Err).
func (f *Inflight) Acquire(ctx context.Context, tenant string) (release func(), ok bool) {
	if f == nil || f.max <= 0 {
		return func() {}, true
	}
	f.mu.Lock()
	s := f.tenants[tenant]
	if s == nil {
		s = &slots{sem: make(chan struct{}, f.max)}
		f.tenants[tenant] = s
	}
	alone := len(f.tenants) == 1
	if s.users >= f.max+f.queue && !alone {
		f.mu.Unlock()
		f.refused.Add(1)
		return nil, false
	}
	s.users++
	f.mu.Unlock()
	done := func() {
		f.mu.Lock()
		if s.users--; s.users == 0 {
			delete(f.tenants, tenant)
		}
		f.mu.Unlock()
	}
	if alone {
		// No other tenant has a request running or waiting: nobody to be
		// fair to, so the cap would only cost this tenant throughput.
		return done, true
	}
	release = func() {
		<-s.sem
		done()
	}
	select {
	case s.sem <- struct{}{}:
		return release, true
	default:
	}
	t := time.NewTimer(f.wait)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return release, true
	case <-t.C:
	case <-ctx.Done():
	}
	done()
	if ctx.Err() == nil {
		f.refused.Add(1)
	}
	return nil, false
}

// Tenants returns how many tenants have requests running or queued.
func (f *Inflight) Tenants() int {
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tenants)
}

// Refused returns how many requests Acquire has refused (not counting
// those whose context ended while they queued).
func (f *Inflight) Refused() int64 {
	if f == nil {
		return 0
	}
	return f.refused.Load()
}
