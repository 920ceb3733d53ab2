package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/kopilka/kopilka/internal/config"
	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/transfer"
)

// parseArgs parses a subcommand's flags with the common ones, letting
// flags and positional arguments come in any order.
func parseArgs(env Env, name string, args []string, extra func(fs *flag.FlagSet)) (config.Config, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var also []string
	if name == "import customers" {
		also = []string{"pprof"} // a long import may be profiled
	}
	cfg := config.CommandFlags(fs, env.Getenv, also...)
	extra(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return config.Config{}, nil, &ExitError{Code: 0, Err: err}
			}
			return config.Config{}, nil, usagef("%s: %v", name, err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	c, err := cfg()
	if err != nil {
		return c, nil, usagef("%s: %v", name, err)
	}
	return c, pos, nil
}

// pickTenant returns the tenant named, or the only one of the database.
func pickTenant(ctx context.Context, svc *loyalty.Service, id string) (string, error) {
	if id != "" {
		if _, err := svc.GetTenant(ctx, id); err != nil {
			return "", fmt.Errorf("tenant %s: %w", id, err)
		}
		return id, nil
	}
	ids, err := svc.TenantIDs(ctx)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", errors.New("the database has no tenant yet; make one with kopilka tenant create")
	case 1:
		return ids[0], nil
	}
	return "", usagef("the database holds %d tenants; name one with --tenant", len(ids))
}

// importGC tunes the collector for an import, unless GOGC or GOMEMLIMIT
// say otherwise. An import allocates fast and keeps little alive (tens of
// megabytes): with the default GOGC the collector ran a dozen times a
// second, and a million rows into PostgreSQL went from 15,000 to 17,000
// rows/s when it ran a fifth as often. The heap may now grow to five times
// what is live, within a limit that keeps the process under the 300 MB an
// import may take: SQLite's writer keeps 128 MB of pages beside it.
func importGC(dialect string) {
	limit := int64(224 << 20)
	if dialect == "sqlite" {
		limit = 96 << 20
	}
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(limit)
}

// runImport is `kopilka import customers FILE`.
func runImport(ctx context.Context, env Env, args []string) error {
	const use = "usage: kopilka import customers FILE [--tenant ID] [--dry-run] [--skip-bad-rows] [--format csv|xlsx] [--db …]"
	if len(args) == 0 || args[0] != "customers" {
		return usagef(use)
	}
	var tenant, format string
	var dry, skip bool
	c, files, err := parseArgs(env, "import customers", args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant id (needed when the database holds several)")
		fs.BoolVar(&dry, "dry-run", false, "check the file and count what would change; write nothing")
		fs.BoolVar(&skip, "skip-bad-rows", false, "import the good rows and report the bad ones")
		fs.StringVar(&format, "format", "", "csv or xlsx (default: told by the file's content)")
	})
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("import customers: name one FILE (- reads standard input)\n%s", use)
	}
	if c.Pprof != "" {
		go servePprof(c.Pprof, c.Logger(env.Stderr))
	}
	opt := transfer.Options{DryRun: dry, SkipBadRows: skip}
	if format != "" {
		if opt.Format, err = transfer.ParseFormat(format); err != nil {
			return usagef("import customers: %v", err)
		}
	}
	path := files[0]
	if path == "-" {
		if path, err = spoolStdin(env.Stdin); err != nil {
			return err
		}
		defer os.Remove(path)
	} else if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("import customers: %w", err)
	}
	db, svc, err := openWith(ctx, c, c.Logger(env.Stderr), sqldb.Options{Bulk: !dry})
	if err != nil {
		return err
	}
	defer db.Close()
	tenantID, err := pickTenant(ctx, svc, tenant)
	if err != nil {
		return err
	}
	ctx = kopilka.WithActor(ctx, kopilka.Actor{TenantID: tenantID, Name: "cli"})
	if env.Getenv("GOGC") == "" && env.Getenv("GOMEMLIMIT") == "" {
		importGC(svc.Dialect())
	}
	bar := newBar(env.Stderr)
	opt.Progress = bar.update
	start := time.Now()
	rep, err := transfer.Import(ctx, svc, tenantID, path, opt)
	bar.clear()
	if rep != nil {
		for _, e := range rep.Errors {
			fmt.Fprintln(env.Stderr, formatRowError(e))
		}
		if more := rep.Bad - int64(len(rep.Errors)); more > 0 {
			fmt.Fprintf(env.Stderr, "… and %d more bad rows\n", more)
		}
		if len(rep.Ignored) > 0 {
			fmt.Fprintf(env.Stderr, "note: columns ignored (not known): %s\n", strings.Join(rep.Ignored, ", "))
		}
	}
	if err != nil {
		return fmt.Errorf("import customers: %w", err)
	}
	took := time.Since(start)
	fmt.Fprintf(env.Stdout, "%s (%.1f s, %.0f rows/s)\n", rep.Summary(), took.Seconds(), float64(rep.Rows)/max(took.Seconds(), 1e-3))
	if rep.Written {
		// Fresh rows need the planner's statistics where autovacuum is off.
		if _, err := db.Maintain(ctx, sqldb.AfterImport); err != nil {
			fmt.Fprintf(env.Stderr, "note: the tables could not be analysed after the import: %v\n", err)
		}
	}
	if rep.Bad > 0 && !skip {
		return &ExitError{Code: 1, Err: fmt.Errorf("import customers: %d bad rows; nothing written", rep.Bad)}
	}
	return nil
}

// formatRowError words a row error as `line 17, column phone: …`.
func formatRowError(e loyalty.RowError) string {
	var where []string
	if e.Line > 0 {
		where = append(where, fmt.Sprintf("line %d", e.Line))
	}
	if e.Column != "" {
		where = append(where, "column "+e.Column)
	}
	if len(where) == 0 {
		return e.Message
	}
	return strings.Join(where, ", ") + ": " + e.Message
}

// spoolStdin copies standard input to a temporary file: an import reads
// its file twice.
func spoolStdin(r io.Reader) (string, error) {
	f, err := os.CreateTemp("", "kopilka-import-*")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("read standard input: %w", err)
	}
	return f.Name(), f.Close()
}

// runExport is `kopilka export customers|balances|operations`.
func runExport(ctx context.Context, env Env, args []string) error {
	const use = "usage: kopilka export customers|balances|operations [--format csv|xlsx] [--out FILE] [--tenant ID] " +
		"[--from DATE] [--to DATE] [--db …]"
	if len(args) == 0 || (args[0] != "customers" && args[0] != "balances" && args[0] != "operations") {
		return usagef(use)
	}
	kind := args[0]
	var tenant, format, out, from, to string
	c, rest, err := parseArgs(env, "export "+kind, args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant id (needed when the database holds several)")
		fs.StringVar(&format, "format", "", "csv or xlsx (default: xlsx when --out ends in .xlsx, else csv)")
		fs.StringVar(&out, "out", "", "write to this file (default: standard output)")
		fs.StringVar(&from, "from", "", "operations: first day (YYYY-MM-DD) or time (RFC 3339)")
		fs.StringVar(&to, "to", "", "operations: last day (YYYY-MM-DD, included) or time (RFC 3339, excluded)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("export %s: unexpected argument %q\n%s", kind, rest[0], use)
	}
	if kind != "operations" && (from != "" || to != "") {
		return usagef("export %s: --from and --to are for operations", kind)
	}
	f := transfer.CSV
	switch {
	case format != "":
		if f, err = transfer.ParseFormat(format); err != nil {
			return usagef("export %s: %v", kind, err)
		}
	case strings.EqualFold(filepath.Ext(out), ".xlsx"):
		f = transfer.XLSX
	}
	db, svc, err := open(ctx, c, c.Logger(env.Stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	tenantID, err := pickTenant(ctx, svc, tenant)
	if err != nil {
		return err
	}
	w, done, err := exportTarget(env, out)
	if err != nil {
		return err
	}
	var n int64
	switch kind {
	case "customers":
		n, err = transfer.ExportCustomers(ctx, svc, tenantID, f, w)
	case "balances":
		n, err = transfer.ExportBalances(ctx, svc, tenantID, f, w)
	case "operations":
		var p interface{ Location() *time.Location }
		if p, err = svc.Program(ctx, tenantID); err == nil {
			var start, end time.Time
			if start, end, err = transfer.ParsePeriod(from, to, p.Location()); err != nil {
				err = &ExitError{Code: 2, Err: err}
			} else {
				n, err = transfer.ExportOperations(ctx, svc, tenantID, start, end, f, w)
			}
		}
	}
	if err := done(err); err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return err
		}
		return fmt.Errorf("export %s: %w", kind, err)
	}
	where := out
	if where == "" {
		where = "standard output"
	}
	fmt.Fprintf(env.Stderr, "exported %d %s to %s\n", n, kind, where)
	return nil
}

// exportTarget opens where an export goes: a new file (removed again if
// the export fails) or standard output. done finishes it.
func exportTarget(env Env, out string) (io.Writer, func(error) error, error) {
	if out == "" {
		return env.Stdout, func(err error) error { return err }, nil
	}
	f, err := os.Create(out)
	if err != nil {
		return nil, nil, err
	}
	return f, func(err error) error {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out)
		}
		return err
	}, nil
}

// bar draws an import's progress on a terminal: nothing elsewhere.
type bar struct {
	mu    sync.Mutex
	w     io.Writer
	last  time.Time
	start time.Time // of the phase
	phase string
	drawn bool
}

// newBar returns a bar on w when w is a terminal, else one that draws
// nothing.
func newBar(w io.Writer) *bar {
	f, ok := w.(*os.File)
	if !ok {
		return &bar{}
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return &bar{}
	}
	return &bar{w: w}
}

func (b *bar) update(p transfer.Progress) {
	if b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.Phase != b.phase {
		b.phase, b.start = p.Phase, time.Now()
	}
	if time.Since(b.last) < 100*time.Millisecond && p.Percent < 100 {
		return
	}
	b.last = time.Now()
	fmt.Fprint(b.w, "\r\033[K"+renderBar(p, time.Since(b.start)))
	b.drawn = true
}

func (b *bar) clear() {
	if b.w == nil || !b.drawn {
		return
	}
	fmt.Fprint(b.w, "\r\033[K")
}

// renderBar is one line of progress.
func renderBar(p transfer.Progress, took time.Duration) string {
	const width = 30
	filled := min(max(p.Percent*width/100, 0), width)
	rows := fmt.Sprintf("%d rows", p.Rows)
	if p.RowsTotal > 0 {
		rows = fmt.Sprintf("%d/%d rows", p.Rows, p.RowsTotal)
	}
	rate := ""
	if s := took.Seconds(); s > 0.5 {
		rate = fmt.Sprintf(", %.0f rows/s", float64(p.Rows)/s)
	}
	bad := ""
	if p.Bad > 0 {
		bad = fmt.Sprintf(", %d bad", p.Bad)
	}
	return fmt.Sprintf("[%s%s] %3d%% %s %s%s%s", strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		p.Percent, p.Phase, rows, bad, rate)
}
