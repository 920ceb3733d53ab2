package api

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/transfer"
)

// uploadTime is how long a client may take to send an import file (the
// server's read timeout is for ordinary requests).
const uploadTime = 15 * time.Minute

type importErrorJSON struct {
	Line    int    `json:"line"`
	Column  string `json:"column"`
	Message string `json:"message"`
}

type importJSON struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Phase       *string           `json:"phase"`
	Format      string            `json:"format"`
	DryRun      bool              `json:"dry_run"`
	SkipBadRows bool              `json:"skip_bad_rows"`
	Size        int64             `json:"size"`
	Percent     int               `json:"percent"`
	RowsTotal   *int64            `json:"rows_total"`
	RowsDone    int64             `json:"rows_done"`
	Created     int64             `json:"created"`
	Updated     int64             `json:"updated"`
	Unchanged   int64             `json:"unchanged"`
	BadRows     int64             `json:"bad_rows"`
	Errors      []importErrorJSON `json:"errors"`
	Message     string            `json:"message"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	FinishedAt  *time.Time        `json:"finished_at"`
}

func importView(j *loyalty.ImportJob) importJSON {
	v := importJSON{ID: j.ID, Status: j.Status, Phase: optional(j.Phase), Format: j.Format, DryRun: j.DryRun,
		SkipBadRows: j.SkipBadRows, Size: j.Size, Percent: j.Percent, RowsDone: j.RowsDone, Created: j.Created,
		Updated: j.Updated, Unchanged: j.Unchanged, BadRows: j.BadRows, Errors: []importErrorJSON{}, Message: j.Message,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, FinishedAt: j.FinishedAt}
	if j.RowsTotal >= 0 {
		v.RowsTotal = &j.RowsTotal
	}
	for _, e := range j.Errors {
		v.Errors = append(v.Errors, importErrorJSON(e))
	}
	return v
}

// boolParam reads an optional true/false query parameter.
func boolParam(q url.Values, name string) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, kopilka.Invalid(name, "%s must be true or false", name)
	}
	return b, nil
}

// uploadFormat is the format of an upload: ?format=, else the
// Content-Type; "" leaves it to the file's first bytes.
func uploadFormat(r *http.Request) (transfer.Format, error) {
	if s := r.URL.Query().Get("format"); s != "" {
		f, err := transfer.ParseFormat(s)
		if err != nil {
			return "", kopilka.Invalid("format", "format must be csv or xlsx")
		}
		return f, nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
	case mt == "text/csv", mt == "application/csv", mt == "text/plain", mt == "text/tab-separated-values":
		return transfer.CSV, nil
	case mt == transfer.XLSX.ContentType():
		return transfer.XLSX, nil
	case mt == "application/octet-stream":
		return "", nil
	}
	return "", kopilka.Invalid("Content-Type", "send the file as text/csv or %s, or name its format with ?format=csv|xlsx",
		transfer.XLSX.ContentType())
}

// createImport receives a customers file and starts its import.
func (h *Handler) createImport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	dry, err := boolParam(q, "dry_run")
	if err != nil {
		return err
	}
	skip, err := boolParam(q, "skip_bad_rows")
	if err != nil {
		return err
	}
	format, err := uploadFormat(r)
	if err != nil {
		return err
	}
	view := func(v any) any { return importView(v.(*loyalty.ImportJob)) }
	idem, err := h.idempotency(r, "POST /v1/imports", nil, http.StatusAccepted, view)
	if err != nil {
		return err
	}
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%s\x00%s\x00", r.Method, r.URL.Path, r.URL.RawQuery)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadTime))
	var body io.Reader = http.NoBody
	if r.Body != nil {
		body = r.Body
	}
	job, err := h.jobs.Start(r.Context(), tenantOf(r), transfer.Upload{Body: body, Format: format, DryRun: dry,
		SkipBadRows: skip, Idem: idem, Hash: sum})
	if rep := loyalty.AsReplay(err); rep != nil {
		var first struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(rep.Body, &first) == nil && first.ID != "" {
			w.Header().Set("Location", "/v1/imports/"+first.ID)
		}
	}
	if err != nil {
		return respond(w, 0, nil, err)
	}
	w.Header().Set("Location", "/v1/imports/"+job.ID)
	return writeJSON(w, http.StatusAccepted, view(job))
}

func (h *Handler) getImport(w http.ResponseWriter, r *http.Request) error {
	j, err := h.svc.GetImportJob(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, importView(j))
}

// exportFormat reads ?format=, csv by default.
func exportFormat(r *http.Request) (transfer.Format, error) {
	s := r.URL.Query().Get("format")
	if s == "" {
		return transfer.CSV, nil
	}
	f, err := transfer.ParseFormat(s)
	if err != nil {
		return "", kopilka.Invalid("format", "format must be csv or xlsx")
	}
	return f, nil
}

// startWriter sends the answer's header with the first bytes of the file,
// so an export that fails before writing anything still answers with a
// problem.
type startWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		s.w.WriteHeader(http.StatusOK)
	}
	return s.w.Write(p)
}

// export streams a file the run function writes.
func (h *Handler) export(w http.ResponseWriter, r *http.Request, name string,
	run func(f transfer.Format, w io.Writer) (int64, error)) error {
	format, err := exportFormat(r)
	if err != nil {
		return err
	}
	// A large export takes longer than the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	hdr := w.Header()
	hdr.Set("Content-Type", format.ContentType())
	hdr.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.%s"`, name, time.Now().UTC().Format("2006-01-02"), format))
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	sw := &startWriter{w: w}
	n, err := run(format, sw)
	actor := kopilka.ActorFrom(r.Context())
	if err != nil {
		if !sw.started {
			hdr.Del("Content-Disposition")
			return err
		}
		// The client has part of a file: cut the connection so it cannot
		// take it for the whole one.
		h.log.ErrorContext(r.Context(), "export failed after it started", "export", name, "tenant", actor.TenantID, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !sw.started {
		_, _ = sw.Write(nil)
	}
	// Who exported personal data, and when, is kept in the log.
	h.log.InfoContext(r.Context(), "export", "export", name, "format", string(format), "rows", n,
		"tenant", actor.TenantID, "key", actor.KeyID)
	return nil
}

func (h *Handler) exportCustomers(w http.ResponseWriter, r *http.Request) error {
	return h.export(w, r, "customers", func(f transfer.Format, out io.Writer) (int64, error) {
		return transfer.ExportCustomers(r.Context(), h.svc, tenantOf(r), f, out)
	})
}

func (h *Handler) exportBalances(w http.ResponseWriter, r *http.Request) error {
	return h.export(w, r, "balances", func(f transfer.Format, out io.Writer) (int64, error) {
		return transfer.ExportBalances(r.Context(), h.svc, tenantOf(r), f, out)
	})
}

func (h *Handler) exportOperations(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.Program(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, to, err := transfer.ParsePeriod(q.Get("from"), q.Get("to"), p.Location())
	if err != nil {
		return err
	}
	return h.export(w, r, "operations", func(f transfer.Format, out io.Writer) (int64, error) {
		return transfer.ExportOperations(r.Context(), h.svc, tenantOf(r), from, to, f, out)
	})
}
