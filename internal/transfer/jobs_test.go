package transfer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// jobsEnv is a runner whose finished jobs arrive on done.
type jobsEnv struct {
	ctx    context.Context
	svc    *loyalty.Service
	jobs   *Jobs
	done   chan loyalty.ImportJob
	tenant string
	now    func() time.Time
	mu     sync.Mutex
	clock  time.Time
}

func newJobsEnv(t *testing.T, dialect string) *jobsEnv {
	t.Helper()
	e := &jobsEnv{ctx: context.Background(), done: make(chan loyalty.ImportJob, 10), clock: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	e.now = func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.clock
	}
	db := storagetest.Open(t, dialect, sqldb.Options{Clock: e.now})
	e.svc = loyalty.New(db, e.now, nil)
	e.jobs = NewJobs(e.svc, nil)
	e.jobs.OnDone(func(j *loyalty.ImportJob) { e.done <- *j })
	t.Cleanup(e.jobs.Stop)
	ten, _, err := e.svc.CreateTenant(e.ctx, "Jobs")
	if err != nil {
		t.Fatal(err)
	}
	e.tenant = ten.ID
	return e
}

func (e *jobsEnv) start(t *testing.T, body string, up Upload) *loyalty.ImportJob {
	t.Helper()
	up.Body = strings.NewReader(body)
	j, err := e.jobs.Start(e.ctx, e.tenant, up)
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	if j.Status != "queued" || !kopilka.ValidID("imp", j.ID) {
		t.Fatalf("Start = %+v, want a queued job", j)
	}
	return j
}

func (e *jobsEnv) wait(t *testing.T, id string) loyalty.ImportJob {
	t.Helper()
	select {
	case j := <-e.done:
		if j.ID != id {
			t.Fatalf("job %s finished, want %s", j.ID, id)
		}
		stored, err := e.svc.GetImportJob(e.ctx, e.tenant, id)
		if err != nil || stored.Status != j.Status || stored.FinishedAt == nil {
			t.Fatalf("GetImportJob(%s) = %+v, %v; want it finished as %s", id, stored, err, j.Status)
		}
		return *stored
	case <-time.After(30 * time.Second):
		t.Fatalf("job %s did not finish", id)
	}
	return loyalty.ImportJob{}
}

const jobFile = "phone,first_name,balance\n89120000001,Анна,10\n89120000002,Борис,\n"

func TestJobs(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newJobsEnv(t, dialect)

			j := e.wait(t, e.start(t, jobFile, Upload{}).ID)
			if j.Status != "done" || j.Created != 2 || j.RowsDone != 2 || j.RowsTotal != 2 || j.Percent != 100 || j.Format != "csv" {
				t.Errorf("job of a good file = %+v, want done with 2 created", j)
			}

			j = e.wait(t, e.start(t, jobFile+"8 912,Вера,\n", Upload{}).ID)
			if j.Status != "failed" || j.BadRows != 1 || len(j.Errors) != 1 || j.Errors[0].Line != 4 || j.Errors[0].Column != "phone" {
				t.Errorf("job of a bad file = %+v, want failed with line 4, column phone", j)
			}

			j = e.wait(t, e.start(t, jobFile+"89120000003,Вера,\n8 912,Глеб,\n", Upload{DryRun: true, SkipBadRows: true}).ID)
			if j.Status != "done" || j.Created != 1 || j.Unchanged != 2 || j.BadRows != 1 || !j.DryRun {
				t.Errorf("dry-run job = %+v, want done: 1 to create, 2 unchanged, 1 bad", j)
			}
			if _, _, err := e.svc.FindCustomer(e.ctx, e.tenant, loyalty.Ref{Phone: "89120000003"}); kopilka.ErrorCode(err) != kopilka.CodeCustomerNotFound {
				t.Errorf("after a dry run FindCustomer(+79120000003) = %v, want customer_not_found", err)
			}
		})
	}
}

func TestJobsRefuseUploads(t *testing.T) {
	t.Parallel()
	e := newJobsEnv(t, "sqlite")
	for _, tc := range []struct {
		name string
		body string
		up   Upload
		code kopilka.Code
	}{
		{"Empty", "", Upload{}, kopilka.CodeInvalidRequest},
		{"NotXLSX", jobFile, Upload{Format: XLSX}, kopilka.CodeInvalidRequest},
		{"XLSXAsCSV", "PK\x03\x04...", Upload{Format: CSV}, kopilka.CodeInvalidRequest},
		{"TooLarge", "", Upload{Body: &endless{}}, kopilka.CodeTooLarge},
	} {
		up := tc.up
		if up.Body == nil {
			up.Body = strings.NewReader(tc.body)
		}
		if _, err := e.jobs.Start(e.ctx, e.tenant, up); kopilka.ErrorCode(err) != tc.code {
			t.Errorf("Start(%s) = %v, want %s", tc.name, err, tc.code)
		}
	}
}

// endless is a body larger than any upload may be.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n > MaxUpload+1<<20 {
		return 0, errors.New("read past the limit")
	}
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

// TestJobsStop: a job the server stops fails, and says so.
func TestJobsStop(t *testing.T) {
	t.Parallel()
	e := newJobsEnv(t, "sqlite")
	e.jobs.turn <- struct{}{} // another import holds the turn
	j := e.start(t, jobFile, Upload{})
	e.jobs.Stop()
	got := e.wait(t, j.ID)
	if got.Status != "failed" || !strings.Contains(got.Message, "stopped") || got.Created != 0 {
		t.Errorf("job stopped while queued = %+v, want failed by the stop", got)
	}
}

// TestJobsStale: a queued or running job whose heartbeat is older than
// loyalty.JobStaleAfter (its server died) reads as failed, for good.
func TestJobsStale(t *testing.T) {
	t.Parallel()
	e := newJobsEnv(t, "sqlite")
	e.jobs.turn <- struct{}{}
	e.jobs.beat = time.Hour
	j := e.start(t, jobFile, Upload{})
	if got, err := e.svc.GetImportJob(e.ctx, e.tenant, j.ID); err != nil || got.Status != "queued" {
		t.Fatalf("GetImportJob(fresh) = %+v, %v; want queued", got, err)
	}
	e.mu.Lock()
	e.clock = e.clock.Add(loyalty.JobStaleAfter - time.Second)
	e.mu.Unlock()
	if got, err := e.svc.GetImportJob(e.ctx, e.tenant, j.ID); err != nil || got.Status != "queued" {
		t.Fatalf("GetImportJob(just before stale) = %+v, %v; want queued (the negative control)", got, err)
	}
	e.mu.Lock()
	e.clock = e.clock.Add(2 * time.Second)
	e.mu.Unlock()
	got, err := e.svc.GetImportJob(e.ctx, e.tenant, j.ID)
	if err != nil || got.Status != "failed" || !strings.Contains(got.Message, "interrupted") {
		t.Fatalf("GetImportJob(stale) = %+v, %v; want failed as interrupted", got, err)
	}
	// The runner, still alive in this test, cannot undo it.
	e.jobs.Stop()
	<-e.done
	if again, err := e.svc.GetImportJob(e.ctx, e.tenant, j.ID); err != nil || again.Status != "failed" || again.Message != got.Message {
		t.Errorf("GetImportJob after the runner stopped = %+v, %v; want the stale failure kept", again, err)
	}
	if _, err := e.svc.GetImportJob(e.ctx, e.tenant, "imp_nope"); kopilka.ErrorCode(err) != kopilka.CodeNotFound {
		t.Errorf("GetImportJob(imp_nope) = %v, want not_found", err)
	}
}
