// Package api is the JSON API under /v1: the route table, API-key
// authentication and scopes, Idempotency-Key handling, request decoding
// with size limits and unknown-field refusal, and RFC 9457 problem
// responses with stable codes — each in one place.
package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/transfer"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 1 << 20

// Handler serves the API.
type Handler struct {
	svc  *loyalty.Service
	log  *slog.Logger
	jobs *transfer.Jobs // runs the imports in the background
	// limits bound each key's rate and each tenant's requests in flight
	limits Limits
}

// New returns the API handler. Its imports run on a runner of its own
// unless WithImports gives it one.
func New(svc *loyalty.Service, log *slog.Logger) *Handler {
	return &Handler{svc: svc, log: log, jobs: transfer.NewJobs(svc, log)}
}

// WithImports runs the handler's imports on jobs, which the caller stops
// when the server stops; nil keeps the handler's own runner.
func (h *Handler) WithImports(jobs *transfer.Jobs) *Handler {
	if jobs != nil {
		h.jobs = jobs
	}
	return h
}

// Register adds every route of the table to mux, each wrapped by wrap
// (which gets the route's "METHOD /pattern" for metrics and logs), and a
// problem+json 404 for anything else under /v1/.
func (h *Handler) Register(mux *http.ServeMux, wrap func(route string, next http.Handler) http.Handler) {
	for _, rt := range h.routes() {
		route := rt.Method + " " + rt.Pattern
		mux.Handle(route, wrap(route, h.adapt(rt)))
	}
	h.registerDocs(mux, wrap)
	mux.Handle("/v1/", wrap("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.problem(w, r, kopilka.Errorf(kopilka.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})))
}

// Route is one entry of the route table.
type Route struct {
	Method  string
	Pattern string
	Scope   kopilka.Scope // the scope a key needs; "" means no key
	Name    string        // a short operation name, for metrics and the docs
	handle  func(w http.ResponseWriter, r *http.Request) error
}

// Routes lists the API surface, for tests that walk it (S1, S2, S6).
func Routes() []Route { return (&Handler{}).routes() }

func (h *Handler) adapt(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Scope != "" {
			k, err := h.authenticate(r, rt.Scope)
			if err != nil {
				h.problem(w, r, err)
				return
			}
			release, err := h.admit(r.Context(), k)
			if err != nil {
				h.problem(w, r, err)
				return
			}
			defer release()
			r = r.WithContext(kopilka.WithActor(r.Context(), kopilka.Actor{TenantID: k.TenantID, KeyID: k.ID,
				StoreID: k.StoreID, Name: k.ID, Scopes: k.Scopes}))
		}
		if err := rt.handle(w, r); err != nil {
			h.problem(w, r, err)
		}
	})
}

func (h *Handler) authenticate(r *http.Request, need kopilka.Scope) (*kopilka.APIKey, error) {
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return nil, kopilka.Errorf(kopilka.CodeUnauthorized, "send the API key as Authorization: Bearer <key>")
	}
	k, err := h.svc.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return nil, err
	}
	if !k.HasScope(need) {
		return nil, kopilka.Errorf(kopilka.CodeForbidden, "this key lacks the %s scope this endpoint needs", need)
	}
	return k, nil
}

func tenantOf(r *http.Request) string { return kopilka.ActorFrom(r.Context()).TenantID }

// readBody reads the request body up to MaxBody.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, kopilka.Invalid("", "could not read the request body")
	}
	if len(b) > MaxBody {
		return nil, kopilka.Errorf(kopilka.CodeTooLarge, "the request body is larger than %d bytes", MaxBody)
	}
	return b, nil
}

// decode reads a JSON object into v, refusing unknown fields, trailing
// data and wrong types with an invalid_request naming the field.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return kopilka.Invalid("", "the request needs a JSON body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return kopilka.Invalid("", "the body holds more than one JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return kopilka.Invalid("", "the body is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ) && typ.Type == reflect.TypeFor[kopilka.Percent]():
		return kopilka.Invalid(typ.Field, "%s must be a percentage from 0 to 100 with at most four decimals", typ.Field)
	case errors.As(err, &typ) && typ.Type == reflect.TypeFor[kopilka.Quantity]():
		return kopilka.Invalid(typ.Field, "%s must be a number above zero with at most three decimals, written without an exponent (1, 0.5, 2.125)", typ.Field)
	case errors.As(err, &typ):
		return kopilka.Invalid(typ.Field, "%s must be a JSON %s", fieldName(typ.Field), jsonKind(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return kopilka.Invalid(f, "unknown field %q", f)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return kopilka.Invalid("", "the body is not complete JSON")
	}
	return kopilka.Invalid("", "the body could not be read: %s", err.Error())
}

func fieldName(f string) string {
	if f == "" {
		return "the body"
	}
	return f
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "integer"
	case strings.HasPrefix(k, "float"):
		return "number"
	case k == "slice", k == "array":
		return "array"
	case k == "struct", k == "map":
		return "object"
	case k == "bool":
		return "boolean"
	}
	return k
}

// writeJSON writes v with the status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	writeRaw(w, status, "application/json", b)
	return nil
}

func writeRaw(w http.ResponseWriter, status int, ctype string, b []byte) {
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// idempotency reads the Idempotency-Key header and prepares the loyalty
// Idem whose Render produces exactly what the live answer would be.
// The view is what gets stored and replayed; a handler's live answer may
// show more (a new API key's secret is never stored).
func (h *Handler) idempotency(r *http.Request, scope string, body []byte, status int, view func(any) any) (*loyalty.Idem, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return nil, nil
	}
	if len(key) > 255 {
		return nil, kopilka.Invalid("Idempotency-Key", "at most 255 characters")
	}
	for _, c := range key {
		if c < '!' || c > '~' {
			return nil, kopilka.Invalid("Idempotency-Key", "printable ASCII without spaces only")
		}
	}
	digest := func(b []byte) []byte {
		sum := sha256.New()
		fmt.Fprintf(sum, "%s\x00%s\x00", r.Method, r.URL.Path)
		sum.Write(b)
		return sum.Sum(nil)
	}
	var legacy []byte
	if body != nil {
		legacy = digest(body)
	}
	return &loyalty.Idem{
		LegacyHash: legacy,
		Scope:      scope,
		Key:        key,
		Hash:       digest(canonicalJSON(body)),
		Render: func(v any, err error) (int, []byte) {
			if err != nil {
				p := problemFor(err, r.URL.Path)
				b, _ := json.Marshal(p)
				return p.Status, b
			}
			b, _ := json.Marshal(view(v))
			return status, b
		},
	}, nil
}

// canonicalJSON is a JSON body as the idempotency check compares it: the
// same JSON whatever its spacing and key order, so that a client that
// serialises its retry anew is still replayed rather than refused.
// Numbers keep their text. A body that is not JSON stays as it is.
func canonicalJSON(body []byte) []byte {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() || foldedKeys(v) {
		return body
	}
	b, err := json.Marshal(v) // object keys come out sorted
	if err != nil {
		return body
	}
	return b
}

// foldedKeys reports an object holding two keys that differ only in case:
// encoding/json gives a struct field the last of them, so their order
// matters and the body is compared as it was sent.
func foldedKeys(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k, x := range v {
			for _, o := range keys {
				if strings.EqualFold(k, o) {
					return true
				}
			}
			keys = append(keys, k)
			if foldedKeys(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if foldedKeys(x) {
				return true
			}
		}
	}
	return false
}

// respond writes v, or the stored answer an idempotent retry replays.
func respond(w http.ResponseWriter, status int, v any, err error) error {
	if rep := loyalty.AsReplay(err); rep != nil {
		ctype := "application/json"
		if rep.Status >= 400 {
			ctype = "application/problem+json"
		}
		w.Header().Set("Idempotent-Replayed", "true")
		writeRaw(w, rep.Status, ctype, rep.Body)
		return nil
	}
	if err != nil {
		return err
	}
	return writeJSON(w, status, v)
}

// step serves a bodiless state change (confirm, cancel, block, unblock):
// no body or {}, idempotent by key, answered 200 with view of the result.
func step[T any](h *Handler, scope string, view func(any) any, do func(*Handler, *http.Request, *loyalty.Idem) (T, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(body)) > 0 {
			var empty struct{}
			if err := decode(body, &empty); err != nil {
				return err
			}
		}
		idem, err := h.idempotency(r, scope, body, http.StatusOK, view)
		if err != nil {
			return err
		}
		v, err := do(h, r, idem)
		if err != nil {
			return respond(w, 0, nil, err)
		}
		return writeJSON(w, http.StatusOK, view(v))
	}
}
