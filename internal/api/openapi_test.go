package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/api"
	"github.com/kopilka/kopilka/internal/api/internal/openapigen"
	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/server"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite openapi.json from internal/openapigen")

// extras are the documented operations served outside the route table.
var extras = []string{"GET /healthz", "GET /v1/openapi.json", "GET /docs"}

// TestOpenAPIGolden keeps the checked-in document equal to what the
// generator makes from the handlers' types (-update rewrites it; run the
// tests again afterwards, as the old one is embedded in this binary).
func TestOpenAPIGolden(t *testing.T) {
	got, err := openapigen.Build(api.OpenAPITypes(), api.OpenAPICodes())
	if err != nil {
		t.Fatalf("openapigen.Build: %v", err)
	}
	if *update {
		if err := os.WriteFile("openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("wrote openapi.json; run the tests again to check the new document")
		return
	}
	var want, have any
	if err := json.Unmarshal(api.OpenAPIDocument(), &want); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatalf("openapigen.Build output: %v", err)
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Fatalf("openapi.json is stale; run go test ./internal/api -run TestOpenAPI -update (-checked-in +generated):\n%s", diff)
	}
	if !bytes.Equal(api.OpenAPIDocument(), got) {
		t.Errorf("openapi.json has the right content but not the generator's layout; run with -update")
	}
}

// loadDoc loads and validates an OpenAPI document.
func loadDoc(raw []byte) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return doc, nil
}

// mustDoc is the published document, loaded and valid.
func mustDoc(t *testing.T) *openapi3.T {
	t.Helper()
	if *update {
		t.Skip("-update rewrote openapi.json; run the tests again without it")
	}
	doc, err := loadDoc(api.OpenAPIDocument())
	if err != nil {
		t.Fatalf("the published document is not valid OpenAPI: %v", err)
	}
	return doc
}

// TestOpenAPIValid loads the document with kin-openapi and validates it;
// broken variants of it must fail the same check.
func TestOpenAPIValid(t *testing.T) {
	t.Parallel()
	mustDoc(t)
	if v := mustDoc(t).OpenAPI; v != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", v)
	}
	tests := []struct {
		name   string
		mutate func(doc map[string]any)
	}{
		{"dangling reference", func(doc map[string]any) {
			schemas := dig(doc, "components", "schemas")
			delete(schemas, "Customer")
		}},
		{"undeclared path parameter", func(doc map[string]any) {
			paths := dig(doc, "paths")
			paths["/v1/things/{id}"] = map[string]any{"get": map[string]any{"responses": map[string]any{"200": map[string]any{"description": "ok"}}}}
		}},
		{"response without description", func(doc map[string]any) {
			r := dig(doc, "paths", "/v1/program", "get", "responses", "200")
			delete(r, "description")
		}},
		{"unknown schema type", func(doc map[string]any) {
			dig(doc, "components", "schemas", "Card")["type"] = "structure"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var doc map[string]any
			if err := json.Unmarshal(api.OpenAPIDocument(), &doc); err != nil {
				t.Fatal(err)
			}
			tc.mutate(doc)
			raw, _ := json.Marshal(doc)
			if _, err := loadDoc(raw); err == nil {
				t.Errorf("loadDoc(document with %s) = nil error, want an error", tc.name)
			}
		})
	}
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

// routeDiff lists the differences between the route table and the
// document: operations missing on either side, and operation ids, scopes
// or security that do not match the table.
func routeDiff(routes []api.Route, doc *openapi3.T, extras []string) []string {
	var diffs []string
	documented := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op
		}
	}
	inTable := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		inTable[key] = true
		op := documented[key]
		if op == nil {
			diffs = append(diffs, "route "+key+" is not in the document")
			continue
		}
		if op.OperationID != rt.Name {
			diffs = append(diffs, "route "+key+": operationId "+op.OperationID+", want "+rt.Name)
		}
		if scope, _ := op.Extensions["x-scope"].(string); scope != string(rt.Scope) {
			diffs = append(diffs, "route "+key+": x-scope "+scope+", want "+string(rt.Scope))
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != (rt.Scope == "") {
			diffs = append(diffs, "route "+key+": security does not match its scope "+strconv.Quote(string(rt.Scope)))
		}
	}
	for _, key := range extras {
		inTable[key] = true
		op := documented[key]
		if op == nil {
			diffs = append(diffs, "extra "+key+" is not in the document")
		} else if op.Security == nil || len(*op.Security) != 0 {
			diffs = append(diffs, "extra "+key+" is documented as needing a key")
		}
	}
	for key := range documented {
		if !inTable[key] {
			diffs = append(diffs, "documented "+key+" is neither a route nor a known extra")
		}
	}
	slices.Sort(diffs)
	return diffs
}

// TestOpenAPIRoutes is RELIABILITY API9: the route table and the document
// list the same operations, both ways.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	routes := api.Routes()
	if diffs := routeDiff(routes, doc, extras); len(diffs) > 0 {
		t.Errorf("route table and document differ:\n%s", strings.Join(diffs, "\n"))
	}
	if len(doc.Security) != 1 || doc.Security[0]["apiKey"] == nil {
		t.Errorf("global security = %v, want the apiKey bearer scheme", doc.Security)
	}
	// Negative controls: the comparison sees each kind of drift.
	extra := append(slices.Clone(routes), api.Route{Method: "POST", Pattern: "/v1/undocumented", Scope: kopilka.ScopePOS, Name: "x"})
	wrongScope := slices.Clone(routes)
	wrongScope[0].Scope = "other"
	wrongName := slices.Clone(routes)
	wrongName[0].Name = "renamed"
	public := slices.Clone(routes)
	public[0].Scope = ""
	for name, rs := range map[string][]api.Route{
		"a route missing from the document":             extra,
		"a documented operation missing from the table": routes[1:],
		"a wrong scope":        wrongScope,
		"a wrong operation id": wrongName,
		"a public route":       public,
	} {
		if diffs := routeDiff(rs, doc, extras); len(diffs) == 0 {
			t.Errorf("routeDiff with %s = no difference, want one", name)
		}
	}
	if diffs := routeDiff(routes, doc, append(slices.Clone(extras), "GET /nowhere")); len(diffs) == 0 {
		t.Error("routeDiff with an undocumented extra = no difference, want one")
	}
}

// errorCodes returns the values of the Code constants in a Go source file.
func errorCodes(t *testing.T, src string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "error.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					codes = append(codes, api.WireCode(s))
				}
			}
		}
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}

func problemEnum(t *testing.T, doc *openapi3.T) []string {
	t.Helper()
	var out []string
	for _, v := range doc.Components.Schemas["Problem"].Value.Properties["code"].Value.Enum {
		out = append(out, v.(string))
	}
	slices.Sort(out)
	return out
}

var codeWord = regexp.MustCompile(`\b([a-z_]+):`)

// TestOpenAPIProblemCodes checks that the Problem code enum is every code
// of internal/kopilka/error.go as answers carry it (api.WireCode), and that each problem response names
// codes whose status is that response's status.
func TestOpenAPIProblemCodes(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	src, err := os.ReadFile("../kopilka/error.go")
	if err != nil {
		t.Fatal(err)
	}
	want := errorCodes(t, string(src))
	if len(want) < 12 {
		t.Fatalf("errorCodes(error.go) = %v, want the dozen and more codes of the contract", want)
	}
	if diff := cmp.Diff(want, problemEnum(t, doc)); diff != "" {
		t.Errorf("Problem code enum mismatch (-error.go +document):\n%s", diff)
	}
	// Negative control: a code added to error.go shows as a difference.
	more := errorCodes(t, string(src)+"\nconst CodeNew Code = \"brand_new\"\n")
	if cmp.Equal(more, problemEnum(t, doc)) {
		t.Error("errorCodes with an added code still equals the enum")
	}

	status := map[string][]int{}
	for _, c := range api.OpenAPICodes() {
		status[c.Name] = append(status[c.Name], c.Status)
	}
	for _, e := range problemResponseErrors(doc, status) {
		t.Error(e)
	}
	// Negative control: a response naming a code of another status.
	bad := mustDoc(t)
	bad.Paths.Find("/v1/customers").Post.Responses.Status(409).Value.Description = openapi3.Ptr("not_found: wrong status")
	if len(problemResponseErrors(bad, status)) == 0 {
		t.Error("problemResponseErrors(a 409 naming not_found) = none, want one")
	}
}

// problemResponseErrors checks that every problem response's description
// names at least one error code, and only codes of its own status.
func problemResponseErrors(doc *openapi3.T, status map[string][]int) []string {
	var errs []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, r := range op.Responses.Map() {
				if r.Value.Content.Get("application/problem+json") == nil {
					continue
				}
				n, _ := strconv.Atoi(code)
				named := 0
				for _, m := range codeWord.FindAllStringSubmatch(*r.Value.Description, -1) {
					s, ok := status[m[1]]
					if !ok {
						continue
					}
					named++
					if !slices.Contains(s, n) {
						errs = append(errs, fmt.Sprintf("%s %s response %s names %s, which is status %v", method, path, code, m[1], s))
					}
				}
				if named == 0 {
					errs = append(errs, fmt.Sprintf("%s %s response %s: description %q names no error code", method, path, code, *r.Value.Description))
				}
			}
		}
	}
	return errs
}

// strictDoc is the published document with every object schema closed
// (additionalProperties: false), so that an answer with a field the
// document does not list fails. The published document leaves answers
// open because clients must tolerate new fields.
func strictDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc := mustDoc(t)
	no := false
	for _, s := range doc.Components.Schemas {
		if len(s.Value.Properties) > 0 && s.Value.AdditionalProperties.Has == nil && s.Value.AdditionalProperties.Schema == nil {
			s.Value.AdditionalProperties.Has = &no
		}
	}
	return doc
}

// checker validates requests and answers against a document.
type checker struct {
	router routers.Router
}

func newChecker(t *testing.T, doc *openapi3.T) *checker {
	t.Helper()
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("legacy.NewRouter: %v", err)
	}
	return &checker{router: r}
}

func bearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); !ok || tok == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// request finds the operation of req and validates req against it.
func (c *checker) request(req *http.Request) (*openapi3filter.RequestValidationInput, error, error) {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil, nil, err
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearer, SkipSettingDefaults: true, RejectWhenRequestBodyNotSpecified: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}}}
	return in, openapi3filter.ValidateRequest(context.Background(), in), nil
}

// response validates an answer: a documented status, content type and body.
func (c *checker) response(in *openapi3filter.RequestValidationInput, status int, h http.Header, body []byte) error {
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: h,
		Options: &openapi3filter.Options{IncludeResponseStatus: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}}}
	out.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), out)
}

// TestOpenAPICheckerCatches is the negative control of the answer check:
// answers that break the document in each way it can be broken fail.
func TestOpenAPICheckerCatches(t *testing.T) {
	t.Parallel()
	c := newChecker(t, strictDoc(t))
	customer := `{"id":"cus_1","kind":"individual","phone":null,"phone_masked":null,"extra_phone":null,"extra_phone_masked":null,"email":null,"first_name":"","last_name":"",` +
		`"middle_name":"","birth_date":null,"gender":null,"ad_consent":false,"ad_consent_at":null,"group":null,"tags":[],"cards":[],` +
		`"purchases_total":0,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z",` +
		`"tier":"Base","available":0,"pending":0,"balance":{"available":0,"pending":0,"reserved":0,"expiring":[],"purchases_total":0,"tier":"Base"}}`
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		ok     bool
	}{
		{"the control answer", 200, "application/json", customer, true},
		{"an undocumented field", 200, "application/json", strings.Replace(customer, `"id"`, `"secret":"x","id"`, 1), false},
		{"a missing field", 200, "application/json", strings.Replace(customer, `"kind":"individual",`, "", 1), false},
		{"null where not nullable", 200, "application/json", strings.Replace(customer, `"first_name":""`, `"first_name":null`, 1), false},
		{"a wrong type", 200, "application/json", strings.Replace(customer, `"purchases_total":0`, `"purchases_total":"0"`, 1), false},
		{"a value outside the enum", 200, "application/json", strings.Replace(customer, `"individual"`, `"company"`, 1), false},
		{"a bad date-time", 200, "application/json", strings.Replace(customer, `"2026-01-02T03:04:05Z"`, `"yesterday"`, 1), false},
		{"an undocumented status", 418, "application/json", customer, false},
		{"the wrong content type", 200, "text/plain", customer, false},
		{"a problem with an unknown code", 404, "application/problem+json", `{"type":"x","title":"x","status":404,"code":"gone"}`, false},
		{"a problem as plain JSON", 404, "application/json", `{"type":"x","title":"x","status":404,"code":"not_found"}`, false},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("GET", "/v1/customers/cus_1", nil)
		req.Header.Set("Authorization", "Bearer k")
		in, reqErr, err := c.request(req)
		if err != nil || reqErr != nil {
			t.Fatalf("request(GET /v1/customers/cus_1) = %v, %v", reqErr, err)
		}
		err = c.response(in, tc.status, http.Header{"Content-Type": {tc.ctype}}, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("response(%s) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// bundle is a live server stack with the document's checker.
type bundle struct {
	h       http.Handler
	c       *checker
	vars    map[string]string
	covered map[string]map[int]bool // "GET /v1/x/{id}" -> status class (2, 4)
	// replayed lists the operations seen answering with a stored answer.
	replayed map[string]bool
}

// takesKey reports whether the document says op accepts Idempotency-Key.
func takesKey(op *openapi3.Operation) bool {
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.In == "header" && p.Value.Name == "Idempotency-Key" {
			return true
		}
	}
	return false
}

func newBundle(t *testing.T, dialect string) *bundle {
	t.Helper()
	db := storagetest.Open(t, dialect, sqldb.Options{})
	svc := loyalty.New(db, nil, nil)
	_, key, err := svc.CreateTenant(context.Background(), "OpenAPI")
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return &bundle{
		h:        server.NewHandler(svc, server.NewMetrics(), slog.New(slog.DiscardHandler)),
		c:        newChecker(t, strictDoc(t)),
		vars:     map[string]string{"key:admin": key.Plain, "key:bad": "kopilka_nope"},
		covered:  map[string]map[int]bool{},
		replayed: map[string]bool{},
	}
}

// step is one request of the scenario. Strings may hold {name}
// placeholders filled from values saved by earlier steps.
type step struct {
	name         string
	method, path string
	key          string // admin, pos, bound, bad, or "" for none
	body         string
	header       map[string]string
	status       int
	code         string            // the problem code of an error answer
	bad          bool              // the document refuses the request too
	replayed     bool              // the answer must be an idempotent replay
	save         map[string]string // variable <- top-level field of the answer
}

var placeholder = regexp.MustCompile(`\{([a-z0-9:]+)\}`)

func (b *bundle) expand(t *testing.T, s string) string {
	t.Helper()
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := b.vars[m[1:len(m)-1]]
		if !ok {
			t.Fatalf("placeholder %s has no value yet", m)
		}
		return v
	})
}

func (b *bundle) newRequest(t *testing.T, s step) *http.Request {
	t.Helper()
	var body io.Reader = http.NoBody
	if s.body != "" {
		body = strings.NewReader(b.expand(t, s.body))
	}
	req := httptest.NewRequest(s.method, b.expand(t, s.path), body)
	if s.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.key != "" {
		req.Header.Set("Authorization", "Bearer "+b.vars["key:"+s.key])
	}
	for k, v := range s.header {
		req.Header.Set(k, b.expand(t, v))
	}
	return req
}

// run sends a step through the real stack and checks the request, the
// answer and the answer's agreement with the document.
func (b *bundle) run(t *testing.T, s step) {
	t.Helper()
	in, reqErr, err := b.c.request(b.newRequest(t, s))
	if err != nil {
		t.Fatalf("%s: %s %s has no operation in the document: %v", s.name, s.method, s.path, err)
	}
	switch {
	case s.bad && reqErr == nil:
		t.Errorf("%s: ValidateRequest(%s %s) = nil, want the document to refuse it as the server does", s.name, s.method, s.path)
	case !s.bad && reqErr != nil:
		t.Errorf("%s: ValidateRequest(%s %s) = %v, want nil", s.name, s.method, s.path, reqErr)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, b.newRequest(t, s))
	body := rec.Body.Bytes()
	if rec.Code != s.status {
		t.Fatalf("%s: %s %s = %d %s, want %d", s.name, s.method, s.path, rec.Code, body, s.status)
	}
	if rec.Code >= 400 {
		var p api.Problem
		if err := json.Unmarshal(body, &p); err != nil || p.Code != s.code {
			t.Errorf("%s: %s %s = %d %s, want code %s", s.name, s.method, s.path, rec.Code, body, s.code)
		}
	}
	if got := rec.Header().Get("Idempotent-Replayed") == "true"; got != s.replayed {
		t.Errorf("%s: Idempotent-Replayed = %v, want %v", s.name, got, s.replayed)
	}
	if err := b.c.response(in, rec.Code, rec.Header(), body); err != nil {
		t.Errorf("%s: the answer %d %s does not match the document: %v", s.name, rec.Code, body, err)
	}
	route := in.Route.Method + " " + in.Route.Path
	if b.covered[route] == nil {
		b.covered[route] = map[int]bool{}
	}
	b.covered[route][rec.Code/100] = true
	if rec.Header().Get("Idempotent-Replayed") == "true" {
		b.replayed[route] = true
		if !takesKey(in.Route.Operation) {
			t.Errorf("%s: %s replayed a stored answer, but the document says it takes no Idempotency-Key", s.name, route)
		}
	}
	if len(s.save) > 0 {
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: answer %s: %v", s.name, body, err)
		}
		for name, field := range s.save {
			str, ok := v[field].(string)
			if !ok {
				t.Fatalf("%s: answer field %s = %v, want a string to save as %s", s.name, field, v[field], name)
			}
			b.vars[name] = str
		}
	}
}

// TestOpenAPIResponses runs every operation of the real server stack at
// least once to success and once to a typical refusal, and checks every
// request and answer against the document.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, dialect)
			for _, s := range scenario() {
				b.run(t, s)
			}
			for _, rt := range api.Routes() {
				key := rt.Method + " " + rt.Pattern
				if !b.covered[key][2] || !b.covered[key][4] {
					t.Errorf("route %s was exercised with status classes %v, want a success and a refusal", key, b.covered[key])
				}
			}
			for _, key := range extras {
				if !b.covered[key][2] {
					t.Errorf("%s was not exercised", key)
				}
			}
			// Every operation that says it takes Idempotency-Key replayed.
			for path, item := range mustDoc(t).Paths.Map() {
				for method, op := range item.Operations() {
					if key := method + " " + path; takesKey(op) && !b.replayed[key] {
						t.Errorf("%s takes Idempotency-Key, but no retry in the scenario was replayed", key)
					}
				}
			}
		})
	}
}

// TestOpenAPIHealthDown checks the documented 503 of /healthz with a
// database that is gone.
func TestOpenAPIHealthDown(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, "sqlite", sqldb.Options{})
	h := server.NewHandler(loyalty.New(db, nil, nil), server.NewMetrics(), slog.New(slog.DiscardHandler))
	db.Close()
	b := &bundle{h: h, c: newChecker(t, strictDoc(t)), vars: map[string]string{}, covered: map[string]map[int]bool{}, replayed: map[string]bool{}}
	b.run(t, step{name: "health without a database", method: "GET", path: "/healthz", status: 503, code: "unavailable"})
}

const (
	program = `{"currency":"RUB","tiers":[{"name":"Base","threshold":0,"accrual_percent":5,"max_redeem_percent":50},` +
		`{"name":"Silver","threshold":1000000,"accrual_percent":7.5,"max_redeem_percent":50}],"accrue_on":"paid",` +
		`"round_accrual_to_whole_points":false,"min_line_price":100,"excluded_skus":["TOBACCO-1"],"excluded_categories":["tobacco"],` +
		`"activation_delay_days":0,"expiry_days":365,"welcome_bonus":10000,"birthday_bonus":0,"verification":{"mode":"off","wait_seconds":45}}`
	anna = `{"phone":"+7 912 000-00-01","first_name":"Анна","last_name":"Иванова","birth_date":"1990-05-17","gender":"female",` +
		`"ad_consent":true,"card":"CARD-0001","tags":["vip"]}`
	boris = `{"phone":"89120000002","first_name":"Борис","kind":"individual"}`
	lines = `[{"sku":"MILK","name":"Молоко","category":"dairy","quantity":2,"price":10000},` +
		`{"sku":"TOBACCO-1","name":"Сигареты","category":"tobacco","quantity":1,"price":20000},` +
		`{"sku":"CHEESE","name":"Сыр","quantity":0.375,"price":120000,"discount":500}]`
)

func purchase(ext, store, redeem, extra string) string {
	return `{"store_id":"` + store + `","customer":{"card":"CARD-0001"},"lines":` + lines +
		`,"redeem":` + redeem + `,"external_id":"` + ext + `"` + extra + `}`
}

func idem(key string) map[string]string { return map[string]string{"Idempotency-Key": key} }

// importFile is a small customers file for the import steps.
const importFile = "external_id,phone,first_name,balance,tags\nIMP-1,+7 913 000-00-01,Дарья,\"1 234,50\",vip\nIMP-2,89130000002,Егор,,\n"

// csvUpload is the headers of a CSV upload, with an Idempotency-Key
// unless key is empty.
func csvUpload(key string) map[string]string {
	h := map[string]string{"Content-Type": "text/csv; charset=utf-8"}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	return h
}

func init() {
	// The document's XLSX answers are files; the checker reads them as such.
	openapi3filter.RegisterBodyDecoder("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", openapi3filter.FileBodyDecoder)
}

// scenario is the requests of TestOpenAPIResponses, in order.
func scenario() []step {
	huge := `{"first_name":"` + strings.Repeat("а", api.MaxBody/2) + `"}`
	return []step{
		{name: "health", method: "GET", path: "/healthz", status: 200},
		{name: "document", method: "GET", path: "/v1/openapi.json", status: 200},
		{name: "docs", method: "GET", path: "/docs", status: 200},

		{name: "programme without a key", method: "GET", path: "/v1/program", status: 401, code: "unauthorized", bad: true},
		{name: "programme with an unknown key", method: "GET", path: "/v1/program", key: "bad", status: 401, code: "unauthorized"},
		{name: "default programme", method: "GET", path: "/v1/program", key: "admin", status: 200},
		{name: "set programme", method: "PUT", path: "/v1/program", key: "admin", body: program, status: 200},
		{name: "programme without tiers", method: "PUT", path: "/v1/program", key: "admin", body: `{"tiers":[]}`, status: 400, code: "invalid_request", bad: true},
		{name: "programme with an unknown field", method: "PUT", path: "/v1/program", key: "admin", body: `{"tiers":[{"name":"A"}],"bonus":1}`, status: 400, code: "invalid_request", bad: true},

		{name: "store", method: "POST", path: "/v1/stores", key: "admin", status: 201, save: map[string]string{"sto1": "id"},
			body: `{"name":"Главный","address":"Москва, Тверская 1","phone":"+7 495 000-00-00","hours":"Пн–Пт 9:00–21:00"}`},
		{name: "second store", method: "POST", path: "/v1/stores", key: "admin", status: 201, save: map[string]string{"sto2": "id"},
			body: `{"name":"Второй","hours":{"mon":"9-21"}}`},
		{name: "store by key", method: "POST", path: "/v1/stores", key: "admin", header: idem("idem-store"), status: 201, body: `{"name":"Третий"}`},
		{name: "store by key again", method: "POST", path: "/v1/stores", key: "admin", header: idem("idem-store"), status: 201, body: `{"name":"Третий"}`, replayed: true},
		{name: "store by key, another body", method: "POST", path: "/v1/stores", key: "admin", header: idem("idem-store"), status: 409, code: "conflict", body: `{"name":"Четвёртый"}`},
		{name: "store without a name", method: "POST", path: "/v1/stores", key: "admin", body: `{"address":"x"}`, status: 400, code: "invalid_request", bad: true},
		{name: "stores", method: "GET", path: "/v1/stores", key: "admin", status: 200},
		{name: "stores with an unknown key", method: "GET", path: "/v1/stores", key: "bad", status: 401, code: "unauthorized"},
		{name: "store by id", method: "GET", path: "/v1/stores/{sto1}", key: "admin", status: 200},
		{name: "unknown store", method: "GET", path: "/v1/stores/sto_nope", key: "admin", status: 404, code: "not_found"},

		{name: "pos key", method: "POST", path: "/v1/api-keys", key: "admin", body: `{"name":"till","scopes":["pos"]}`, status: 201,
			save: map[string]string{"key:pos": "key"}},
		{name: "bound key", method: "POST", path: "/v1/api-keys", key: "admin", body: `{"name":"bound till","scopes":["pos"],"store_id":"{sto1}"}`,
			status: 201, save: map[string]string{"key:bound": "key"}},
		{name: "key to revoke", method: "POST", path: "/v1/api-keys", key: "admin", body: `{"scopes":["admin","pos"]}`, status: 201,
			save: map[string]string{"ktmp": "id"}},
		{name: "key by key", method: "POST", path: "/v1/api-keys", key: "admin", header: idem("idem-key"), body: `{"scopes":["pos"]}`, status: 201},
		{name: "key by key again", method: "POST", path: "/v1/api-keys", key: "admin", header: idem("idem-key"), body: `{"scopes":["pos"]}`, status: 201, replayed: true},
		{name: "key with an unknown scope", method: "POST", path: "/v1/api-keys", key: "admin", body: `{"scopes":["root"]}`, status: 400, code: "invalid_request", bad: true},
		{name: "key for an unknown store", method: "POST", path: "/v1/api-keys", key: "admin", body: `{"scopes":["pos"],"store_id":"sto_nope"}`, status: 400, code: "invalid_request"},
		{name: "keys", method: "GET", path: "/v1/api-keys", key: "admin", status: 200},
		{name: "keys with a pos key", method: "GET", path: "/v1/api-keys", key: "pos", status: 403, code: "forbidden"},
		{name: "revoke", method: "DELETE", path: "/v1/api-keys/{ktmp}", key: "admin", status: 204},
		{name: "revoke an unknown key", method: "DELETE", path: "/v1/api-keys/key_nope", key: "admin", status: 404, code: "not_found"},
		{name: "programme with a pos key", method: "PUT", path: "/v1/program", key: "pos", body: program, status: 403, code: "forbidden"},
		{name: "another store with a bound key", method: "GET", path: "/v1/stores/{sto2}", key: "bound", status: 403, code: "forbidden"},

		{name: "customer", method: "POST", path: "/v1/customers", key: "pos", body: anna, status: 201, save: map[string]string{"cus1": "id"}},
		{name: "customer with a taken phone", method: "POST", path: "/v1/customers", key: "pos", body: `{"phone":"89120000001"}`, status: 409, code: "conflict"},
		{name: "customer by key", method: "POST", path: "/v1/customers", key: "pos", body: boris, header: idem("idem-boris"), status: 201, save: map[string]string{"cus2": "id"}},
		{name: "customer by key again", method: "POST", path: "/v1/customers", key: "pos", body: boris, header: idem("idem-boris"), status: 201, replayed: true},
		{name: "customer by key, another body", method: "POST", path: "/v1/customers", key: "pos", body: `{"first_name":"Вера"}`, header: idem("idem-boris"), status: 409, code: "conflict"},
		{name: "legal entity", method: "POST", path: "/v1/customers", key: "pos", body: `{"kind":"legal_entity"}`, header: idem("idem-legal"), status: 422, code: "not_eligible"},
		{name: "legal entity again", method: "POST", path: "/v1/customers", key: "pos", body: `{"kind":"legal_entity"}`, header: idem("idem-legal"), status: 422, code: "not_eligible", replayed: true},
		{name: "a key with a space", method: "POST", path: "/v1/customers", key: "pos", body: `{}`, header: idem("a b"), status: 400, code: "invalid_request", bad: true},
		{name: "a body too large", method: "POST", path: "/v1/customers", key: "pos", body: huge, status: 413, code: "invalid_request", bad: true},

		{name: "find by phone", method: "GET", path: "/v1/customers?phone=%2B79120000001", key: "pos", status: 200},
		{name: "find by card", method: "GET", path: "/v1/customers?card=CARD-0001", key: "pos", status: 200},
		{name: "find by id", method: "GET", path: "/v1/customers?id={cus1}", key: "pos", status: 200},
		{name: "find by nothing", method: "GET", path: "/v1/customers", key: "pos", status: 400, code: "invalid_request"},
		{name: "find nobody", method: "GET", path: "/v1/customers?phone=%2B79990000000", key: "pos", status: 404, code: "customer_not_found"},
		{name: "get customer", method: "GET", path: "/v1/customers/{cus1}", key: "pos", status: 200},
		{name: "get unknown customer", method: "GET", path: "/v1/customers/cus_nope", key: "pos", status: 404, code: "not_found"},
		{name: "patch", method: "PATCH", path: "/v1/customers/{cus1}", key: "pos", status: 200,
			body: `{"email":"anna@example.com","middle_name":"Петровна","gender":null,"tags":["vip","кофе"]}`},
		{name: "patch a bad date", method: "PATCH", path: "/v1/customers/{cus1}", key: "pos", body: `{"birth_date":"17.05.1990"}`, status: 400, code: "invalid_request", bad: true},
		{name: "patch a taken phone", method: "PATCH", path: "/v1/customers/{cus2}", key: "pos", body: `{"phone":"+79120000001"}`, status: 409, code: "conflict"},
		{name: "patch unknown", method: "PATCH", path: "/v1/customers/cus_nope", key: "pos", body: `{"first_name":"X"}`, status: 404, code: "not_found"},
		{name: "history", method: "GET", path: "/v1/customers/{cus1}/history?limit=1", key: "pos", status: 200, save: map[string]string{"hcur": "next_cursor"}},
		{name: "history next page", method: "GET", path: "/v1/customers/{cus1}/history?limit=1&cursor={hcur}", key: "pos", status: 200},
		{name: "history limit 0", method: "GET", path: "/v1/customers/{cus1}/history?limit=0", key: "pos", status: 400, code: "invalid_request", bad: true},
		{name: "history foreign cursor", method: "GET", path: "/v1/customers/{cus1}/history?cursor=abc", key: "pos", status: 400, code: "invalid_request"},
		{name: "history unknown", method: "GET", path: "/v1/customers/cus_nope/history", key: "pos", status: 404, code: "not_found"},
		{name: "search", method: "GET", path: "/v1/customers/search?limit=1", key: "pos", status: 200, save: map[string]string{"scur": "next_cursor"}},
		{name: "search next page", method: "GET", path: "/v1/customers/search?limit=1&cursor={scur}", key: "pos", status: 200},
		{name: "search by name and phone", method: "GET", path: "/v1/customers/search?name=%D0%B0%D0%BD%D0%BD%D0%B0&phone=89120000001", key: "pos", status: 200},
		{name: "search limit 201", method: "GET", path: "/v1/customers/search?limit=201", key: "pos", status: 400, code: "invalid_request", bad: true},
		{name: "search a bad phone", method: "GET", path: "/v1/customers/search?phone=12", key: "pos", status: 400, code: "invalid_request"},
		{name: "give consent", method: "POST", path: "/v1/customers/{cus1}/consents", key: "pos", body: `{"kind":"marketing","source":"pos"}`, header: idem("idem-cns"), status: 201},
		{name: "give consent again", method: "POST", path: "/v1/customers/{cus1}/consents", key: "pos", body: `{"kind":"marketing","source":"pos"}`, header: idem("idem-cns"), status: 201, replayed: true},
		{name: "give an unknown consent", method: "POST", path: "/v1/customers/{cus1}/consents", key: "pos", body: `{"kind":"spam"}`, status: 400, code: "invalid_request", bad: true},
		{name: "withdraw consent", method: "POST", path: "/v1/customers/{cus1}/consents/marketing/withdraw", key: "pos", body: `{"source":"web"}`, header: idem("idem-wd"), status: 201},
		{name: "withdraw consent again", method: "POST", path: "/v1/customers/{cus1}/consents/marketing/withdraw", key: "pos", body: `{"source":"web"}`, header: idem("idem-wd"), status: 201, replayed: true},
		{name: "withdraw it twice", method: "POST", path: "/v1/customers/{cus1}/consents/marketing/withdraw", key: "pos", status: 409, code: "conflict"},
		{name: "consents", method: "GET", path: "/v1/customers/{cus1}/consents", key: "pos", status: 200},
		{name: "consents unknown", method: "GET", path: "/v1/customers/cus_nope/consents", key: "pos", status: 404, code: "not_found"},

		{name: "adjust", method: "POST", path: "/v1/customers/{cus1}/adjustments", key: "admin", header: idem("idem-adj"), status: 201,
			body: `{"amount":100000,"reason":"goodwill","external_id":"ADJ-1"}`},
		{name: "adjust again", method: "POST", path: "/v1/customers/{cus1}/adjustments", key: "admin", header: idem("idem-adj"), status: 201, replayed: true,
			body: `{"amount":100000,"reason":"goodwill","external_id":"ADJ-1"}`},
		{name: "adjust a used external_id", method: "POST", path: "/v1/customers/{cus1}/adjustments", key: "admin", status: 409, code: "conflict",
			body: `{"amount":200,"external_id":"ADJ-1"}`},
		{name: "adjust by zero", method: "POST", path: "/v1/customers/{cus1}/adjustments", key: "admin", body: `{"amount":0}`, status: 400, code: "invalid_request", bad: true},
		{name: "overdraw", method: "POST", path: "/v1/customers/{cus1}/adjustments", key: "admin", body: `{"amount":-100000000}`, status: 422, code: "insufficient_points"},
		{name: "adjust with a pos key", method: "POST", path: "/v1/customers/{cus1}/adjustments", key: "pos", body: `{"amount":100}`, status: 403, code: "forbidden"},
		{name: "adjust unknown", method: "POST", path: "/v1/customers/cus_nope/adjustments", key: "admin", body: `{"amount":100}`, status: 404, code: "not_found"},
		{name: "balance", method: "GET", path: "/v1/customers/{cus1}/balance", key: "pos", status: 200},
		{name: "balance unknown", method: "GET", path: "/v1/customers/cus_nope/balance", key: "pos", status: 404, code: "not_found"},
		{name: "operations", method: "GET", path: "/v1/customers/{cus1}/operations?limit=1", key: "pos", status: 200, save: map[string]string{"ocur": "next_cursor"}},
		{name: "operations next page", method: "GET", path: "/v1/customers/{cus1}/operations?limit=1&cursor={ocur}", key: "pos", status: 200},
		{name: "operations foreign cursor", method: "GET", path: "/v1/customers/{cus1}/operations?cursor=zzz", key: "pos", status: 400, code: "invalid_request"},
		{name: "operations unknown", method: "GET", path: "/v1/customers/cus_nope/operations", key: "pos", status: 404, code: "not_found"},

		{name: "default settings", method: "GET", path: "/v1/settings", key: "pos", status: 200},
		{name: "settings without a key", method: "GET", path: "/v1/settings", status: 401, code: "unauthorized", bad: true},
		{name: "set settings", method: "PUT", path: "/v1/settings", key: "admin", status: 200,
			body: `{"allow_legal_entities":false,"electronic_deactivates_plastic":true,"electronic_card_group":"Электронная карта"}`},
		{name: "settings with a pos key", method: "PUT", path: "/v1/settings", key: "pos", body: `{}`, status: 403, code: "forbidden"},
		{name: "settings with an unknown field", method: "PUT", path: "/v1/settings", key: "admin", body: `{"group":"x"}`, status: 400, code: "invalid_request", bad: true},

		{name: "card range", method: "POST", path: "/v1/card-ranges", key: "admin", status: 201, save: map[string]string{"rng1": "id"},
			body: `{"name":"Электронные","prefix":"46","start":1,"width":6,"check_digit":"luhn","kind":"electronic"}`},
		{name: "card range by key", method: "POST", path: "/v1/card-ranges", key: "admin", header: idem("idem-rng"), status: 201,
			body: `{"prefix":"2000","start":1,"end":99999,"width":8,"check_digit":"ean13"}`},
		{name: "card range by key again", method: "POST", path: "/v1/card-ranges", key: "admin", header: idem("idem-rng"), status: 201, replayed: true,
			body: `{"prefix":"2000","start":1,"end":99999,"width":8,"check_digit":"ean13"}`},
		{name: "overlapping card range", method: "POST", path: "/v1/card-ranges", key: "admin", status: 409, code: "conflict",
			body: `{"prefix":"4","start":0,"width":8}`},
		{name: "card range with a pos key", method: "POST", path: "/v1/card-ranges", key: "pos", status: 403, code: "forbidden", body: `{"width":6}`},
		{name: "card range without width", method: "POST", path: "/v1/card-ranges", key: "admin", status: 400, code: "invalid_request", bad: true,
			body: `{"prefix":"47"}`},
		{name: "card range, EAN-13 of the wrong length", method: "POST", path: "/v1/card-ranges", key: "admin", status: 400, code: "invalid_request",
			body: `{"prefix":"47","width":6,"check_digit":"ean13"}`},
		{name: "card ranges", method: "GET", path: "/v1/card-ranges", key: "pos", status: 200},
		{name: "card ranges without a key", method: "GET", path: "/v1/card-ranges", status: 401, code: "unauthorized", bad: true},

		{name: "issue card", method: "POST", path: "/v1/customers/{cus2}/cards", key: "pos", status: 201, body: `{"kind":"electronic"}`,
			save: map[string]string{"crd1": "number"}},
		{name: "issue card by key", method: "POST", path: "/v1/customers/{cus2}/cards", key: "pos", header: idem("idem-card"), status: 201,
			body: `{"kind":"plastic","number":"P-0001"}`, save: map[string]string{"crd2": "number"}},
		{name: "issue card by key again", method: "POST", path: "/v1/customers/{cus2}/cards", key: "pos", header: idem("idem-card"), status: 201, replayed: true,
			body: `{"kind":"plastic","number":"P-0001"}`},
		{name: "issue a taken number", method: "POST", path: "/v1/customers/{cus2}/cards", key: "pos", status: 409, code: "conflict", body: `{"number":"CARD-0001"}`},
		{name: "issue a card of an unknown kind", method: "POST", path: "/v1/customers/{cus2}/cards", key: "pos", status: 400, code: "invalid_request", bad: true,
			body: `{"kind":"virtual"}`},
		{name: "issue a card to nobody", method: "POST", path: "/v1/customers/cus_nope/cards", key: "pos", status: 404, code: "not_found", body: `{"number":"P-0009"}`},
		{name: "find by issued card", method: "GET", path: "/v1/customers?card={crd1}", key: "pos", status: 200},
		{name: "get card", method: "GET", path: "/v1/cards/{crd1}", key: "pos", status: 200},
		{name: "get unknown card", method: "GET", path: "/v1/cards/NOPE-1", key: "pos", status: 404, code: "not_found"},
		{name: "card barcode", method: "GET", path: "/v1/cards/{crd1}/barcode", key: "pos", status: 200},
		{name: "card barcode, EAN-13 PNG", method: "GET", path: "/v1/cards/{crd1}/barcode?type=ean13&format=png&scale=2", key: "pos", status: 200},
		{name: "card barcode, QR", method: "GET", path: "/v1/cards/{crd2}/barcode?type=qr&format=svg", key: "pos", status: 200},
		{name: "card barcode, letters as EAN-13", method: "GET", path: "/v1/cards/{crd2}/barcode?type=ean13", key: "pos", status: 422, code: "invalid_request"},
		{name: "card barcode, scale 0", method: "GET", path: "/v1/cards/{crd1}/barcode?scale=0", key: "pos", status: 400, code: "invalid_request", bad: true},
		{name: "card barcode, an unknown type", method: "GET", path: "/v1/cards/{crd1}/barcode?type=pdf417", key: "pos", status: 400, code: "invalid_request", bad: true},
		{name: "barcode of an unknown card", method: "GET", path: "/v1/cards/NOPE-1/barcode", key: "pos", status: 404, code: "not_found"},
		{name: "block card", method: "POST", path: "/v1/cards/{crd2}/block", key: "pos", header: idem("idem-block"), status: 200},
		{name: "block card by key again", method: "POST", path: "/v1/cards/{crd2}/block", key: "pos", header: idem("idem-block"), status: 200, replayed: true},
		{name: "block unknown card", method: "POST", path: "/v1/cards/NOPE-1/block", key: "pos", status: 404, code: "not_found"},
		{name: "find by blocked card", method: "GET", path: "/v1/customers?card={crd2}", key: "pos", status: 404, code: "customer_not_found"},
		{name: "unblock card", method: "POST", path: "/v1/cards/{crd2}/unblock", key: "pos", header: idem("idem-unblock"), body: `{}`, status: 200},
		{name: "unblock card by key again", method: "POST", path: "/v1/cards/{crd2}/unblock", key: "pos", header: idem("idem-unblock"), body: `{}`, status: 200, replayed: true},
		{name: "unblock with a body", method: "POST", path: "/v1/cards/{crd2}/unblock", key: "pos", body: `{"x":1}`, status: 400, code: "invalid_request", bad: true},
		{name: "replace card", method: "POST", path: "/v1/cards/{crd1}/replace", key: "pos", header: idem("idem-replace"), status: 201,
			save: map[string]string{"crd3": "number"}},
		{name: "replace card by key again", method: "POST", path: "/v1/cards/{crd1}/replace", key: "pos", header: idem("idem-replace"), status: 201, replayed: true},
		{name: "replace a replaced card", method: "POST", path: "/v1/cards/{crd1}/replace", key: "pos", body: `{}`, status: 409, code: "conflict"},
		{name: "block a replaced card", method: "POST", path: "/v1/cards/{crd1}/block", key: "pos", status: 409, code: "conflict"},
		{name: "unblock a replaced card", method: "POST", path: "/v1/cards/{crd1}/unblock", key: "pos", status: 409, code: "conflict"},
		{name: "replace with a taken number", method: "POST", path: "/v1/cards/{crd3}/replace", key: "pos", status: 409, code: "conflict",
			body: `{"number":"CARD-0001"}`},
		{name: "replace with a number and a range", method: "POST", path: "/v1/cards/{crd3}/replace", key: "pos", status: 400, code: "invalid_request",
			body: `{"number":"P-0002","range_id":"{rng1}"}`},
		{name: "find by replaced card", method: "GET", path: "/v1/customers?card={crd1}", key: "pos", status: 404, code: "customer_not_found"},
		{name: "get replaced card", method: "GET", path: "/v1/cards/{crd1}", key: "pos", status: 200},

		{name: "promotion", method: "POST", path: "/v1/promotions", key: "admin", status: 201, save: map[string]string{"prm1": "id"},
			body: `{"name":"Молоко ×2","starts_at":"2020-01-01T00:00:00Z","skus":["MILK"],"store_ids":["{sto1}"],"multiplier":2}`},
		{name: "promotion to delete", method: "POST", path: "/v1/promotions", key: "admin", status: 201, save: map[string]string{"prm2": "id"},
			body: `{"name":"Сыр +1%","starts_at":"2020-01-01T00:00:00+03:00","ends_at":"2100-01-01T00:00:00Z","categories":["cheese"],"extra_percent":1.5}`},
		{name: "promotion by key", method: "POST", path: "/v1/promotions", key: "admin", status: 201, header: idem("idem-prm"),
			body: `{"name":"Чай ×3","starts_at":"2020-01-01T00:00:00Z","skus":["TEA"],"multiplier":3}`},
		{name: "promotion by key again", method: "POST", path: "/v1/promotions", key: "admin", status: 201, header: idem("idem-prm"), replayed: true,
			body: `{"name":"Чай ×3","starts_at":"2020-01-01T00:00:00Z","skus":["TEA"],"multiplier":3}`},
		{name: "promotion without a start", method: "POST", path: "/v1/promotions", key: "admin", status: 400, code: "invalid_request", bad: true,
			body: `{"name":"x","multiplier":2}`},
		{name: "promotion for tags", method: "POST", path: "/v1/promotions", key: "admin", status: 400, code: "invalid_request",
			body: `{"name":"x","starts_at":"2020-01-01T00:00:00Z","tags":["vip"],"multiplier":2}`},
		{name: "promotions", method: "GET", path: "/v1/promotions", key: "pos", status: 200},
		{name: "promotions without a key", method: "GET", path: "/v1/promotions", status: 401, code: "unauthorized", bad: true},
		{name: "get promotion", method: "GET", path: "/v1/promotions/{prm1}", key: "pos", status: 200},
		{name: "get unknown promotion", method: "GET", path: "/v1/promotions/prm_nope", key: "pos", status: 404, code: "not_found"},
		{name: "delete promotion", method: "DELETE", path: "/v1/promotions/{prm2}", key: "admin", status: 204},
		{name: "delete promotion again", method: "DELETE", path: "/v1/promotions/{prm2}", key: "admin", status: 404, code: "not_found"},
		{name: "offer", method: "POST", path: "/v1/offers", key: "admin", status: 201, save: map[string]string{"ofr1": "id"},
			body: `{"name":"VIP +1%","starts_at":"2020-01-01T00:00:00Z","tags":["vip"],"extra_percent":1}`},
		{name: "offer to delete", method: "POST", path: "/v1/offers", key: "admin", status: 201, save: map[string]string{"ofr2": "id"},
			body: `{"name":"Group","starts_at":"2020-01-01T00:00:00Z","groups":["staff"],"multiplier":1.5}`},
		{name: "offer by key", method: "POST", path: "/v1/offers", key: "admin", status: 201, header: idem("idem-ofr"),
			body: `{"name":"Группа +2%","starts_at":"2020-01-01T00:00:00Z","groups":["staff"],"extra_percent":2}`},
		{name: "offer by key again", method: "POST", path: "/v1/offers", key: "admin", status: 201, header: idem("idem-ofr"), replayed: true,
			body: `{"name":"Группа +2%","starts_at":"2020-01-01T00:00:00Z","groups":["staff"],"extra_percent":2}`},
		{name: "offer for nobody", method: "POST", path: "/v1/offers", key: "admin", status: 400, code: "invalid_request",
			body: `{"name":"x","starts_at":"2020-01-01T00:00:00Z","extra_percent":1}`},
		{name: "offers", method: "GET", path: "/v1/offers", key: "pos", status: 200},
		{name: "offers with an unknown key", method: "GET", path: "/v1/offers", key: "bad", status: 401, code: "unauthorized"},
		{name: "get offer", method: "GET", path: "/v1/offers/{ofr1}", key: "pos", status: 200},
		{name: "a promotion as an offer", method: "GET", path: "/v1/offers/{prm1}", key: "pos", status: 404, code: "not_found"},
		{name: "delete offer with a pos key", method: "DELETE", path: "/v1/offers/{ofr2}", key: "pos", status: 403, code: "forbidden"},
		{name: "delete offer", method: "DELETE", path: "/v1/offers/{ofr2}", key: "admin", status: 204},

		{name: "calculate", method: "POST", path: "/v1/purchases/calculate", key: "pos", status: 200,
			body: `{"store_id":"{sto1}","customer":{"card":"CARD-0001"},"lines":` + lines + `,"redeem":"max"}`},
		{name: "calculate above the limit", method: "POST", path: "/v1/purchases/calculate", key: "pos", status: 422, code: "redeem_limit_exceeded",
			body: `{"customer":{"id":"{cus1}"},"lines":` + lines + `,"redeem":99999999}`},
		{name: "calculate for nobody", method: "POST", path: "/v1/purchases/calculate", key: "pos", status: 404, code: "customer_not_found",
			body: `{"customer":{"phone":"+79990000000"},"lines":` + lines + `}`},
		{name: "calculate redeem all", method: "POST", path: "/v1/purchases/calculate", key: "pos", status: 400, code: "invalid_request", bad: true,
			body: `{"customer":{"id":"{cus1}"},"lines":` + lines + `,"redeem":"all"}`},
		{name: "calculate with a purchase's own fields", method: "POST", path: "/v1/purchases/calculate", key: "pos", status: 200,
			body: `{"customer":{"id":"{cus1}"},"lines":` + lines + `,"external_id":"R-0","confirm":true}`},
		{name: "calculate with a bound key and no store", method: "POST", path: "/v1/purchases/calculate", key: "bound", status: 200,
			body: `{"customer":{"id":"{cus1}"},"lines":` + lines + `}`},
		{name: "calculate another store with a bound key", method: "POST", path: "/v1/purchases/calculate", key: "bound", status: 403, code: "forbidden",
			body: `{"store_id":"{sto2}","customer":{"id":"{cus1}"},"lines":` + lines + `}`},

		{name: "purchase", method: "POST", path: "/v1/purchases", key: "bound", header: idem("idem-p1"), status: 201,
			body: purchase("R-1", "{sto1}", "5000", ""), save: map[string]string{"pur1": "id"}},
		{name: "purchase again", method: "POST", path: "/v1/purchases", key: "bound", header: idem("idem-p1"), status: 201, replayed: true,
			body: purchase("R-1", "{sto1}", "5000", "")},
		{name: "purchase, used external_id", method: "POST", path: "/v1/purchases", key: "pos", status: 409, code: "conflict",
			body: purchase("R-1", "{sto1}", "0", "")},
		{name: "purchase above the limit", method: "POST", path: "/v1/purchases", key: "pos", header: idem("idem-limit"), status: 422, code: "redeem_limit_exceeded",
			body: purchase("R-9", "{sto1}", "99999999", "")},
		{name: "purchase above the limit again", method: "POST", path: "/v1/purchases", key: "pos", header: idem("idem-limit"), status: 422, code: "redeem_limit_exceeded", replayed: true,
			body: purchase("R-9", "{sto1}", "99999999", "")},
		{name: "purchase without external_id", method: "POST", path: "/v1/purchases", key: "pos", status: 400, code: "invalid_request", bad: true,
			body: `{"customer":{"id":"{cus1}"},"lines":` + lines + `}`},
		{name: "purchase, confirmed at once", method: "POST", path: "/v1/purchases", key: "pos", status: 201,
			body: purchase("R-2", "{sto1}", `"max"`, `,"confirm":true`), save: map[string]string{"pur2": "id"}},
		{name: "purchase by a bound key without a store", method: "POST", path: "/v1/purchases", key: "bound", status: 201,
			body: `{"external_id":"R-5","customer":{"id":"{cus1}"},"lines":` + lines + `}`, save: map[string]string{"pur5store": "store_id"}},
		{name: "the bound key's store is the purchase's", method: "GET", path: "/v1/stores/{pur5store}", key: "bound", status: 200},
		{name: "purchase elsewhere", method: "POST", path: "/v1/purchases", key: "admin", status: 201,
			body: purchase("R-3", "{sto2}", "0", ""), save: map[string]string{"pur3": "id"}},
		{name: "purchase to stay pending", method: "POST", path: "/v1/purchases", key: "admin", status: 201,
			body: purchase("R-4", "", "0", ""), save: map[string]string{"pur4": "id"}},
		{name: "find purchase", method: "GET", path: "/v1/purchases?external_id=R-1", key: "pos", status: 200},
		{name: "find purchase without external_id", method: "GET", path: "/v1/purchases", key: "pos", status: 400, code: "invalid_request", bad: true},
		{name: "find unknown purchase", method: "GET", path: "/v1/purchases?external_id=NOPE", key: "pos", status: 404, code: "not_found"},
		{name: "find another store's purchase", method: "GET", path: "/v1/purchases?external_id=R-3", key: "bound", status: 403, code: "forbidden"},
		{name: "get purchase", method: "GET", path: "/v1/purchases/{pur1}", key: "bound", status: 200},
		{name: "get unknown purchase", method: "GET", path: "/v1/purchases/pur_nope", key: "pos", status: 404, code: "not_found"},
		{name: "get another store's purchase", method: "GET", path: "/v1/purchases/{pur3}", key: "bound", status: 403, code: "forbidden"},

		{name: "confirm", method: "POST", path: "/v1/purchases/{pur1}/confirm", key: "pos", header: idem("idem-confirm"), status: 200},
		{name: "confirm by key again", method: "POST", path: "/v1/purchases/{pur1}/confirm", key: "pos", header: idem("idem-confirm"), status: 200, replayed: true},
		{name: "confirm again", method: "POST", path: "/v1/purchases/{pur1}/confirm", key: "pos", body: `{}`, status: 200},
		{name: "confirm with a body", method: "POST", path: "/v1/purchases/{pur1}/confirm", key: "pos", body: `{"x":1}`, status: 400, code: "invalid_request", bad: true},
		{name: "confirm unknown", method: "POST", path: "/v1/purchases/pur_nope/confirm", key: "pos", status: 404, code: "not_found"},
		{name: "cancel a complete purchase", method: "POST", path: "/v1/purchases/{pur1}/cancel", key: "pos", status: 409, code: "conflict"},
		{name: "cancel", method: "POST", path: "/v1/purchases/{pur3}/cancel", key: "pos", header: idem("idem-cancel"), status: 200},
		{name: "cancel again", method: "POST", path: "/v1/purchases/{pur3}/cancel", key: "pos", header: idem("idem-cancel"), status: 200, replayed: true},
		{name: "confirm a cancelled purchase", method: "POST", path: "/v1/purchases/{pur3}/confirm", key: "pos", status: 409, code: "conflict"},

		{name: "refund a line", method: "POST", path: "/v1/purchases/{pur1}/refunds", key: "pos", header: idem("idem-rf1"), status: 201,
			body: `{"external_id":"RF-1","lines":[{"line":1,"quantity":1},{"line":3,"quantity":0.125}]}`},
		{name: "refund a line again", method: "POST", path: "/v1/purchases/{pur1}/refunds", key: "pos", header: idem("idem-rf1"), status: 201, replayed: true,
			body: `{"external_id":"RF-1","lines":[{"line":1,"quantity":1},{"line":3,"quantity":0.125}]}`},
		{name: "refund too much", method: "POST", path: "/v1/purchases/{pur1}/refunds", key: "pos", status: 422, code: "invalid_request",
			body: `{"external_id":"RF-2","lines":[{"line":1,"quantity":5}]}`},
		{name: "refund the rest", method: "POST", path: "/v1/purchases/{pur1}/refunds", key: "pos", status: 201, body: `{"external_id":"RF-3"}`},
		{name: "refund a pending purchase", method: "POST", path: "/v1/purchases/{pur4}/refunds", key: "pos", status: 409, code: "conflict", body: `{"external_id":"RF-4"}`},
		{name: "refund without external_id", method: "POST", path: "/v1/purchases/{pur2}/refunds", key: "pos", status: 400, code: "invalid_request", bad: true, body: `{"lines":[]}`},
		{name: "refund of no lines", method: "POST", path: "/v1/purchases/{pur2}/refunds", key: "pos", status: 400, code: "invalid_request",
			body: `{"external_id":"RF-6","lines":[]}`},
		{name: "refund unknown", method: "POST", path: "/v1/purchases/pur_nope/refunds", key: "pos", status: 404, code: "not_found", body: `{"external_id":"RF-5"}`},
		{name: "balance after it all", method: "GET", path: "/v1/customers/{cus1}/balance", key: "pos", status: 200},
		{name: "operations after it all", method: "GET", path: "/v1/customers/{cus1}/operations", key: "pos", status: 200},

		{name: "import", method: "POST", path: "/v1/imports", key: "admin", header: csvUpload("idem-imp"), body: importFile, status: 202,
			save: map[string]string{"imp1": "id"}},
		{name: "import again", method: "POST", path: "/v1/imports", key: "admin", header: csvUpload("idem-imp"), body: importFile, status: 202, replayed: true},
		{name: "import, a dry run skipping bad rows", method: "POST", path: "/v1/imports?dry_run=true&skip_bad_rows=true", key: "admin",
			header: csvUpload(""), body: importFile, status: 202},
		{name: "import CSV as xlsx", method: "POST", path: "/v1/imports?format=xlsx", key: "admin", header: csvUpload(""), body: importFile,
			status: 400, code: "invalid_request"},
		{name: "import, a bad flag", method: "POST", path: "/v1/imports?dry_run=maybe", key: "admin", header: csvUpload(""), body: importFile,
			status: 400, code: "invalid_request", bad: true},
		{name: "import JSON", method: "POST", path: "/v1/imports", key: "admin", body: `{"phone":"+79130000001"}`,
			status: 400, code: "invalid_request", bad: true},
		{name: "import with a pos key", method: "POST", path: "/v1/imports", key: "pos", header: csvUpload(""), body: importFile,
			status: 403, code: "forbidden"},
		{name: "import job", method: "GET", path: "/v1/imports/{imp1}", key: "admin", status: 200},
		{name: "unknown import job", method: "GET", path: "/v1/imports/imp_nope", key: "admin", status: 404, code: "not_found"},
		{name: "export customers", method: "GET", path: "/v1/exports/customers", key: "admin", status: 200},
		{name: "export customers as xlsx", method: "GET", path: "/v1/exports/customers?format=xlsx", key: "admin", status: 200},
		{name: "export customers as pdf", method: "GET", path: "/v1/exports/customers?format=pdf", key: "admin", status: 400,
			code: "invalid_request", bad: true},
		{name: "export balances", method: "GET", path: "/v1/exports/balances?format=csv", key: "admin", status: 200},
		{name: "export balances with a pos key", method: "GET", path: "/v1/exports/balances", key: "pos", status: 403, code: "forbidden"},
		{name: "export operations", method: "GET", path: "/v1/exports/operations?from=2020-01-01&to=2100-12-31", key: "admin", status: 200},
		{name: "export operations since yesterday", method: "GET", path: "/v1/exports/operations?from=yesterday", key: "admin",
			status: 400, code: "invalid_request"},

		{name: "customer to merge", method: "POST", path: "/v1/customers", key: "pos", status: 201, save: map[string]string{"cus5": "id"},
			body: `{"phone":"+7 912 000-00-05","first_name":"Галина","card":"CARD-0005"}`},
		{name: "customer to keep", method: "POST", path: "/v1/customers", key: "pos", status: 201, save: map[string]string{"cus6": "id"},
			body: `{"last_name":"Смирнова"}`},
		{name: "merge", method: "POST", path: "/v1/customers/{cus6}/merge", key: "admin", header: idem("idem-merge"), status: 200,
			body: `{"from":"{cus5}"}`},
		{name: "merge again", method: "POST", path: "/v1/customers/{cus6}/merge", key: "admin", header: idem("idem-merge"), status: 200,
			replayed: true, body: `{"from":"{cus5}"}`},
		{name: "merge a merged customer", method: "POST", path: "/v1/customers/{cus6}/merge", key: "admin", status: 409, code: "conflict",
			body: `{"from":"{cus5}"}`},
		{name: "merge a customer with a pending purchase", method: "POST", path: "/v1/customers/{cus6}/merge", key: "admin", status: 409,
			code: "conflict", body: `{"from":"{cus1}"}`},
		{name: "merge into itself", method: "POST", path: "/v1/customers/{cus6}/merge", key: "admin", status: 400, code: "invalid_request",
			body: `{"from":"{cus6}"}`},
		{name: "merge without from", method: "POST", path: "/v1/customers/{cus6}/merge", key: "admin", status: 400, code: "invalid_request",
			bad: true, body: `{}`},
		{name: "merge with a pos key", method: "POST", path: "/v1/customers/{cus6}/merge", key: "pos", status: 403, code: "forbidden",
			body: `{"from":"{cus2}"}`},
		{name: "merge into nobody", method: "POST", path: "/v1/customers/cus_nope/merge", key: "admin", status: 404, code: "not_found",
			body: `{"from":"{cus2}"}`},
		{name: "merge nobody", method: "POST", path: "/v1/customers/{cus6}/merge", key: "admin", status: 404, code: "customer_not_found",
			body: `{"from":"cus_nope"}`},
		{name: "get a merged customer", method: "GET", path: "/v1/customers/{cus5}", key: "pos", status: 200},
		{name: "operations of the survivor", method: "GET", path: "/v1/customers/{cus6}/operations", key: "pos", status: 200},
		{name: "delete a customer with a pending purchase", method: "DELETE", path: "/v1/customers/{cus1}", key: "admin", status: 409, code: "conflict"},
		{name: "delete with a pos key", method: "DELETE", path: "/v1/customers/{cus6}", key: "pos", status: 403, code: "forbidden"},
		{name: "delete", method: "DELETE", path: "/v1/customers/{cus6}", key: "admin", status: 204},
		{name: "delete again", method: "DELETE", path: "/v1/customers/{cus6}", key: "admin", status: 204},
		{name: "get a deleted customer", method: "GET", path: "/v1/customers/{cus6}", key: "pos", status: 404, code: "not_found"},
		{name: "delete nobody", method: "DELETE", path: "/v1/customers/cus_nope", key: "admin", status: 404, code: "not_found"},
	}
}

// outsideURL finds src or href attributes that load or link another host.
var outsideURL = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//`)

// outsideAssets lists what makes a page depend on another host or run code.
func outsideAssets(page string) []string {
	var found []string
	found = append(found, outsideURL.FindAllString(page, -1)...)
	for _, s := range []string{"<script", "@import", "url(", "<link", "<iframe"} {
		if strings.Contains(strings.ToLower(page), s) {
			found = append(found, s)
		}
	}
	return found
}

// TestOpenAPIDocs checks that /docs renders the document as a page that
// names every path and loads nothing from elsewhere.
func TestOpenAPIDocs(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	api.New(nil, slog.New(slog.DiscardHandler)).Register(mux, func(_ string, h http.Handler) http.Handler { return h })
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/docs", nil))
	page := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs = %d %s, want 200 text/html", rec.Code, rec.Header().Get("Content-Type"))
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("GET /docs Content-Security-Policy = %q, want default-src 'none'", csp)
	}
	doc := mustDoc(t)
	for path, item := range doc.Paths.Map() {
		if !strings.Contains(page, path) {
			t.Errorf("GET /docs does not mention %s", path)
		}
		for _, op := range item.Operations() {
			if !strings.Contains(page, `id="op-`+op.OperationID+`"`) {
				t.Errorf("GET /docs has no section for %s", op.OperationID)
			}
		}
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("GET /docs has no section for schema %s", name)
		}
	}
	for _, href := range regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(page, `id="`+href[1]+`"`) {
			t.Errorf("GET /docs links to #%s, which is not on the page", href[1])
		}
	}
	if found := outsideAssets(page); len(found) > 0 {
		t.Errorf("GET /docs loads or links outside assets: %q", found)
	}
	// Negative control: the check sees each kind of outside asset.
	for _, bad := range []string{
		`<link rel="stylesheet" href="https://cdn.example/x.css">`,
		`<img src="//cdn.example/x.png">`,
		`<a href=http://example.com>x</a>`,
		`<script src="/app.js"></script>`,
		`<style>@import "https://fonts.example/x.css";</style>`,
	} {
		if len(outsideAssets(bad)) == 0 {
			t.Errorf("outsideAssets(%q) = none, want a finding", bad)
		}
	}

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), api.OpenAPIDocument()) {
		t.Errorf("GET /v1/openapi.json = %d %s, want 200 application/json with the document", rec.Code, rec.Header().Get("Content-Type"))
	}
}
