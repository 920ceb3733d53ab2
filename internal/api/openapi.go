package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
)

// openapiJSON is the published OpenAPI document. It is generated from the
// handlers' types by internal/openapigen and checked in; the tests keep it
// equal to the generator's output, to the route table and to the live
// answers (go test ./internal/api -run TestOpenAPI -update regenerates it).
//
//go:embed openapi.json
var openapiJSON []byte

//go:embed docs.html.tmpl
var docsTemplate string

// docsCSP allows the page nothing but its own inline style sheet.
const docsCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// registerDocs serves the document at /v1/openapi.json and the page made
// from it at /docs; neither needs a key. The page is rendered once, here.
func (h *Handler) registerDocs(mux *http.ServeMux, wrap func(route string, next http.Handler) http.Handler) {
	page, err := renderDocs(openapiJSON)
	mux.Handle("GET /v1/openapi.json", wrap("GET /v1/openapi.json", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		writeRaw(w, http.StatusOK, "application/json", openapiJSON)
	})))
	mux.Handle("GET /docs", wrap("GET /docs", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			h.problem(w, r, fmt.Errorf("render /docs: %w", err))
			return
		}
		w.Header().Set("Content-Security-Policy", docsCSP)
		w.Header().Set("Cache-Control", "no-cache")
		writeRaw(w, http.StatusOK, "text/html; charset=utf-8", page)
	})))
}

// renderDocs turns the document into the /docs page.
func renderDocs(doc []byte) ([]byte, error) {
	var d oasDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	page, err := d.page()
	if err != nil {
		return nil, err
	}
	t, err := template.New("docs").Parse(docsTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse the docs template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, page); err != nil {
		return nil, fmt.Errorf("render the docs page: %w", err)
	}
	return b.Bytes(), nil
}

// The page's view of the document.
type (
	docsPage struct {
		Title, Version string
		Intro          []string
		Groups         []docsGroup
		Schemas        []docsSchema
	}
	docsGroup struct {
		Anchor, Name, Description string
		Ops                       []docsOp
	}
	docsOp struct {
		Anchor, Method, MethodClass, Path, Summary, Scope string
		Description                                       []string
		Params                                            []docsField
		Body                                              *docsBody
		Responses                                         []docsResponse
	}
	docsBody struct {
		Required    bool
		Description string
		MediaType   string
		Type        docsType
	}
	docsResponse struct {
		Status, Description, MediaType string
		Type                           *docsType
	}
	docsField struct {
		Name, In, Description, Constraints string
		Required                           bool
		Type                               docsType
	}
	docsSchema struct {
		Name, Constraints string
		Description       []string
		Fields            []docsField
	}
	// docsType is a type name, with a link when it names a schema.
	docsType struct {
		Text string // "integer (int64)", "array of "
		Ref  string // a schema name after Text, or ""
	}
)

// The subset of the document the page reads. Objects whose order matters
// on the page are read in document order.
type (
	oasDoc struct {
		Info struct {
			Title, Version, Description string
		}
		Tags []struct {
			Name, Description string
		}
		Paths      ordered[ordered[oasOp]]
		Components struct {
			Parameters ordered[oasParam]
			Responses  ordered[oasResponse]
			Schemas    ordered[*oasSchema]
		}
	}
	oasOp struct {
		Tags        []string
		Summary     string
		Description string
		OperationID string `json:"operationId"`
		Scope       string `json:"x-scope"`
		Parameters  []oasParam
		RequestBody *struct {
			Description string
			Required    bool
			Content     ordered[oasMedia]
		} `json:"requestBody"`
		Responses ordered[oasResponse]
	}
	oasParam struct {
		Ref         string `json:"$ref"`
		Name, In    string
		Description string
		Required    bool
		Schema      *oasSchema
	}
	oasResponse struct {
		Ref         string `json:"$ref"`
		Description string
		Content     ordered[oasMedia]
	}
	oasMedia struct {
		Schema *oasSchema
	}
	oasSchema struct {
		Ref                  string `json:"$ref"`
		Type, Format         string
		Description          string
		Nullable             bool
		Enum                 []any
		Default              any
		Minimum, Maximum     *json.Number
		ExclusiveMinimum     bool `json:"exclusiveMinimum"`
		MultipleOf           *json.Number
		MinLength, MaxLength *int
		Pattern              string
		Items                *oasSchema
		MinItems, MaxItems   *int
		Required             []string
		Properties           ordered[*oasSchema]
		MinProperties        *int
		MaxProperties        *int
		AdditionalProperties *bool `json:"additionalProperties"`
		OneOf, AllOf         []*oasSchema
		Not                  *oasSchema
	}
)

// entry is one member of a JSON object read in order.
type entry[T any] struct {
	Key string
	Val T
}

// ordered is a JSON object read with its members in document order.
type ordered[T any] []entry[T]

// UnmarshalJSON reads the object member by member.
func (o *ordered[T]) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("want a JSON object, got %s", b[:min(len(b), 20)])
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*o = append(*o, entry[T]{t.(string), v})
	}
	_, err := dec.Token()
	return err
}

func (o ordered[T]) get(key string) (T, bool) {
	for _, e := range o {
		if e.Key == key {
			return e.Val, true
		}
	}
	var zero T
	return zero, false
}

func paragraphs(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func refName(ref string) string { return ref[strings.LastIndexByte(ref, '/')+1:] }

func (d *oasDoc) page() (*docsPage, error) {
	p := &docsPage{Title: d.Info.Title, Version: d.Info.Version, Intro: paragraphs(d.Info.Description)}
	groups := map[string]*docsGroup{}
	for _, t := range d.Tags {
		p.Groups = append(p.Groups, docsGroup{Anchor: "tag-" + strings.ReplaceAll(strings.ToLower(t.Name), " ", "-"),
			Name: t.Name, Description: t.Description})
	}
	for i := range p.Groups {
		groups[p.Groups[i].Name] = &p.Groups[i]
	}
	for _, path := range d.Paths {
		for _, m := range path.Val {
			op, err := d.op(path.Key, m.Key, &m.Val)
			if err != nil {
				return nil, err
			}
			if len(m.Val.Tags) == 0 || groups[m.Val.Tags[0]] == nil {
				return nil, fmt.Errorf("%s %s: no known tag", m.Key, path.Key)
			}
			g := groups[m.Val.Tags[0]]
			g.Ops = append(g.Ops, op)
		}
	}
	for _, s := range d.Components.Schemas {
		ds := docsSchema{Name: s.Key, Description: paragraphs(s.Val.Description), Constraints: constraints(s.Val)}
		// "required" matters in what clients send; in answers it only
		// means "always present", which nullable and the text say better.
		input := s.Val.AdditionalProperties != nil && !*s.Val.AdditionalProperties
		for _, f := range s.Val.Properties {
			ds.Fields = append(ds.Fields, field(f.Key, "", input && slices.Contains(s.Val.Required, f.Key), f.Val))
		}
		p.Schemas = append(p.Schemas, ds)
	}
	return p, nil
}

func (d *oasDoc) op(path, method string, o *oasOp) (docsOp, error) {
	out := docsOp{Anchor: "op-" + o.OperationID, Method: strings.ToUpper(method), MethodClass: "m-" + method,
		Path: path, Summary: o.Summary, Scope: o.Scope, Description: paragraphs(o.Description)}
	// The page shows the scope beside the summary; the document repeats
	// it in words for tools that ignore x-scope.
	if n := len(out.Description); n > 0 && (strings.HasPrefix(out.Description[n-1], "Scope: ") || out.Description[n-1] == "No key needed.") {
		out.Description = out.Description[:n-1]
	}
	for _, prm := range o.Parameters {
		if prm.Ref != "" {
			shared, ok := d.Components.Parameters.get(refName(prm.Ref))
			if !ok {
				return out, fmt.Errorf("%s %s: no parameter %s", method, path, prm.Ref)
			}
			prm = shared
		}
		out.Params = append(out.Params, field(prm.Name, prm.In, prm.Required, prm.Schema))
		out.Params[len(out.Params)-1].Description = prm.Description
	}
	if rb := o.RequestBody; rb != nil && len(rb.Content) > 0 {
		c := rb.Content[0]
		out.Body = &docsBody{Required: rb.Required, Description: rb.Description, MediaType: c.Key, Type: typeOf(c.Val.Schema)}
	}
	for _, r := range o.Responses {
		rv := r.Val
		if rv.Ref != "" {
			shared, ok := d.Components.Responses.get(refName(rv.Ref))
			if !ok {
				return out, fmt.Errorf("%s %s: no response %s", method, path, rv.Ref)
			}
			rv = shared
		}
		dr := docsResponse{Status: r.Key, Description: rv.Description}
		if len(rv.Content) > 0 {
			dr.MediaType = rv.Content[0].Key
			if sc := rv.Content[0].Val.Schema; sc != nil {
				t := typeOf(sc)
				dr.Type = &t
			}
		}
		out.Responses = append(out.Responses, dr)
	}
	return out, nil
}

func field(name, in string, required bool, s *oasSchema) docsField {
	f := docsField{Name: name, In: in, Required: required}
	if s == nil {
		return f
	}
	f.Type, f.Description, f.Constraints = typeOf(s), s.Description, constraints(s)
	return f
}

// typeOf names a schema's type for people.
func typeOf(s *oasSchema) docsType {
	switch {
	case s == nil:
		return docsType{Text: "any"}
	case s.Ref != "":
		return docsType{Ref: refName(s.Ref)}
	case len(s.AllOf) == 1:
		return typeOf(s.AllOf[0])
	case len(s.OneOf) > 0:
		var names []string
		for _, o := range s.OneOf {
			t := typeOf(o)
			names = append(names, t.Text+t.Ref)
		}
		return docsType{Text: strings.Join(names, " or ")}
	case s.Type == "array":
		t := typeOf(s.Items)
		return docsType{Text: "array of " + t.Text, Ref: t.Ref}
	case s.Type == "":
		return docsType{Text: "any JSON value"}
	case s.Format != "":
		return docsType{Text: s.Type + " (" + s.Format + ")"}
	}
	return docsType{Text: s.Type}
}

// constraints lists a schema's limits for people.
func constraints(s *oasSchema) string {
	if s == nil {
		return ""
	}
	var c []string
	add := func(format string, args ...any) { c = append(c, fmt.Sprintf(format, args...)) }
	if s.Nullable {
		add("nullable")
	}
	if len(s.Enum) > 0 {
		var vs []string
		for _, v := range s.Enum {
			b, _ := json.Marshal(v)
			vs = append(vs, string(b))
		}
		add("one of %s", strings.Join(vs, ", "))
	}
	if s.Default != nil {
		b, _ := json.Marshal(s.Default)
		add("default %s", b)
	}
	switch {
	case s.Minimum != nil && s.ExclusiveMinimum:
		add("> %s", *s.Minimum)
	case s.Minimum != nil:
		add("≥ %s", *s.Minimum)
	}
	if s.Maximum != nil {
		add("≤ %s", *s.Maximum)
	}
	if s.MultipleOf != nil {
		add("multiple of %s", *s.MultipleOf)
	}
	if s.Not != nil && len(s.Not.Enum) > 0 {
		b, _ := json.Marshal(s.Not.Enum[0])
		add("not %s", b)
	}
	if r := between(s.MinLength, s.MaxLength, "characters"); r != "" {
		add("%s", r)
	}
	if s.Pattern != "" {
		add("matches %s", s.Pattern)
	}
	if r := between(s.MinItems, s.MaxItems, "items"); r != "" {
		add("%s", r)
	}
	if s.MinProperties != nil && s.MaxProperties != nil && *s.MinProperties == *s.MaxProperties {
		add("exactly %d of the fields", *s.MinProperties)
	}
	if s.AdditionalProperties != nil && !*s.AdditionalProperties {
		add("unknown fields refused")
	}
	for _, o := range append(s.OneOf, s.AllOf...) {
		if oc := constraints(o); oc != "" {
			c = append(c, oc)
		}
	}
	if s.Items != nil {
		if ic := constraints(s.Items); ic != "" {
			add("each: %s", ic)
		}
	}
	return strings.Join(c, "; ")
}

// between words a length or count range.
func between(lo, hi *int, unit string) string {
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("%d to %d %s", *lo, *hi, unit)
	case lo != nil:
		return fmt.Sprintf("at least %d %s", *lo, unit)
	case hi != nil:
		return fmt.Sprintf("at most %d %s", *hi, unit)
	}
	return ""
}
