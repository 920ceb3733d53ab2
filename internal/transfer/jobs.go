package transfer

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage"
)

// MaxUpload is the largest file an import through the API may be.
const MaxUpload = 100 << 20

// Jobs runs the imports the API receives in the background of the server
// process, one at a time, each from a temporary copy of its file. A job
// writes its progress to the database at least every second while it
// works (the heartbeat) and every 30 seconds while it waits for its turn.
// Stop fails the jobs still running. A job whose server died is failed by
// the first reader that finds its heartbeat older than
// loyalty.JobStaleAfter. Jobs are never resumed: an import is idempotent,
// so uploading the file again completes it.
type Jobs struct {
	svc    *loyalty.Service
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	turn   chan struct{} // one running import at a time
	// beat is how often a waiting job writes its heartbeat.
	beat time.Duration
	// done, when set, is told of each job that finished (tests).
	done func(*loyalty.ImportJob)
}

// NewJobs returns a runner of background imports.
func NewJobs(svc *loyalty.Service, log *slog.Logger) *Jobs {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Jobs{svc: svc, log: log, ctx: ctx, cancel: cancel, turn: make(chan struct{}, 1), beat: 30 * time.Second}
}

// OnDone sets a function told of every job as it finishes.
func (j *Jobs) OnDone(fn func(*loyalty.ImportJob)) { j.done = fn }

// Stop fails the running and waiting jobs and waits until they have
// written so.
func (j *Jobs) Stop() {
	j.cancel()
	j.wg.Wait()
}

// Upload is a file sent for an import.
type Upload struct {
	Body        io.Reader
	Format      Format // "" tells XLSX from CSV by the first bytes
	DryRun      bool
	SkipBadRows bool
	// Idem, when set, makes the upload idempotent; its Hash is completed
	// from Hash, which has seen the request's method and path and sees
	// the body as it is copied.
	Idem *loyalty.Idem
	Hash hash.Hash
}

// Start copies the upload to a temporary file (refusing one larger than
// MaxUpload with payload_too_large), records the job and starts it. An
// idempotent retry returns the first answer as a *loyalty.Replay error.
func (j *Jobs) Start(ctx context.Context, tenantID string, up Upload) (*loyalty.ImportJob, error) {
	path, size, head, err := spool(up.Body, up.Hash)
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			os.Remove(path)
		}
	}()
	format := up.Format
	switch sniffed := sniff(head); {
	case size == 0:
		return nil, kopilka.Invalid("", "the body is empty: send the file to import")
	case format == "":
		format = sniffed
	case format == CSV && sniffed == XLSX:
		return nil, kopilka.Invalid("format", "the body is an XLSX workbook; send it as xlsx")
	case format == XLSX && sniffed != XLSX:
		return nil, kopilka.Invalid("format", "the body is not an XLSX workbook")
	}
	if up.Idem != nil && up.Hash != nil {
		up.Idem.Hash = up.Hash.Sum(nil)
	}
	job, err := j.svc.CreateImportJob(ctx, tenantID, &loyalty.ImportJob{Format: string(format), Size: size,
		DryRun: up.DryRun, SkipBadRows: up.SkipBadRows}, up.Idem)
	if err != nil {
		return nil, err
	}
	keep = true
	actor := kopilka.ActorFrom(ctx)
	j.wg.Go(func() { j.run(kopilka.WithActor(j.ctx, actor), *job, path) })
	return job, nil
}

// spool copies body to a temporary file, at most MaxUpload bytes.
func spool(body io.Reader, h hash.Hash) (path string, size int64, head []byte, err error) {
	f, err := os.CreateTemp("", "kopilka-import-*")
	if err != nil {
		return "", 0, nil, err
	}
	path = f.Name()
	w := io.Writer(f)
	if h != nil {
		w = io.MultiWriter(f, h)
	}
	size, err = io.Copy(w, io.LimitReader(body, MaxUpload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && size > MaxUpload {
		err = kopilka.Errorf(kopilka.CodeTooLarge, "the file is larger than %d MiB", MaxUpload>>20)
	}
	if err != nil {
		os.Remove(path)
		var ke *kopilka.Error
		if !errors.As(err, &ke) {
			err = kopilka.Invalid("", "could not read the request body")
		}
		return "", 0, nil, err
	}
	f, err = os.Open(path)
	if err == nil {
		head = make([]byte, len(zipMagic))
		n, _ := io.ReadFull(f, head)
		head = head[:n]
		f.Close()
	}
	return path, size, head, err
}

// run waits for the job's turn, imports the file and records the outcome.
func (j *Jobs) run(ctx context.Context, job loyalty.ImportJob, path string) {
	defer os.Remove(path)
	beat := time.NewTicker(j.beat)
	defer beat.Stop()
wait:
	for {
		select {
		case j.turn <- struct{}{}:
			break wait
		case <-beat.C:
			j.update(&job) // heartbeat while queued
		case <-ctx.Done():
			j.finish(&job, nil, ctx.Err())
			return
		}
	}
	defer func() { <-j.turn }()
	job.Status = storage.JobRunning
	j.update(&job)
	var last time.Time
	// The server's jobs keep SQLite's writer for a short time a chunk
	// (DefaultChunkSize rows, about 0.1 s): sales go on meanwhile.
	rep, err := Import(ctx, j.svc, job.TenantID, path, Options{Format: Format(job.Format), DryRun: job.DryRun,
		SkipBadRows: job.SkipBadRows, ChunkSize: DefaultChunkSize, Progress: func(p Progress) {
			job.Phase, job.Percent, job.RowsDone, job.RowsTotal = p.Phase, p.Percent, p.Rows, p.RowsTotal
			job.Created, job.Updated, job.Unchanged, job.BadRows = p.Created, p.Updated, p.Unchanged, p.Bad
			if time.Since(last) >= time.Second {
				last = time.Now()
				j.update(&job)
			}
		}})
	j.finish(&job, rep, err)
}

// update writes a job's progress; a failure only costs a heartbeat.
func (j *Jobs) update(job *loyalty.ImportJob) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(j.ctx), 10*time.Second)
	defer cancel()
	if err := j.svc.UpdateImportJob(ctx, job); err != nil && kopilka.ErrorCode(err) != kopilka.CodeConflict {
		j.log.Warn("import job progress not saved", "tenant", job.TenantID, "job", job.ID, "err", err)
	}
}

// finish records how a job ended.
func (j *Jobs) finish(job *loyalty.ImportJob, rep *Report, err error) {
	now := time.Now().UTC()
	job.FinishedAt, job.Phase = &now, ""
	if rep != nil {
		job.RowsDone, job.Created, job.Updated, job.Unchanged, job.BadRows = rep.Rows, rep.Created, rep.Updated, rep.Unchanged, rep.Bad
		job.Errors = rep.Errors
		if job.RowsTotal < 0 {
			job.RowsTotal = rep.Rows
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		job.Status = storage.JobFailed
		job.Message = "the server stopped during the import; rows written before stay, and importing the file again completes it"
		j.log.Info("import stopped with the server", "tenant", job.TenantID, "job", job.ID)
	case err != nil:
		job.Status = storage.JobFailed
		job.Message = "the import failed: " + publicError(err)
		j.log.Error("import failed", "tenant", job.TenantID, "job", job.ID, "err", err)
	case rep.Bad > 0 && !job.DryRun && !job.SkipBadRows:
		job.Status = storage.JobFailed
		job.Message = fmt.Sprintf("the file has %d bad rows; nothing was written", rep.Bad)
	default:
		job.Status, job.Percent = storage.JobDone, 100
		job.Message = rep.Summary()
	}
	j.log.Info("import finished", "tenant", job.TenantID, "job", job.ID, "status", job.Status, "rows", job.RowsDone,
		"created", job.Created, "updated", job.Updated, "unchanged", job.Unchanged, "bad_rows", job.BadRows)
	j.update(job)
	if j.done != nil {
		j.done(job)
	}
}

// publicError says what of an import failure a client may see.
func publicError(err error) string {
	if errors.Is(err, ErrInterrupted) {
		return err.Error()
	}
	if e := kopilka.AsError(err); e != nil && e.Code != kopilka.CodeInternal {
		return e.Message
	}
	return "an internal error (logged)"
}

// Summary says in one line what an import did or would do.
func (r *Report) Summary() string {
	counts := fmt.Sprintf("create %s, update %s, leave %s unchanged", itoa(r.Created), itoa(r.Updated), itoa(r.Unchanged))
	switch {
	case r.DryRun && r.Bad > 0 && !r.SkipBadRows:
		return fmt.Sprintf("dry run: %s rows, %s bad: the import would write nothing; the good rows would %s",
			itoa(r.Rows), itoa(r.Bad), counts)
	case r.DryRun && r.Bad > 0:
		return fmt.Sprintf("dry run: %s rows: would %s, and skip %s bad rows", itoa(r.Rows), counts, itoa(r.Bad))
	case r.DryRun:
		return fmt.Sprintf("dry run: %s rows: would %s", itoa(r.Rows), counts)
	case r.Bad > 0 && !r.Written:
		return fmt.Sprintf("%s rows, %s bad: nothing written", itoa(r.Rows), itoa(r.Bad))
	}
	s := fmt.Sprintf("%s rows: created %s, updated %s, unchanged %s", itoa(r.Rows), itoa(r.Created), itoa(r.Updated), itoa(r.Unchanged))
	if r.Bad > 0 {
		s += fmt.Sprintf("; %s bad rows skipped", itoa(r.Bad))
	}
	return s
}
