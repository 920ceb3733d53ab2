package limit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kopilka/kopilka/internal/limit"
)

func TestRate(t *testing.T) {
	t.Run("BurstThenRefuse", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(4, 3, nil)
			for i := range 3 {
				if ok, _ := r.Allow("k1"); !ok {
					t.Fatalf("Allow(k1) #%d = false, want true within the burst of 3", i+1)
				}
			}
			ok, wait := r.Allow("k1")
			if ok || wait != 250*time.Millisecond {
				t.Fatalf("Allow(k1) after the burst = %v, %s; want false, 250ms (one token at 4/s)", ok, wait)
			}
			if ok, _ := r.Allow("k2"); !ok {
				t.Error("Allow(k2) = false, want true: another key has a bucket of its own")
			}
			time.Sleep(wait - time.Millisecond)
			if ok, w := r.Allow("k1"); ok || w < time.Millisecond || w > time.Millisecond+time.Microsecond {
				t.Errorf("Allow(k1) 1ms before the token = %v, %s; want false, 1ms (to the microsecond)", ok, w)
			}
			time.Sleep(time.Millisecond)
			if ok, _ := r.Allow("k1"); !ok {
				t.Error("Allow(k1) after the wait it was told = false, want true")
			}
			if got := r.Refused(); got != 2 {
				t.Errorf("Refused() = %d, want 2", got)
			}
		})
	})
	t.Run("Off", func(t *testing.T) {
		r := limit.NewRate(0, 0, nil)
		for range 1000 {
			if ok, _ := r.Allow("k"); !ok {
				t.Fatal("Allow with rate 0 = false, want true (off)")
			}
		}
		if r.Keys() != 0 {
			t.Errorf("Keys() with rate 0 = %d, want 0", r.Keys())
		}
	})
	t.Run("EvictsIdleKeys", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(100, 10, nil)
			for i := range 1000 {
				r.Allow(fmt.Sprintf("key-%d", i))
			}
			if got := r.Keys(); got != 1000 {
				t.Fatalf("Keys() = %d, want 1000", got)
			}
			time.Sleep(30 * time.Second)
			r.Allow("key-0") // still in use
			time.Sleep(31 * time.Second)
			r.Allow("busy") // a request sweeps the idle buckets
			if got := r.Keys(); got != 2 {
				t.Errorf("Keys() after a minute of idleness = %d, want 2 (key-0 used 31 s ago, busy)", got)
			}
			// A forgotten key starts with a full bucket, as it would have
			// had anyway.
			for i := range 10 {
				if ok, _ := r.Allow("key-1"); !ok {
					t.Fatalf("Allow(key-1) #%d after eviction = false, want true", i+1)
				}
			}
		})
	})
}

func TestInflight(t *testing.T) {
	t.Run("QueueThenSlot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := limit.NewInflight(2, 10, time.Second)
			ctx := context.Background()
			r1, ok1 := f.Acquire(ctx, "A")
			_, ok2 := f.Acquire(ctx, "A")
			if !ok1 || !ok2 {
				t.Fatalf("Acquire(A) twice under a cap of 2 = %v, %v; want true, true", ok1, ok2)
			}
			if rb, ok := f.Acquire(ctx, "B"); !ok {
				t.Error("Acquire(B) = false, want true: tenant A's slots are its own")
			} else {
				rb()
			}
			got := make(chan bool)
			go func() {
				_, ok := f.Acquire(ctx, "A")
				got <- ok
			}()
			time.Sleep(500 * time.Millisecond)
			synctest.Wait()
			r1()
			if !<-got {
				t.Error("a queued Acquire(A) = false after a slot came free within the wait, want true")
			}
		})
	})
	t.Run("WaitRunsOut", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := limit.NewInflight(1, 10, time.Second)
			other, _ := f.Acquire(context.Background(), "B") // A is not alone
			release, _ := f.Acquire(context.Background(), "A")
			start := time.Now()
			if _, ok := f.Acquire(context.Background(), "A"); ok {
				t.Fatal("Acquire(A) over the cap with no slot freed = true, want false")
			}
			if d := time.Since(start); d != time.Second {
				t.Errorf("the refused Acquire waited %s, want 1s", d)
			}
			if f.Refused() != 1 {
				t.Errorf("Refused() = %d, want 1", f.Refused())
			}
			release()
			other()
			if f.Tenants() != 0 {
				t.Errorf("Tenants() with nothing running = %d, want 0 (forgotten)", f.Tenants())
			}
		})
	})
	t.Run("QueueFull", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := limit.NewInflight(1, 4, time.Minute)
			ctx, cancel := context.WithCancel(context.Background())
			other, _ := f.Acquire(context.Background(), "B") // A is not alone
			release, _ := f.Acquire(ctx, "A")
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { f.Acquire(ctx, "A") })
			}
			synctest.Wait() // all queued
			start := time.Now()
			if _, ok := f.Acquire(context.Background(), "A"); ok || time.Since(start) != 0 {
				t.Errorf("Acquire(A) with a full queue = %v after %s, want false at once", ok, time.Since(start))
			}
			cancel() // the queued requests' clients go away
			wg.Wait()
			if f.Refused() != 1 {
				t.Errorf("Refused() = %d, want 1 (ended contexts are not refusals)", f.Refused())
			}
			release()
			other()
			if f.Tenants() != 0 {
				t.Errorf("Tenants() = %d, want 0", f.Tenants())
			}
		})
	})
	t.Run("AloneIsNotCapped", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := limit.NewInflight(1, 0, time.Second)
			ctx := context.Background()
			var releases []func()
			for i := range 5 {
				r, ok := f.Acquire(ctx, "A")
				if !ok {
					t.Fatalf("Acquire(A) #%d with no other tenant = false, want true (nobody to be fair to)", i+1)
				}
				releases = append(releases, r)
			}
			rb, ok := f.Acquire(ctx, "B")
			if !ok {
				t.Fatal("Acquire(B) = false, want true: B has slots of its own")
			}
			// Now A shares the server: with five running it is over its cap.
			if _, ok := f.Acquire(ctx, "A"); ok {
				t.Error("Acquire(A) over its cap while B is active = true, want false")
			}
			for _, r := range releases {
				r()
			}
			ra, ok := f.Acquire(ctx, "A")
			if !ok {
				t.Fatal("Acquire(A) for its one slot once its requests ended = false, want true")
			}
			ra()
			rb()
			if f.Tenants() != 0 {
				t.Errorf("Tenants() = %d, want 0", f.Tenants())
			}
		})
	})
	t.Run("Off", func(t *testing.T) {
		f := limit.NewInflight(0, 0, 0)
		for range 100 {
			if _, ok := f.Acquire(context.Background(), "A"); !ok {
				t.Fatal("Acquire with a cap of 0 = false, want true (off)")
			}
		}
	})
}
