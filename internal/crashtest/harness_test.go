package crashtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// harness is one database with a tenant and its customers, served by one
// kopilka process at a time.
type harness struct {
	t         *testing.T
	dialect   string
	bin       string
	db        string
	srv       *server
	c         *client
	customers []string
}

// newHarness makes a database, a tenant and n customers at zero points,
// and starts the server.
func newHarness(t *testing.T, dialect string, n int) *harness {
	t.Helper()
	bin := kopilkaBinary(t)
	db := storagetest.URL(t, dialect)
	_, key := createTenant(t, bin, db)
	h := &harness{t: t, dialect: dialect, bin: bin, db: db, srv: newServer(t, bin, db)}
	h.srv.start()
	h.c = newClient(h.srv.addr, key)
	ctx := t.Context()
	for i := range n {
		id, err := h.c.createCustomer(ctx, fmt.Sprintf("c%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := h.c.balance(ctx, id); err != nil || b != (balance{}) {
			t.Fatalf("balance of new customer %s = %+v, %v; want zero (no welcome bonus)", id, b, err)
		}
		h.customers = append(h.customers, id)
	}
	return h
}

// crashConfig is the D1/D3 load: the defaults, or the environment's
// KOPILKA_CRASH_* overrides.
func crashConfig(t *testing.T) (cfg loadConfig, kills int) {
	t.Helper()
	cfg = loadConfig{Rate: 300, Duration: 20 * time.Second, Workers: 16, Grace: 30 * time.Second,
		Seed: uint64(time.Now().UnixNano())}
	kills = 3
	num := func(name string, set func(float64)) {
		if s := os.Getenv(name); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v <= 0 {
				t.Fatalf("%s=%q: want a positive number", name, s)
			}
			set(v)
		}
	}
	num("KOPILKA_CRASH_SECONDS", func(v float64) { cfg.Duration = time.Duration(v * float64(time.Second)) })
	num("KOPILKA_CRASH_RATE", func(v float64) { cfg.Rate = v })
	num("KOPILKA_CRASH_KILLS", func(v float64) { kills = int(v) })
	if s := os.Getenv("KOPILKA_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("KOPILKA_CRASH_SEED=%q: want an unsigned integer", s)
		}
		cfg.Seed = v
	}
	return cfg, kills
}

// fault is a signal sent to the server at a moment of the load.
type fault struct {
	at  time.Duration // since the load began
	sig syscall.Signal
}

// killSchedule spreads kills over the middle 70% of the load, one at a
// seeded moment in each of equal slots, so kills never bunch up.
func killSchedule(cfg loadConfig, kills int) []fault {
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	lo, hi := 0.15*float64(cfg.Duration), 0.85*float64(cfg.Duration)
	slot := (hi - lo) / float64(kills)
	var fs []fault
	for i := range kills {
		at := lo + slot*float64(i) + rng.Float64()*slot*0.8
		fs = append(fs, fault{at: time.Duration(at).Round(time.Millisecond), sig: syscall.SIGKILL})
	}
	return fs
}

// load starts the load; the test waits for it at the latest when it ends.
func (h *harness) load(cfg loadConfig) *load {
	ctx, cancel := context.WithCancel(h.t.Context())
	l := startLoad(ctx, cfg, h.c, h.customers)
	h.t.Cleanup(func() {
		cancel()
		l.wait()
	})
	return l
}

// runFaults sends each fault at its moment, checks a SQLite file between
// the fault and the restart, and restarts the server on the same address.
func (h *harness) runFaults(l *load, faults []fault) []*restart {
	t := h.t
	t.Helper()
	var rs []*restart
	for i, f := range faults {
		timer := time.NewTimer(time.Until(l.begin.Add(f.at)))
		select {
		case <-timer.C:
		case <-l.done:
			timer.Stop()
			t.Fatalf("the load ended before fault %d at %v", i+1, f.at)
		}
		r := &restart{n: i + 1, fault: f}
		r.inflight = awaitInflight(l, time.Second)
		r.at = time.Since(l.begin)
		switch f.sig {
		case syscall.SIGKILL:
			h.srv.kill()
		case syscall.SIGTERM:
			r.window = new(counters)
			l.window.Store(r.window)
			e, err := h.srv.term(10 * time.Second)
			l.window.Store(nil)
			r.exit = e
			if err != nil {
				t.Errorf("D5: %v", err)
			}
		}
		if h.dialect == "sqlite" {
			chk, err := integrityCheck(h.db)
			r.check = chk
			if err != nil || chk != "ok" {
				t.Errorf("after %v %d: PRAGMA integrity_check = %q, %v; want ok", f.sig, r.n, chk, err)
			}
		}
		r.begin = time.Now()
		l.epoch.Store(r)
		r.start = h.srv.start()
		rs = append(rs, r)
	}
	return rs
}

// awaitInflight waits, for at most limit, until an adjustment is in
// flight, so that the fault hits the server while it works; it returns
// how many were in flight. Polling is the only way to watch a moment of a
// running load.
func awaitInflight(l *load, limit time.Duration) int64 {
	deadline := time.Now().Add(limit)
	for {
		n := l.inflight.Load()
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// report logs the figures of a run.
func (h *harness) report(l *load, rs []*restart) {
	t := h.t
	t.Helper()
	hist := l.history()
	var okN, refusedN, afterUnknown, replayedAfterUnknown int
	for _, r := range hist {
		switch r.Outcome {
		case ok:
			okN++
		case refused:
			refusedN++
		}
		if r.Unknowns > 0 {
			afterUnknown++
			if r.Replayed {
				replayedAfterUnknown++
			}
		}
	}
	secs := l.cfg.Duration.Seconds()
	t.Logf("%s load: %.0f s offered at %.0f/s by %d workers, seed %#x: %d adjustments sent (%.0f/s): %d ok, %d refused; "+
		"%d resolved after an unknown outcome (%d of them by a replayed answer)",
		h.dialect, secs, l.cfg.Rate, l.cfg.Workers, l.cfg.Seed, len(hist), float64(len(hist))/secs, okN, refusedN,
		afterUnknown, replayedAfterUnknown)
	t.Logf("%s counters: %v", h.dialect, &l.total)
	for _, r := range rs {
		first := "none"
		if ns := r.first2xx.Load(); ns > 0 {
			first = time.Duration(ns).Round(time.Millisecond).String()
		}
		msg := fmt.Sprintf("%s %v %d at +%v: %d adjustments in flight", h.dialect, r.fault.sig, r.n,
			r.at.Round(time.Millisecond), r.inflight)
		if r.fault.sig == syscall.SIGTERM {
			msg += fmt.Sprintf("; exited after %v (%v); clients meanwhile got: %v",
				r.exit.took.Round(time.Millisecond), exitText(r.exit.err), r.window)
		}
		if r.check != "" {
			msg += "; integrity_check " + r.check
		}
		t.Logf("%s; restarted: listening after %v, /healthz 200 after %v, first 201 after %v", msg,
			r.start.listening.Round(time.Millisecond), r.start.healthy.Round(time.Millisecond), first)
	}
	for _, s := range l.badAnswers() {
		t.Logf("%s bad answer: %s", h.dialect, s)
	}
	n := 0
	for run, sink := range h.srv.logs {
		if r := sink.races(); r != "" {
			t.Errorf("%s server run %d: the race detector reported:\n%s", h.dialect, run+1, r)
		}
		for _, line := range sink.problems() {
			if n++; n <= 20 {
				t.Logf("%s server run %d logged: %s", h.dialect, run+1, line)
			}
		}
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit code 0"
	}
	return err.Error()
}

// checkLoad fails on what clients must never see: a 5xx other than 503
// (API-CORE: a 5xx is always a bug), an answer that is neither success
// nor a business refusal, and a balance below zero (O3).
func (h *harness) checkLoad(l *load) {
	t := h.t
	t.Helper()
	for _, s := range []stat{statServerErrors, statRejected, statNegative} {
		if n := l.total[s].Load(); n != 0 {
			t.Errorf("%s: clients saw %d %s, want 0 (see the bad answers logged)", h.dialect, n, statNames[s])
		}
	}
	if l.total[statOK].Load() == 0 || l.total[statRefused].Load() == 0 {
		t.Errorf("%s: the load had %d successes and %d refusals; want both kinds", h.dialect,
			l.total[statOK].Load(), l.total[statRefused].Load())
	}
}

// checkOracle reads the ledger back and applies the oracle (O1–O3).
func (h *harness) checkOracle(l *load) {
	t := h.t
	t.Helper()
	lv, err := h.c.readLedger(t.Context(), h.customers)
	if err != nil {
		t.Fatalf("read the ledger back: %v", err)
	}
	vs := check(l.history(), h.customers, lv)
	for i, v := range vs {
		if i == 30 {
			t.Errorf("… and %d more violations", len(vs)-i)
			break
		}
		t.Errorf("%s oracle: %v", h.dialect, v)
	}
	t.Logf("%s oracle: %d adjustments against %d ledger operations of %d customers: %d violations",
		h.dialect, len(l.history()), len(lv.Ops), len(h.customers), len(vs))
}

// negativeControl replays an operation the server acknowledged under a new
// Idempotency-Key and external_id — what a client that defeats
// deduplication does after an unknown outcome — and requires the oracle
// to see the double effect.
func (h *harness) negativeControl(l *load) {
	t := h.t
	t.Helper()
	var rec *opRecord
	for _, r := range l.history() {
		if r.Outcome == ok && r.Amount > 0 {
			rec = r
			break
		}
	}
	if rec == nil {
		t.Fatal("negative control: no acknowledged credit to replay")
	}
	ext := rec.ExternalID + "-dup"
	a := h.c.send(t.Context(), http.MethodPost, "/v1/customers/"+rec.CustomerID+"/adjustments", rec.Key+"-dup",
		adjustmentBody(rec.Amount, ext))
	if a.err != nil || a.status != http.StatusCreated {
		t.Fatalf("negative control: POST adjustment %s again under a new key = %v, want 201", rec.ExternalID, a)
	}
	lv, err := h.c.readLedger(t.Context(), h.customers)
	if err != nil {
		t.Fatalf("negative control: read the ledger back: %v", err)
	}
	found := map[string]bool{}
	for _, v := range check(l.history(), h.customers, lv) {
		if v.CustomerID == rec.CustomerID {
			found[v.Kind] = true
		}
	}
	if !found["balance"] || !found["unacknowledged"] {
		t.Errorf("negative control: check after a double credit of %s found %v, want balance and unacknowledged",
			rec.ExternalID, found)
	}
	t.Logf("%s negative control: %s credited again under a new key and external_id; the oracle found %v",
		h.dialect, rec.ExternalID, found)
}

// diagnose, when operations stayed unresolved, asks the server for a
// goroutine dump (SIGQUIT ends it) and logs the dump, to show where the
// requests hang.
func (h *harness) diagnose(l *load) {
	t := h.t
	t.Helper()
	n := 0
	for _, r := range l.history() {
		if r.Outcome == unknown || r.Outcome == pending {
			n++
		}
	}
	if n == 0 || !h.srv.running() {
		return
	}
	_ = h.srv.cur.cmd.Process.Signal(syscall.SIGQUIT)
	<-h.srv.cur.exited
	t.Logf("%s: %d operations unresolved; the server's goroutines:\n%s", h.dialect, n, h.srv.cur.log.tail(400))
}

// finish stops the server with SIGTERM, then runs `kopilka verify` (O5)
// and, on SQLite, the integrity check.
func (h *harness) finish() {
	t := h.t
	t.Helper()
	if h.srv.running() {
		e, err := h.srv.term(10 * time.Second)
		if err != nil {
			t.Errorf("final stop: %v", err)
		} else if e.err != nil {
			t.Errorf("final stop: kopilka serve ended with %v, want exit code 0", e.err)
		}
	}
	out, errOut, code := runCLI(t, h.bin, "verify", "--db", h.db)
	if code != 0 {
		t.Errorf("kopilka verify exit code = %d, want 0\n%s%s", code, out, errOut)
	}
	if h.dialect == "sqlite" {
		if chk, err := integrityCheck(h.db); err != nil || chk != "ok" {
			t.Errorf("PRAGMA integrity_check at the end = %q, %v; want ok", chk, err)
		}
	}
}
