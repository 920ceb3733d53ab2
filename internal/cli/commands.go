package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/kopilka/kopilka/internal/api"
	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/limit"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/server"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/transfer"
)

// serveGCPercent is the server's GOGC unless the environment sets one. Its
// live heap is tens of megabytes, and at the default 100 the collector
// took about a tenth of its CPU under load: calculate alone went from
// about 9,900 to 10,400 requests/s on PostgreSQL at 400.
const serveGCPercent = 400

func runServe(ctx context.Context, env Env, args []string) error {
	c, err := parse(env, "serve", args, nil)
	if err != nil {
		return err
	}
	if env.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	log := c.Logger(env.Stderr)
	db, svc, err := open(ctx, c, log)
	if err != nil {
		return err
	}
	defer db.Close()
	db.Warm(ctx)
	m := server.NewMetrics()
	svc.Observe(m.Operation)
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	log.Info("kopilka serving", "addr", ln.Addr().String(), "database", db.Dialect(), "version", Version)
	if env.Ready != nil {
		env.Ready(ln.Addr().String())
	}
	if c.Pprof != "" {
		go servePprof(c.Pprof, log)
	}
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { runJobs(jobsCtx, svc, c.DueInterval, log) })
	wg.Go(func() { maintain(jobsCtx, db, log) })
	imports := transfer.NewJobs(svc, log)
	// Requests get 8 s to finish after SIGTERM, so the process exits within
	// RELIABILITY D5's 10 s even when a client stalls.
	limits := api.Limits{Rate: limit.NewRate(c.RateLimit, c.RateBurst, nil),
		Inflight: limit.NewInflight(c.TenantInflight, server.DefaultInflightQueue, server.InflightWait)}
	h := server.NewHandler(svc, m, log, server.WithImports(imports), server.WithLimits(limits))
	err = server.Serve(ctx, ln, h, 8*time.Second, log)
	imports.Stop() // running imports fail, to be uploaded again
	stopJobs()
	wg.Wait()
	return err
}

// runJobs activates and expires points every interval and forgets old
// idempotency answers every hour, until ctx ends.
func runJobs(ctx context.Context, svc *loyalty.Service, every time.Duration, log interface {
	Info(string, ...any)
	Error(string, ...any)
}) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastPurge, lastBirthdays time.Time
	for {
		res, err := svc.RunDue(ctx, 500)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("activation and expiry", "err", err)
		case res.Customers > 0:
			log.Info("activation and expiry", "customers", res.Customers, "activated_lots", res.Activated, "expired_points", res.Expired)
		}
		if time.Since(lastBirthdays) > 10*time.Minute {
			if n, err := svc.RunBirthdays(ctx); err != nil && ctx.Err() == nil {
				log.Error("birthday bonuses", "err", err)
			} else if n > 0 {
				log.Info("birthday bonuses paid", "count", n)
			}
			lastBirthdays = time.Now()
		}
		if time.Since(lastPurge) > time.Hour {
			if n, err := svc.PurgeIdempotency(ctx); err != nil && ctx.Err() == nil {
				log.Error("purge idempotency keys", "err", err)
			} else if n > 0 {
				log.Info("purged idempotency keys", "count", n)
			}
			lastPurge = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maintainEvery is how often a server checks whether its PostgreSQL tables
// need analysing or vacuuming (sqldb.DB.Maintain); the check is one query.
const maintainEvery = 5 * time.Second

// maintain keeps the planner's statistics fresh where the cluster's
// autovacuum is off, until ctx ends.
func maintain(ctx context.Context, db *sqldb.DB, log interface {
	Info(string, ...any)
	Error(string, ...any)
}) {
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		m, err := db.Maintain(ctx, sqldb.Background)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("table maintenance", "err", err)
		case len(m.Analyzed) > 0:
			log.Info("tables analysed (autovacuum is off)", "tables", m.Analyzed, "vacuumed", m.Vacuumed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func runTenant(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usagef("usage: kopilka tenant create --name NAME [--db …]")
	}
	var name string
	c, err := parse(env, "tenant create", args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the merchant's name (required)")
	})
	if err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" {
		return usagef("tenant create: --name is required")
	}
	db, svc, err := open(ctx, c, c.Logger(env.Stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	t, nk, err := svc.CreateTenant(ctx, name)
	if err != nil {
		return err
	}
	return json.NewEncoder(env.Stdout).Encode(map[string]string{"tenant_id": t.ID, "api_key": nk.Plain})
}

func runKey(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usagef("usage: kopilka key create --tenant ID [--scopes pos,admin] [--store ID] [--name NAME]")
	}
	var tenant, scopes, store, name string
	c, err := parse(env, "key create", args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant id (required)")
		fs.StringVar(&scopes, "scopes", "pos", "comma-separated scopes: admin, pos")
		fs.StringVar(&store, "store", "", "bind the key to this store id")
		fs.StringVar(&name, "name", "", "a name to recognise the key by")
	})
	if err != nil {
		return err
	}
	if tenant == "" {
		return usagef("key create: --tenant is required")
	}
	db, svc, err := open(ctx, c, c.Logger(env.Stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := svc.GetTenant(ctx, tenant); err != nil {
		return fmt.Errorf("key create: %w", err)
	}
	in := loyalty.KeyInput{Name: name, StoreID: store}
	for _, s := range strings.Split(scopes, ",") {
		in.Scopes = append(in.Scopes, kopilka.Scope(strings.TrimSpace(s)))
	}
	nk, err := svc.CreateAPIKey(ctx, tenant, in)
	if err != nil {
		return err
	}
	return json.NewEncoder(env.Stdout).Encode(map[string]string{"id": nk.Key.ID, "api_key": nk.Plain})
}

func runMigrate(ctx context.Context, env Env, args []string) error {
	c, err := parse(env, "migrate", args, nil)
	if err != nil {
		return err
	}
	db, _, err := open(ctx, c, c.Logger(env.Stderr))
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "migrations applied to", describeDB(c.DB))
	return db.Close()
}

func runVerify(ctx context.Context, env Env, args []string) error {
	c, err := parse(env, "verify", args, nil)
	if err != nil {
		return err
	}
	db, svc, err := open(ctx, c, c.Logger(env.Stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	diffs, tenants, err := svc.Verify(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if len(diffs) == 0 {
		fmt.Fprintf(env.Stdout, "ok: %d tenants, every balance agrees with its postings\n", tenants)
		return nil
	}
	for _, d := range diffs {
		fmt.Fprintln(env.Stdout, "MISMATCH", d.String())
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("verify: %d differences", len(diffs))}
}

func runExpire(ctx context.Context, env Env, args []string) error {
	c, err := parse(env, "expire", args, nil)
	if err != nil {
		return err
	}
	db, svc, err := open(ctx, c, c.Logger(env.Stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := svc.RunDue(ctx, 500)
	if err != nil {
		return fmt.Errorf("expire: %w", err)
	}
	birthdays, err := svc.RunBirthdays(ctx)
	if err != nil {
		return fmt.Errorf("expire: birthday bonuses: %w", err)
	}
	return json.NewEncoder(env.Stdout).Encode(map[string]any{"customers": res.Customers,
		"activated_lots": res.Activated, "expired_points": res.Expired, "birthday_bonuses": birthdays})
}

// servePprof serves the Go profiler on its own address, never on the API's.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("profiler listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		log.Error("profiler", "err", err)
	}
}
