package faulttest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// arrival is the result of a constant-arrival run.
type arrival struct {
	Offered int           // calls due in the run
	Dropped int           // due calls not started: maxInflight were running
	MaxLag  time.Duration // the latest a call started after its due time
	Elapsed time.Duration // from the first arrival to the last call's return
}

// arrive is an open-loop (constant-arrival) generator: it starts fn(n),
// each in a goroutine, for n = 0, 1, … at rate calls per second for d,
// whatever the earlier calls are doing. A ticker wakes it and it starts
// every call due by then, so a late wake-up delays calls but loses none. A
// call due while maxInflight calls are running is dropped (counted, not
// started), as k6's constant-arrival-rate drops iterations when it runs
// out of virtual users. It returns once every started call has returned;
// it stops offering early when ctx ends.
func arrive(ctx context.Context, rate int, d time.Duration, maxInflight int, fn func(n int)) arrival {
	total := int(int64(rate) * int64(d) / int64(time.Second))
	period := max(time.Second/time.Duration(rate), time.Millisecond)
	tick := time.NewTicker(period)
	defer tick.Stop()
	var res arrival
	var inflight atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for res.Offered < total {
		select {
		case <-ctx.Done():
			total = res.Offered
			continue
		case <-tick.C:
		}
		now := time.Since(start)
		due := min(total, int(int64(now)*int64(rate)/int64(time.Second))+1)
		for ; res.Offered < due; res.Offered++ {
			at := time.Duration(int64(res.Offered) * int64(time.Second) / int64(rate))
			res.MaxLag = max(res.MaxLag, now-at)
			if inflight.Load() >= int64(maxInflight) {
				res.Dropped++
				continue
			}
			inflight.Add(1)
			n := res.Offered
			wg.Go(func() {
				defer inflight.Add(-1)
				fn(n)
			})
		}
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}
