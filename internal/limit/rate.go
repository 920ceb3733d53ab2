// Package limit bounds what one client may take of the server (RELIABILITY
// S5, OWASP API4): a token bucket per API key caps its request rate, and a
// semaphore per tenant caps its requests in flight, so that a burst from
// one tenant cannot occupy every database session and starve the others.
// Both forget idle clients, so their memory follows the active clients,
// not every client ever seen. Time comes from an injected clock.
package limit

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket per key: each key may make Burst requests at
// once and PerSecond a second on average. A Rate with PerSecond 0 lets
// everything through. It is safe for concurrent use.
type Rate struct {
	perSecond rate.Limit
	burst     int
	now       func() time.Time
	idle      time.Duration // a bucket unused this long is full again, so it is forgotten

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time

	refused atomic.Int64
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewRate returns a limiter of perSecond requests a second per key with
// bursts of burst (at least 1); perSecond 0 turns it off. now is the
// clock; nil means time.Now.
func NewRate(perSecond float64, burst int, now func() time.Time) *Rate {
	if now == nil {
		now = time.Now
	}
	burst = max(burst, 1)
	r := &Rate{perSecond: rate.Limit(perSecond), burst: burst, now: now, buckets: map[string]*bucket{}}
	if perSecond > 0 {
		// After burst/perSecond idle seconds a bucket has refilled: a
		// new one would behave the same. A minute at least, so a sweep
		// does not run on every request of a busy server.
		r.idle = max(time.Minute, time.Duration(float64(burst)/perSecond*float64(time.Second)))
	}
	return r
}

// Allow takes a token from key's bucket. When the bucket is empty it
// takes nothing and returns false with how long until a token is there.
func (r *Rate) Allow(key string) (ok bool, wait time.Duration) {
	if r == nil || r.perSecond <= 0 {
		return true, 0
	}
	now := r.now()
	r.mu.Lock()
	r.sweep(now)
	b := r.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(r.perSecond, r.burst)}
		r.buckets[key] = b
	}
	b.seen = now
	r.mu.Unlock()
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	r.refused.Add(1)
	missing := 1 - b.lim.TokensAt(now)
	return false, time.Duration(math.Ceil(missing / float64(r.perSecond) * float64(time.Second)))
}

// sweep forgets the buckets idle longer than r.idle, at most once per
// r.idle; r.mu is held.
func (r *Rate) sweep(now time.Time) {
	if now.Sub(r.lastSweep) < r.idle {
		return
	}
	r.lastSweep = now
	for k, b := range r.buckets {
		if now.Sub(b.seen) >= r.idle {
			delete(r.buckets, k)
		}
	}
}

// Keys returns how many keys the limiter remembers.
func (r *Rate) Keys() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buckets)
}

// Refused returns how many requests Allow has refused.
func (r *Rate) Refused() int64 {
	if r == nil {
		return 0
	}
	return r.refused.Load()
}
