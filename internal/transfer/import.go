package transfer

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/kopilka/kopilka/internal/loyalty"
)

// Options say how to import a file.
type Options struct {
	// Format is the file's format; "" tells XLSX (a ZIP archive) from
	// CSV by the first bytes.
	Format Format
	// DryRun checks the file against the database and counts what it
	// would create, update and leave unchanged, and writes nothing.
	DryRun bool
	// SkipBadRows imports the good rows of a file with bad ones.
	SkipBadRows bool
	// Integration names where the external ids come from; "" is
	// "default".
	Integration string
	// ChunkSize is the rows written per transaction; 0 means
	// PostgresChunkSize or SQLiteChunkSize.
	ChunkSize int
	// Progress, when set, is called after each chunk.
	Progress func(Progress)
	// Now is the clock birth dates are checked against; nil: time.Now.
	Now func() time.Time
}

// DefaultChunkSize is how many rows one transaction of the server's
// import jobs writes: they run beside sales.
const DefaultChunkSize = 1000

// PostgresChunkSize is the chunk of an import on PostgreSQL that asks for
// none: a million rows ran at 19,300-20,200 rows/s in chunks of 3,000 and
// 18,400-19,200 in chunks of 1,000 (fewer statements and commits for the
// same rows).
const PostgresChunkSize = 3000

// SQLiteChunkSize is the chunk of an import on SQLite that asks for
// none. Its commit writes every page the chunk touched to the log, and the
// blind index of phones takes rows all over itself (e-mails and names are
// search terms: see migration 0011): five times the rows cost about twice
// the pages. A chunk holds the writer for
// about half a second, so the server's import jobs ask for
// DefaultChunkSize.
const SQLiteChunkSize = 5000

// MaxErrors is how many row errors a Report keeps; it counts them all.
const MaxErrors = 1000

// Import phases.
const (
	PhaseChecking  = "checking"
	PhaseImporting = "importing"
)

// Progress is how far an import has come.
type Progress struct {
	Phase     string // PhaseChecking (the first pass) or PhaseImporting
	Rows      int64  // rows read so far in this phase
	RowsTotal int64  // rows of the file; -1 until a first pass counted them
	Bytes     int64  // bytes read so far in this phase; -1 when unknown (XLSX)
	Size      int64  // bytes of the file
	Created   int64
	Updated   int64
	Unchanged int64
	Bad       int64
	Percent   int // of the whole import, both passes
}

// Report is what an import did or, for a dry run or a bad file, would do.
type Report struct {
	Format    Format
	Rows      int64 // rows read (without the header and blank rows)
	Created   int64
	Updated   int64
	Unchanged int64
	Bad       int64      // bad rows, or 1 for a file that could not be read
	Errors    []RowError // the first MaxErrors, in line order
	Ignored   []string   // header cells that name no column
	DryRun    bool
	// SkipBadRows: the good rows of a file with bad ones are imported.
	SkipBadRows bool
	// Written: rows were written. A bad file (without SkipBadRows) and a
	// dry run write nothing.
	Written bool
}

// ErrInterrupted is returned when the database refused rows after the
// check passed (something changed meanwhile): the chunks before were
// written; importing the file again completes it.
var ErrInterrupted = errors.New("the import stopped part way")

// ErrChanged is returned when the file changed between the check and the
// import: nothing was written.
var ErrChanged = errors.New("the file changed")

// Import imports the customers file at path into a tenant. Without
// SkipBadRows it reads the file twice: a check of every row (against the
// database too) and, only when no row is bad, the import itself in chunks.
// A returned error is a failure of the database or the context; a bad
// file is a Report with Bad > 0.
func Import(ctx context.Context, svc *loyalty.Service, tenantID, path string, opt Options) (*Report, error) {
	im, err := newImporter(svc, tenantID, path, opt)
	if err != nil {
		return nil, err
	}
	if opt.SkipBadRows && !opt.DryRun {
		return im.pass(ctx, PhaseImporting, false, -1)
	}
	rep, err := im.pass(ctx, PhaseChecking, true, -1)
	if err != nil || opt.DryRun || rep.Bad > 0 {
		return rep, err
	}
	// The check's table of keys is garbage now: hand its pages back to
	// the system before the writes fill the database's page cache, or
	// the two add up (a million rows peaked 30 MB above the steady state).
	debug.FreeOSMemory()
	// The import pass trusts the check (it does not look for repeated
	// keys again): the file must be the one checked.
	if fi, err := os.Stat(path); err != nil || fi.Size() != im.size || !fi.ModTime().Equal(im.mtime) {
		return nil, fmt.Errorf("%w after it was checked: nothing was written; import it again", ErrChanged)
	}
	// A check that matched no row to a customer lets the writes skip
	// their lookups (loyalty.ImportOptions.Fresh).
	im.fresh = rep.Updated == 0 && rep.Unchanged == 0
	return im.pass(ctx, PhaseImporting, false, rep.Rows)
}

type importer struct {
	svc      *loyalty.Service
	tenantID string
	path     string
	size     int64
	mtime    time.Time
	format   Format
	opt      Options
	twoPass  bool
	fresh    bool // the check matched no row to a customer
}

func newImporter(svc *loyalty.Service, tenantID, path string, opt Options) (*importer, error) {
	if opt.ChunkSize <= 0 || opt.ChunkSize > 100*DefaultChunkSize {
		opt.ChunkSize = PostgresChunkSize
		if svc.Dialect() == "sqlite" {
			opt.ChunkSize = SQLiteChunkSize
		}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	head := make([]byte, len(zipMagic))
	n, _ := io.ReadFull(f, head)
	format := opt.Format
	if format == "" {
		format = sniff(head[:n])
	}
	return &importer{svc: svc, tenantID: tenantID, path: path, size: fi.Size(), mtime: fi.ModTime(), format: format, opt: opt,
		twoPass: !opt.SkipBadRows || opt.DryRun}, nil
}

func (im *importer) open() (reader, error) {
	if im.format == XLSX {
		return openXLSX(im.path)
	}
	f, err := os.Open(im.path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, len(zipMagic))
	n, _ := io.ReadFull(f, head)
	if sniff(head[:n]) == XLSX {
		f.Close()
		return nil, errors.New("the file is an XLSX workbook, not CSV")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	c, err := newCSVReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	c.f = f
	return c, nil
}

// chunk is a batch of rows from the parser: the good rows to import and
// the errors of the bad ones.
type chunk struct {
	rows   []loyalty.ImportRow
	errs   []RowError
	bad    int64 // rows with errors among errs
	read   int64 // rows read into this chunk, good and bad
	offset int64 // bytes of the file read when the chunk was cut
	header *header
	fatal  bool // errs end the file: it cannot be read further (the parser stops)
}

// writers is how many chunks go to the database at once: PostgreSQL
// takes them on several connections (two keep it busy while the next
// chunk is read and checked; more measured no faster on two cores);
// SQLite has one writer.
func (im *importer) writers() int {
	if im.svc.Dialect() == "postgres" {
		return 2
	}
	return 1
}

// pass reads the file once and feeds it to the database: dry, only
// planning against it. total is the row count a first pass found.
func (im *importer) pass(ctx context.Context, phase string, dry bool, total int64) (*Report, error) {
	rep := &Report{Format: im.format, DryRun: im.opt.DryRun, SkipBadRows: im.opt.SkipBadRows}
	rd, err := im.open()
	if err != nil {
		rep.Bad = 1
		rep.Errors = []RowError{{Message: err.Error()}}
		return rep, nil
	}
	defer rd.close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunks := make(chan chunk, 2)
	var wg sync.WaitGroup
	p := &parser{im: im, seed: maphash.MakeSeed()}
	if !(phase == PhaseImporting && im.twoPass) {
		// The import after a clean check needs no second look for
		// repeats (the database's unique keys still refuse any), and so
		// does without the map, tens of megabytes for a million rows.
		p.seen = &keySet{}
	}
	wg.Go(func() { p.run(ctx, rd, chunks) })
	claims := &claimSet{seed: p.seed, m: map[uint64]int32{}}
	opt := loyalty.ImportOptions{Integration: im.opt.Integration, DryRun: dry, SkipBadRows: im.opt.SkipBadRows, Claim: claims.claim,
		Fresh: im.fresh && !dry}
	var mu sync.Mutex // guards rep and the progress
	var offset int64
	for range im.writers() {
		wg.Go(func() {
			for ch := range chunks {
				var res *loyalty.ImportResult
				if len(ch.rows) > 0 && ctx.Err() == nil {
					var err error
					if res, err = im.svc.ImportChunk(ctx, im.tenantID, ch.rows, opt); err != nil {
						cancel(err)
						continue
					}
				}
				mu.Lock()
				refused := rep.add(&ch, res, dry)
				offset = max(offset, ch.offset)
				im.progress(phase, rep, offset, total)
				mu.Unlock()
				if refused != nil {
					cancel(fmt.Errorf("line %d: %w: the database refused a row the check had passed; "+
						"the chunks written before stay, and importing the file again completes the import", refused.Line, ErrInterrupted))
				}
			}
		})
	}
	wg.Wait()
	slices.SortStableFunc(rep.Errors, func(a, b RowError) int { return a.Line - b.Line })
	rep.Errors = rep.Errors[:min(len(rep.Errors), MaxErrors)]
	return rep, context.Cause(ctx)
}

// add counts a chunk and what the database made of it; it returns the
// first bad row of a chunk the database refused after the check passed.
func (r *Report) add(ch *chunk, res *loyalty.ImportResult, dry bool) *RowError {
	if ch.header != nil {
		r.Ignored = ch.header.ignored
	}
	r.Rows += ch.read
	r.Bad += ch.bad
	r.addErrors(ch.errs)
	if res == nil {
		return nil
	}
	r.Created += int64(res.Created)
	r.Updated += int64(res.Updated)
	r.Unchanged += int64(res.Unchanged)
	r.Bad += int64(len(res.Errors))
	r.Written = r.Written || res.Written
	r.addErrors(res.Errors)
	if !dry && !res.Written && len(res.Errors) > 0 {
		return &res.Errors[0]
	}
	return nil
}

// addErrors keeps errors, the first MaxErrors by line: chunks may come
// in out of order, so it keeps up to twice as many until the end.
func (r *Report) addErrors(errs []RowError) {
	r.Errors = append(r.Errors, errs...)
	if len(r.Errors) > 2*MaxErrors {
		slices.SortStableFunc(r.Errors, func(a, b RowError) int { return a.Line - b.Line })
		r.Errors = r.Errors[:MaxErrors]
	}
}

func (im *importer) progress(phase string, rep *Report, offset, total int64) {
	if im.opt.Progress == nil {
		return
	}
	pr := Progress{Phase: phase, Rows: rep.Rows, RowsTotal: total, Bytes: offset, Size: im.size,
		Created: rep.Created, Updated: rep.Updated, Unchanged: rep.Unchanged, Bad: rep.Bad}
	var frac float64 // of this phase
	switch {
	case offset >= 0 && im.size > 0:
		frac = float64(offset) / float64(im.size)
	case total > 0:
		frac = float64(rep.Rows) / float64(total)
	}
	frac = min(frac, 1)
	// The check reads without writing: a quarter of the time, roughly.
	switch {
	case !im.twoPass:
		pr.Percent = int(frac * 100)
	case phase == PhaseChecking:
		pr.Percent = int(frac * 25)
	default:
		pr.Percent = 25 + int(frac*75)
	}
	im.opt.Progress(pr)
}

// claimSet remembers which existing customers rows changed, by a hash of
// their ids, so that one file cannot set one customer twice.
type claimSet struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[uint64]int32
}

func (c *claimSet) claim(customerID string, line int) int {
	h := maphash.String(c.seed, customerID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.m[h]; ok {
		return int(l)
	}
	c.m[h] = int32(line)
	return 0
}

// parser reads records, checks each row, and cuts chunks.
type parser struct {
	im   *importer
	seed maphash.Seed
	// seen maps a hash of each key (external id, phone, card) to the line
	// that had it: 12 bytes a slot, not the keys themselves, so a million
	// rows cost under 50 MB. nil: repeats are not looked for.
	seen *keySet
}

func (p *parser) run(ctx context.Context, rd reader, out chan<- chunk) {
	defer close(out)
	size := p.im.opt.ChunkSize
	var h *header
	cur := chunk{}
	send := func() bool {
		cur.offset = rd.offset()
		select {
		case out <- cur:
			cur = chunk{}
			return true
		case <-ctx.Done():
			return false
		}
	}
	now := p.im.opt.Now()
	sheet := p.im.format == XLSX
	for {
		rec, err := rd.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			cur.errs = append(cur.errs, RowError{Line: line, Message: "the file cannot be read from here on: " + err.Error()})
			cur.bad++
			cur.fatal = true
			send()
			return
		}
		if rec.blank() {
			continue
		}
		if h == nil {
			var errs []RowError
			h, errs = parseHeader(rec.line, rec.fields)
			cur.header = h
			if len(errs) > 0 {
				cur.errs, cur.bad, cur.fatal = errs, 1, true
				send()
				return
			}
			continue
		}
		row, errs := h.parseRow(rec, sheet, now)
		if len(errs) == 0 && p.seen != nil {
			errs = p.dupes(&row)
		}
		cur.read++
		if len(errs) > 0 {
			cur.errs = append(cur.errs, errs...)
			cur.bad++
		} else {
			cur.rows = append(cur.rows, row)
		}
		if len(cur.rows)+int(cur.bad) >= size && !send() {
			return
		}
	}
	if h == nil {
		cur.errs, cur.bad, cur.fatal = []RowError{{Message: "the file is empty: it needs a header row and rows of customers"}}, 1, true
	}
	send()
}

// dupes refuses a row whose external id, phone or card an earlier row of
// the file had, and remembers the row's keys.
func (p *parser) dupes(r *loyalty.ImportRow) []RowError {
	type key struct{ col, kind, v string }
	keys := make([]key, 0, 2+len(r.Cards))
	if r.ExternalID != "" {
		keys = append(keys, key{ColExternalID, "e", r.ExternalID})
	}
	if r.Phone != "" {
		keys = append(keys, key{ColPhone, "p", r.Phone})
	}
	for _, n := range r.Cards {
		keys = append(keys, key{ColCard, "c", n})
	}
	hashes := make([]uint64, len(keys))
	var errs []RowError
	for i, k := range keys {
		hashes[i] = maphash.String(p.seed, k.kind+"\x00"+k.v)
		if line := p.seen.get(hashes[i]); line != 0 {
			errs = append(errs, RowError{Line: r.Line, Column: k.col, Message: fmt.Sprintf("%q repeats line %d", k.v, line)})
		}
	}
	if len(errs) == 0 {
		for _, h := range hashes {
			p.seen.put(h, int32(r.Line))
		}
	}
	return errs
}

// Identifier is how a till would find one customer of a file: the phone
// (E.164) and the cards of a row.
type Identifier struct {
	Phone string
	Cards []string
}

// ReadIdentifiers reads the phones and cards of a customers file as
// Import reads them (CSV or XLSX, the same headers, encodings and cell
// forms), skipping rows that name neither or that Import would refuse.
// It is for load tests of identification.
func ReadIdentifiers(path string) ([]Identifier, error) {
	// No database: newImporter asks for the dialect only when it has to
	// choose the chunk size.
	im, err := newImporter(nil, "", path, Options{ChunkSize: DefaultChunkSize})
	if err != nil {
		return nil, err
	}
	rd, err := im.open()
	if err != nil {
		return nil, err
	}
	defer rd.close()
	// Import's own parser, without the look for repeated keys (seen nil);
	// the channel is drained to its end, so the parser is done with rd
	// before rd closes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chunks := make(chan chunk, 1)
	go (&parser{im: im}).run(ctx, rd, chunks)
	var out []Identifier
	var bad error
	for ch := range chunks {
		switch {
		case bad != nil:
			continue
		case ch.fatal:
			bad = fmt.Errorf("%s: %s", path, ch.errs[len(ch.errs)-1].Message)
		case ch.header != nil && ch.header.position(ColPhone) < 0 && ch.header.position(ColCard) < 0:
			bad = fmt.Errorf("%s: the header has neither a phone nor a card column", path)
		}
		if bad != nil {
			cancel()
			continue
		}
		for _, row := range ch.rows {
			if row.Phone != "" || len(row.Cards) > 0 {
				out = append(out, Identifier{Phone: row.Phone, Cards: row.Cards})
			}
		}
	}
	if bad != nil {
		return nil, bad
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no row has a phone or a card", path)
	}
	return out, nil
}
