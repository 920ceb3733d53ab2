// Package cli is the kopilka program: Run parses the command line and runs
// a subcommand with the given environment and streams. It is the only
// place that builds concrete implementations and wires them together.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/kopilka/kopilka/internal/config"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
)

// Version is the program version, set at build time with -ldflags.
var Version = "dev"

// Env is what a command gets from the outside world.
type Env struct {
	Args   []string
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Ready, when set, is told the address serve listens on.
	Ready func(addr string)
}

// ExitError carries a process exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// errUsage marks a command-line mistake (exit code 2).
func usagef(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

const usage = `kopilka — a loyalty and bonus-points processing centre

Usage:
  kopilka serve [--db URL|FILE] [--addr :8080]     run the server
  kopilka tenant create --name NAME [--db …]       make a tenant and its admin key
  kopilka key create --tenant ID [--scopes pos] [--store ID] [--name N]
  kopilka migrate [--db …]                         apply database migrations
  kopilka verify [--db …]                          prove every balance from the ledger
  kopilka expire [--db …]                          activate and expire points now
  kopilka import customers FILE [--tenant ID] [--dry-run] [--skip-bad-rows] [--db …]
                                                   import customers and balances (CSV, XLSX)
  kopilka export customers|balances|operations [--format csv|xlsx] [--out FILE]
                 [--tenant ID] [--from DATE] [--to DATE] [--db …]
                                                   export them (operations of a period)
  kopilka customer delete ID [--tenant ID] [--db …]
                                                   delete a customer on request (152-FZ)
  kopilka customer merge ID --from OTHER [--tenant ID] [--db …]
                                                   merge OTHER into ID
  kopilka card barcode NUMBER [--type ean13|code128|qr] [--format svg|png]
                 [--scale N] [--out FILE] [--tenant ID] [--db …]
                                                   draw a card's barcode for printing
  kopilka pii rotate [--db …] [--pii-keys FILE]    seal personal data with a new key
  kopilka bench [--url …] [--cashiers 32] [--duration 10s] [--db …]
                                                   simulated cashiers against a server
  kopilka version

The database is ./kopilka.db (SQLite) unless --db or KOPILKA_DB names a file
or a postgres:// URL. --tenant may be left out when the database holds one
tenant. Customers' personal data is encrypted with the keys in the file
--pii-keys names (default kopilka.keys beside the SQLite file, or in the
working directory for PostgreSQL), made on first start: back it up apart
from the database. Most flags have a KOPILKA_* environment twin
(see the README).
`

// Run runs the program with env.Args (without the program name).
func Run(ctx context.Context, env Env) error {
	if len(env.Args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := env.Args[0], env.Args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, env, rest)
	case "tenant":
		return runTenant(ctx, env, rest)
	case "key":
		return runKey(ctx, env, rest)
	case "migrate":
		return runMigrate(ctx, env, rest)
	case "verify":
		return runVerify(ctx, env, rest)
	case "expire":
		return runExpire(ctx, env, rest)
	case "bench":
		return runBench(ctx, env, rest)
	case "pii":
		return runPII(ctx, env, rest)
	case "import":
		return runImport(ctx, env, rest)
	case "export":
		return runExport(ctx, env, rest)
	case "customer":
		return runCustomer(ctx, env, rest)
	case "card":
		return runCard(ctx, env, rest)
	case "version", "--version", "-v":
		fmt.Fprintln(env.Stdout, "kopilka", Version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(env.Stdout, usage)
		return nil
	}
	fmt.Fprint(env.Stderr, usage)
	return usagef("unknown command %q", cmd)
}

// parse parses a subcommand's flags with the common ones.
func parse(env Env, name string, args []string, extra func(fs *flag.FlagSet)) (config.Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var cfg func() (config.Config, error)
	if name == "serve" {
		cfg = config.Flags(fs, env.Getenv)
	} else {
		cfg = config.CommandFlags(fs, env.Getenv)
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config.Config{}, &ExitError{Code: 0, Err: err}
		}
		return config.Config{}, usagef("%s: %v", name, err)
	}
	if fs.NArg() > 0 {
		return config.Config{}, usagef("%s: unexpected argument %q", name, fs.Arg(0))
	}
	c, err := cfg()
	if err != nil {
		return c, usagef("%s: %v", name, err)
	}
	return c, nil
}

// open opens the database and the service over it.
func open(ctx context.Context, c config.Config, log *slog.Logger) (*sqldb.DB, *loyalty.Service, error) {
	return openWith(ctx, c, log, sqldb.Options{})
}

// openWith is open with more of the database's options (Bulk).
func openWith(ctx context.Context, c config.Config, log *slog.Logger, opts sqldb.Options) (*sqldb.DB, *loyalty.Service, error) {
	keys, err := loadKeys(c, log)
	if err != nil {
		return nil, nil, err
	}
	opts.Logger, opts.Committers, opts.NoBatch, opts.Keys = log, c.Committers, c.NoBatch, keys
	db, err := sqldb.Open(ctx, c.DB, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("open database %s: %w", describeDB(c.DB), err)
	}
	return db, loyalty.New(db, nil, log), nil
}

// describeDB names a database without its password.
func describeDB(url string) string {
	if url == "" {
		return "kopilka.db"
	}
	if i := strings.Index(url, "@"); i > 0 && strings.Contains(url, "://") {
		scheme, _, _ := strings.Cut(url, "://")
		return scheme + "://…" + url[i:]
	}
	return url
}
