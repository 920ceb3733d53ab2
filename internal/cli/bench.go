package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/kopilka/kopilka/internal/loadgen"
	"github.com/kopilka/kopilka/internal/transfer"
)

// runBench drives a running server with simulated cashiers, then (when it
// can reach the database) runs verify.
func runBench(ctx context.Context, env Env, args []string) error {
	cfg := loadgen.Config{}
	var verify bool
	var identify string
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
		fs.StringVar(&identify, "identify", "", "identify customers of this file (CSV or XLSX, as `kopilka import customers` takes it) "+
			"by card and by phone, and nothing else; needs --key of the tenant they were imported into")
	})
	if err != nil {
		return err
	}
	if identify != "" {
		if cfg.Key == "" {
			return usagef("bench --identify needs --key: an API key of the tenant the file was imported into")
		}
		if cfg.Identify, err = readIdents(identify); err != nil {
			return err
		}
		verify = false // nothing is written
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
	who := fmt.Sprintf("%d customers", cfg.Customers)
	if identify != "" {
		who = fmt.Sprintf("identifying %d customers of %s", len(cfg.Identify), identify)
	}
	fmt.Fprintf(env.Stdout, "loading %s: %d cashiers, %s, %s, rate %v\n", cfg.URL, cfg.Cashiers, cfg.Duration, who, rateText(cfg.Rate))
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

// readIdents reads the phones and cards of a customers file as import
// reads them.
func readIdents(path string) ([]loadgen.Ident, error) {
	ids, err := transfer.ReadIdentifiers(path)
	if err != nil {
		return nil, err
	}
	out := make([]loadgen.Ident, 0, len(ids))
	for _, id := range ids {
		in := loadgen.Ident{Phone: id.Phone}
		if len(id.Cards) > 0 {
			in.Card = id.Cards[0]
		}
		out = append(out, in)
	}
	return out, nil
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
