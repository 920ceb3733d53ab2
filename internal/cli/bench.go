package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/kopilka/kopilka/internal/loadgen"
)

// runBench drives a running server with simulated cashiers, then (when it
// can reach the database) runs verify.
func runBench(ctx context.Context, env Env, args []string) error {
	cfg := loadgen.Config{}
	var verify bool
	c, err := parse(env, "bench", args, func(fs *flag.FlagSet) {
		fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "the server to load")
		fs.StringVar(&cfg.Key, "key", env.Getenv("KOPILKA_BENCH_KEY"), "an admin API key; empty: make a tenant in --db")
		fs.IntVar(&cfg.Cashiers, "cashiers", 32, "concurrent simulated cashiers")
		fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to sell")
		fs.Float64Var(&cfg.Rate, "rate", 0, "sales per second in total (0: as fast as possible)")
		fs.IntVar(&cfg.Customers, "customers", 1000, "customers to sell to")
		fs.Float64Var(&cfg.RedeemShare, "redeem-share", 0.3, "share of sales that redeem points")
		fs.Float64Var(&cfg.RefundShare, "refund-share", 0.05, "share of sales refunded afterwards")
		fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
		fs.BoolVar(&verify, "verify", true, "run verify on --db after the load")
		fs.BoolVar(&cfg.CalculateOnly, "calculate-only", false, "send calculate requests only (the read path; nothing is sold)")
	})
	if err != nil {
		return err
	}
	if cfg.Key == "" {
		db, svc, err := open(ctx, c, c.Logger(env.Stderr))
		if err != nil {
			return err
		}
		_, nk, err := svc.CreateTenant(ctx, "load test "+time.Now().UTC().Format(time.RFC3339))
		db.Close()
		if err != nil {
			return err
		}
		cfg.Key, cfg.Setup = nk.Plain, true
	}
	fmt.Fprintf(env.Stdout, "loading %s: %d cashiers, %s, %d customers, rate %v\n", cfg.URL, cfg.Cashiers, cfg.Duration, cfg.Customers, rateText(cfg.Rate))
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprint(env.Stdout, res.String())
	if verify {
		fmt.Fprintln(env.Stdout, "verify:")
		if err := runVerify(ctx, env, dbArgs(c.DB)); err != nil {
			return err
		}
	}
	if len(res.Errors) > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("bench: %d kinds of errors", len(res.Errors))}
	}
	return nil
}

func rateText(r float64) string {
	if r <= 0 {
		return "unbounded"
	}
	return fmt.Sprintf("%.0f/s", r)
}

func dbArgs(db string) []string {
	if db == "" {
		return nil
	}
	return []string{"--db", db}
}
