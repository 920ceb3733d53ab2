package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kopilka/kopilka/internal/loadgen"
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
		fs.StringVar(&identify, "identify", "", "identify customers of this CSV file (columns card and phone, as `kopilka import` takes) "+
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

// readIdents reads the card and phone columns of a customers CSV file
// (comma or semicolon separated, as import takes it).
func readIdents(path string) ([]loadgen.Ident, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	r := csv.NewReader(br)
	first := string(head)
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	if strings.Count(first, ";") > strings.Count(first, ",") {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	hdr, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	card, phone := -1, -1
	for i, h := range hdr {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "card":
			card = i
		case "phone":
			phone = i
		}
	}
	if card < 0 && phone < 0 {
		return nil, fmt.Errorf("%s: the header has neither a card nor a phone column", path)
	}
	var out []loadgen.Ident
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var id loadgen.Ident
		if card >= 0 && card < len(rec) {
			id.Card = strings.TrimSpace(rec[card])
		}
		if phone >= 0 && phone < len(rec) {
			id.Phone = strings.TrimSpace(rec[phone])
		}
		if id.Card != "" || id.Phone != "" {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no customer has a card or a phone", path)
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
