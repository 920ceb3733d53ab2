package crashtest

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// customers is how many customers share the load.
const customers = 20

// TestKill9 is D1 (PostgreSQL) and D3 (SQLite): SIGKILL the server at
// seeded moments of the load and restart it; no acknowledged operation is
// lost or doubled, none stays unresolved, balances add up, `kopilka
// verify` agrees, and on SQLite the file is sound after every crash.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash battery skipped in -short mode")
	}
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			// Not parallel: two loads on two cores would distort each other.
			cfg, kills := crashConfig(t)
			h := newHarness(t, dialect, customers)
			faults := killSchedule(cfg, kills)
			t.Logf("%s: seed %#x (set KOPILKA_CRASH_SEED to replay); kills at %v", dialect, cfg.Seed, moments(faults))
			l := h.load(cfg)
			rs := h.runFaults(l, faults)
			l.wait()
			h.report(l, rs)
			h.checkLoad(l)
			vs := h.checkOracle(l)
			h.diagnose(l) // stops the server when operations stayed unresolved: the test failed already
			if h.srv.running() {
				h.negativeControl(l, vs)
			}
			h.finish()
		})
	}
}

// TestSIGTERM is D5: SIGTERM under load. The process exits within 10 s
// with code 0; every request in flight finishes (a committed request never
// loses its answer, which would show as a replayed answer on retry);
// clients meanwhile get only definitive answers, 503s or connection
// errors; after a restart the retries under the same keys apply each
// operation exactly once.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("crash battery skipped in -short mode")
	}
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			cfg, _ := crashConfig(t)
			cfg.Duration = 6 * time.Second
			rng := rand.New(rand.NewPCG(cfg.Seed, 2))
			faults := []fault{{at: 2*time.Second + time.Duration(rng.Int64N(int64(time.Second))).Round(time.Millisecond),
				sig: syscall.SIGTERM}}
			h := newHarness(t, dialect, customers)
			t.Logf("%s: seed %#x (set KOPILKA_CRASH_SEED to replay); SIGTERM at %v", dialect, cfg.Seed, moments(faults))
			l := h.load(cfg)
			rs := h.runFaults(l, faults)
			l.wait()
			h.report(l, rs)
			if e := rs[0].exit; e.err != nil {
				t.Errorf("kopilka serve after SIGTERM ended with %v, want exit code 0", e.err)
			}
			w := rs[0].window
			for _, s := range []stat{statServerErrors, statRejected} {
				if n := w[s].Load(); n != 0 {
					t.Errorf("during the graceful stop clients got %d %s, want 0", n, statNames[s])
				}
			}
			if n := l.total[statReplayed].Load(); n != 0 {
				t.Errorf("%d answers were replays after a lost answer, want 0: the graceful stop dropped answers of committed requests", n)
			}
			h.checkLoad(l)
			h.checkOracle(l)
			h.diagnose(l)
			h.finish()
		})
	}
}

func moments(fs []fault) []time.Duration {
	var out []time.Duration
	for _, f := range fs {
		out = append(out, f.at)
	}
	return out
}

// TestSIGTERMStalledClient is D5's bound on the exit: a client that sent
// its headers and stalls in the middle of the body keeps a request in
// flight, and the server must still exit within 10 s of SIGTERM. The
// request never reaches the database, so one dialect is enough.
func TestSIGTERMStalledClient(t *testing.T) {
	if testing.Short() {
		t.Skip("crash battery skipped in -short mode")
	}
	h := newHarness(t, "sqlite", 1)
	conn := stallUpload(t, h.srv.addr, h.c.key, "/v1/customers/"+h.customers[0]+"/adjustments")
	e, err := h.srv.term(10 * time.Second)
	if err != nil {
		t.Fatalf("SIGTERM with a stalled upload in flight: %v", err)
	}
	t.Logf("exited %v after SIGTERM (%s) with a stalled upload in flight", e.took.Round(time.Millisecond), exitText(e.err))
	conn.Close()
	h.srv.start()
	h.finish()
}
