package crashtest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
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

// newHarness makes a database, a tenant with the battery's programme
// (programJSON) and n customers at zero points, and starts the server.
func newHarness(t *testing.T, dialect string, n int) *harness {
	t.Helper()
	bin := kopilkaBinary(t)
	db := storagetest.URL(t, dialect)
	_, key := createTenant(t, bin, db)
	h := &harness{t: t, dialect: dialect, bin: bin, db: db, srv: newServer(t, bin, db)}
	h.srv.start()
	h.c = newClient(h.srv.addr, key)
	ctx := t.Context()
	if a := h.c.send(ctx, http.MethodPut, "/v1/program", "", []byte(programJSON)); a.err != nil || a.status != http.StatusOK {
		t.Fatalf("PUT /v1/program = %v, want 200", a)
	}
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

// awaitInflight waits, for at most limit, until a state-changing request
// is in flight, so that the fault hits the server while it works; it returns
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
	type figures struct{ sent, ok, refused, rejected, unresolved, attempts, afterUnknown, replayedAfterUnknown int }
	var by [numKinds]figures
	var redeemNone, redeemInt, redeemMax, redeemed, fullRefunds, debtRefunds int
	for _, r := range hist {
		f := &by[r.Kind]
		f.sent++
		f.attempts += r.Attempts
		switch r.Outcome {
		case ok:
			f.ok++
		case refused:
			f.refused++
		case rejected:
			f.rejected++
		default:
			f.unresolved++
		}
		if r.Unknowns > 0 {
			f.afterUnknown++
			if r.Replayed {
				f.replayedAfterUnknown++
			}
		}
		switch {
		case r.Kind.creates() && r.Redeem == "":
			redeemNone++
		case r.Kind.creates() && r.Redeem == "max":
			redeemMax++
		case r.Kind.creates():
			redeemInt++
		}
		if r.Kind.creates() && r.Outcome == ok && r.Purchase.Redeem > 0 {
			redeemed++
		}
		if r.Kind == kindRefund && r.Outcome == ok {
			if r.RefundLines == nil {
				fullRefunds++
			}
			if r.Refund.Debt > 0 {
				debtRefunds++
			}
		}
	}
	secs := l.cfg.Duration.Seconds()
	t.Logf("%s load: %.0f s offered at %.0f/s by %d workers, seed %#x: %d requests sent (%.0f/s)",
		h.dialect, secs, l.cfg.Rate, l.cfg.Workers, l.cfg.Seed, len(hist), float64(len(hist))/secs)
	for k, f := range by {
		t.Logf("%s   %-10s sent %5d: ok %5d, refused %4d, rejected %d, unresolved %d; %5d attempts; "+
			"%d resolved after an unknown outcome (%d by a replayed answer)", h.dialect, opKind(k), f.sent, f.ok, f.refused,
			f.rejected, f.unresolved, f.attempts, f.afterUnknown, f.replayedAfterUnknown)
	}
	t.Logf("%s purchases: redeem none %d, integer %d, max %d; %d acknowledged with points redeemed; "+
		"refunds: %d full, %d by lines, %d left a debt; %d orders left pending, %d purchases left with something to refund",
		h.dialect, redeemNone, redeemInt, redeemMax, redeemed, fullRefunds, by[kindRefund].ok-fullRefunds, debtRefunds,
		l.pending.size(), l.complete.size())
	t.Logf("%s counters: %v", h.dialect, &l.total)
	for _, r := range rs {
		first := "none"
		if ns := r.first2xx.Load(); ns > 0 {
			first = time.Duration(ns).Round(time.Millisecond).String()
		}
		msg := fmt.Sprintf("%s %v %d at +%v: %d requests in flight", h.dialect, r.fault.sig, r.n,
			r.at.Round(time.Millisecond), r.inflight)
		if r.fault.sig == syscall.SIGTERM {
			msg += fmt.Sprintf("; exited after %v (%v); clients meanwhile got: %v",
				r.exit.took.Round(time.Millisecond), exitText(r.exit.err), r.window)
		}
		if r.check != "" {
			msg += "; integrity_check " + r.check
		}
		t.Logf("%s; restarted: listening after %v, /healthz 200 after %v, first 2xx after %v", msg,
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

// readBack reads the ledger, balances and purchases back and applies the
// oracle.
func (h *harness) readBack(l *load) ([]violation, ledgerView, error) {
	hist := l.history()
	var exts []string
	for _, r := range hist {
		if r.Kind.creates() {
			exts = append(exts, r.ExternalID)
		}
	}
	lv, err := h.c.readLedger(h.t.Context(), h.customers, exts)
	if err != nil {
		return nil, lv, err
	}
	return check(hist, h.customers, lv), lv, nil
}

// checkOracle reads the ledger back and applies the oracle (O1–O3); it
// returns the violations.
func (h *harness) checkOracle(l *load) []violation {
	t := h.t
	t.Helper()
	begin := time.Now()
	vs, lv, err := h.readBack(l)
	if err != nil {
		t.Fatalf("read the ledger back: %v", err)
	}
	took := time.Since(begin)
	for i, v := range vs {
		if i == 30 {
			t.Errorf("… and %d more violations", len(vs)-i)
			break
		}
		t.Errorf("%s oracle: %v", h.dialect, v)
	}
	t.Logf("%s oracle: %d requests against %d ledger operations and %d purchases of %d customers (read back in %v): %d violations",
		h.dialect, len(l.history()), len(lv.Ops), len(lv.Purchases), len(h.customers), took.Round(time.Millisecond), len(vs))
	return vs
}

// negativeControl does, one after the other, what a client that defeats
// deduplication does after an unknown outcome — it sends an acknowledged
// request again under a new Idempotency-Key and a new external_id — and
// requires the oracle to see each double effect: an adjustment credited
// twice, a sale registered twice, a refund made twice. before is what the
// oracle found before the controls (checkOracle).
func (h *harness) negativeControl(l *load, before []violation) {
	t := h.t
	t.Helper()
	ctx := t.Context()
	seen := map[string]bool{}
	for _, v := range before {
		seen[v.String()] = true
	}
	// control sends the request and checks the oracle's new findings of
	// the customer include want.
	control := func(name, customer, path, key string, body []byte, status int, want ...string) {
		t.Helper()
		a := h.c.send(ctx, http.MethodPost, path, key, body)
		if a.err != nil || a.status != status {
			t.Fatalf("negative control %s: POST %s %s under a new key = %v, want %d", name, path, body, a, status)
		}
		vs, _, err := h.readBack(l)
		if err != nil {
			t.Fatalf("negative control %s: read the ledger back: %v", name, err)
		}
		found := map[string]bool{}
		for _, v := range vs {
			if !seen[v.String()] && v.CustomerID == customer {
				found[v.Kind] = true
			}
			seen[v.String()] = true
		}
		for _, k := range want {
			if !found[k] {
				t.Errorf("negative control %s: the oracle found %v, want %v", name, slices.Sorted(maps.Keys(found)), want)
				break
			}
		}
		t.Logf("%s negative control: %s; the oracle found %v", h.dialect, name, slices.Sorted(maps.Keys(found)))
	}

	var adj, sale *opRecord
	for _, r := range l.history() {
		switch {
		case adj == nil && r.Kind == kindAdjust && r.Outcome == ok && r.Amount > 0:
			adj = r
		case sale == nil && r.Kind == kindSale && r.Outcome == ok && r.Redeem == "" && r.Purchase.Accrue > 0:
			sale = r
		}
	}
	if adj == nil || sale == nil {
		t.Fatalf("negative control: no acknowledged credit (%v) or sale without redemption (%v) to replay", adj != nil, sale != nil)
	}
	control(fmt.Sprintf("adjustment %s credited again under a new key and external_id", adj.ExternalID), adj.CustomerID,
		"/v1/customers/"+adj.CustomerID+"/adjustments", adj.Key+"-dup", adjustmentBody(adj.Amount, adj.ExternalID+"-dup"),
		http.StatusCreated, "balance", "unacknowledged")
	control(fmt.Sprintf("sale %s registered again under a new key and external_id", sale.ExternalID), sale.CustomerID,
		"/v1/purchases", sale.Key+"-dup", purchaseBody(sale.CustomerID, sale.Lines, "", sale.ExternalID+"-dup", true),
		http.StatusCreated, "balance", "unacknowledged")

	tg := l.complete.take(rand.New(rand.NewPCG(l.cfg.Seed, 3)))
	if tg == nil {
		t.Fatal("negative control: no complete purchase left with something to refund")
	}
	lines := expectedRefundLines(tg, nil)[:1]
	control(fmt.Sprintf("line %d of purchase %s refunded without an acknowledged request", lines[0].Line, tg.create.ExternalID),
		tg.create.CustomerID, "/v1/purchases/"+tg.create.Purchase.ID+"/refunds", tg.create.Key+"-refund-dup",
		refundBody(tg.create.ExternalID+"-refund-dup", lines), http.StatusCreated, "refund_mismatch")
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
