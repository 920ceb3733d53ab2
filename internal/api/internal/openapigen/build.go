package openapigen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Types maps component schema names to the Go types whose JSON they
// describe; Build needs exactly the names its structSpecs list.
type Types map[string]reflect.Type

// Code is one stable error code with its HTTP status and title.
type Code struct {
	Name   string
	Status int
	Title  string
}

// Version is info.version of the document.
const Version = "1.0.0"

// Build returns the document as indented JSON.
func Build(types Types, codes []Code) ([]byte, error) {
	b := &builder{types: types, specs: structSpecs()}
	var want []string
	for _, s := range b.specs {
		want = append(want, s.Name)
	}
	if got := keys(types); !slices.Equal(got, sorted(want)) {
		return nil, fmt.Errorf("Build got types for %v, want exactly %v", got, sorted(want))
	}
	schemas := object{}
	for _, s := range b.specs {
		sc, err := b.structSchema(s)
		if err != nil {
			return nil, err
		}
		if s.Name == "Problem" {
			if err := problemCodes(sc, codes); err != nil {
				return nil, err
			}
		}
		schemas = append(schemas, member{s.Name, sc})
	}
	for _, m := range extraSchemas() {
		schemas = append(schemas, member{m.Name, m.Schema})
	}
	paths, err := buildPaths(operations())
	if err != nil {
		return nil, err
	}
	doc := object{
		{"openapi", "3.0.3"},
		{"info", object{{"title", "Kopilka"}, {"version", Version}, {"description", infoDescription}}},
		{"servers", []object{{{"url", "/"}, {"description", "The server this document came from."}}}},
		{"security", []object{{{"apiKey", []string{}}}}},
		{"tags", tags()},
		{"paths", paths},
		{"components", object{
			{"securitySchemes", object{{"apiKey", object{{"type", "http"}, {"scheme", "bearer"},
				{"description", "An API key: Authorization: Bearer <key>. Keys are made by `kopilka tenant create` (the first admin key) and POST /v1/api-keys."}}}}},
			{"parameters", parameters()},
			{"headers", headers()},
			{"responses", sharedResponses()},
			{"schemas", schemas},
		}},
	}
	raw, err := marshal(doc)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// problemCodes puts the code enum and its table into the Problem schema.
func problemCodes(s *Schema, codes []Code) error {
	if len(codes) == 0 {
		return fmt.Errorf("Build needs the error codes")
	}
	for _, p := range s.Properties {
		if p.Name != "code" {
			continue
		}
		var lines []string
		p.Schema.Enum = nil
		for _, c := range codes {
			if !slices.Contains(p.Schema.Enum, any(c.Name)) {
				p.Schema.Enum = append(p.Schema.Enum, c.Name)
			}
			lines = append(lines, fmt.Sprintf("%s (%d): %s.", c.Name, c.Status, c.Title))
		}
		p.Schema.Description += "\n\n" + strings.Join(lines, "\n")
		return nil
	}
	return fmt.Errorf("the Problem type has no code field")
}

// op is one operation of the document.
type op struct {
	Method, Path string
	ID           string // operationId: the route table's Name
	Tag          string
	Summary      string
	Desc         string
	Scope        string // "admin", "pos" or "" for no key
	Params       []any  // parameter objects or refs
	Body         *body
	Idempotent   bool // takes Idempotency-Key; answers may be replays
	// Upload, when set, lists the media types of a file the body carries
	// (a binary string; Body.Schema is then unused).
	Upload    []string
	Responses []resp
}

type body struct {
	Schema   string
	Required bool
	Desc     string
}

// binary is the content of a file of each media type.
func binary(media []string) object {
	var o object
	for _, m := range media {
		o = append(o, member{m, object{{"schema", &Schema{Type: "string", Format: "binary"}}}})
	}
	return o
}

// resp is one response: a JSON schema, a problem, no content, or a
// shared response by name.
type resp struct {
	Status  string
	Desc    string
	Schema  string // a component schema name, for application/json
	Problem bool
	Shared  string   // a components/responses name
	Content string   // another media type, with no schema
	Media   []string // media types of a file answer (a binary string)
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func buildPaths(ops []op) (object, error) {
	paths := object{}
	index := map[string]int{}
	seen := map[string]bool{}
	for _, o := range ops {
		key := o.Method + " " + o.Path
		if seen[key] || seen[o.ID] {
			return nil, fmt.Errorf("operation %s (%s) listed twice", key, o.ID)
		}
		seen[key], seen[o.ID] = true, true
		oo, err := operation(o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		i, ok := index[o.Path]
		if !ok {
			i = len(paths)
			index[o.Path] = i
			paths = append(paths, member{o.Path, object{}})
		}
		item := paths[i].val.(object)
		paths[i].val = append(item, member{strings.ToLower(o.Method), oo})
	}
	return paths, nil
}

func operation(o op) (object, error) {
	if o.ID == "" || o.Summary == "" || o.Desc == "" || o.Tag == "" {
		return nil, fmt.Errorf("needs an id, a tag, a summary and a description")
	}
	var pathNames []string
	for _, m := range pathParam.FindAllStringSubmatch(o.Path, -1) {
		pathNames = append(pathNames, m[1])
	}
	var declared []string
	for _, p := range o.Params {
		if r, ok := p.(paramRef); ok && r.in == "path" {
			declared = append(declared, r.name)
		}
	}
	if !slices.Equal(pathNames, declared) {
		return nil, fmt.Errorf("path parameters %v, declared %v", pathNames, declared)
	}
	desc := o.Desc
	switch o.Scope {
	case "":
		desc += "\n\nNo key needed."
	default:
		desc += "\n\nScope: " + o.Scope + "."
	}
	out := object{{"tags", []string{o.Tag}}, {"summary", o.Summary}, {"description", desc}, {"operationId", o.ID}}
	if o.Scope == "" {
		out = append(out, member{"security", []object{}})
	} else {
		out = append(out, member{"x-scope", o.Scope})
	}
	params := slices.Clone(o.Params)
	if o.Idempotent {
		params = append(params, paramRef{"IdempotencyKey", "header", "Idempotency-Key"})
	}
	if len(params) > 0 {
		out = append(out, member{"parameters", params})
	}
	if o.Body != nil {
		content := object{{"application/json", object{{"schema", ref(o.Body.Schema)}}}}
		if len(o.Upload) > 0 {
			content = binary(o.Upload)
		}
		out = append(out, member{"requestBody", object{{"description", o.Body.Desc}, {"required", o.Body.Required},
			{"content", content}}})
	}
	responses := object{}
	for _, r := range o.Responses {
		rr, err := response(r, o.Idempotent)
		if err != nil {
			return nil, err
		}
		responses = append(responses, member{r.Status, rr})
	}
	if o.Scope != "" {
		responses = append(responses, member{"401", object{{"$ref", "#/components/responses/Unauthorized"}}},
			member{"429", object{{"$ref", "#/components/responses/TooManyRequests"}}})
	}
	responses = append(responses, member{"500", object{{"$ref", "#/components/responses/Internal"}}})
	slices.SortStableFunc(responses, func(a, b member) int { return strings.Compare(a.key, b.key) })
	out = append(out, member{"responses", responses})
	return out, nil
}

func response(r resp, idempotent bool) (any, error) {
	if r.Shared != "" {
		return object{{"$ref", "#/components/responses/" + r.Shared}}, nil
	}
	if r.Desc == "" {
		return nil, fmt.Errorf("response %s needs a description", r.Status)
	}
	out := object{{"description", r.Desc}}
	replayed := idempotent && (r.Status[0] == '2' || r.Status == "422")
	if replayed {
		out = append(out, member{"headers", object{{"Idempotent-Replayed", object{{"$ref", "#/components/headers/IdempotentReplayed"}}}}})
	}
	switch {
	case r.Problem:
		out = append(out, member{"content", object{{"application/problem+json", object{{"schema", ref("Problem")}}}}})
	case r.Content != "":
		out = append(out, member{"content", object{{r.Content, object{}}}})
	case len(r.Media) > 0:
		out = append(out, member{"content", binary(r.Media)})
	case r.Schema != "":
		out = append(out, member{"content", object{{"application/json", object{{"schema", ref(r.Schema)}}}}})
	}
	return out, nil
}

// paramRef refers to a shared parameter; it remembers where the
// parameter goes so operations can be checked.
type paramRef struct {
	ref, in, name string
}

// MarshalJSON writes the reference.
func (p paramRef) MarshalJSON() ([]byte, error) {
	return marshal(object{{"$ref", "#/components/parameters/" + p.ref}})
}

func queryParam(name, desc string, required bool, s *Schema) object {
	return object{{"name", name}, {"in", "query"}, {"description", desc}, {"required", required}, {"schema", s}}
}

func ok(status, desc, schema string) resp { return resp{Status: status, Desc: desc, Schema: schema} }

func problem(status, desc string) resp { return resp{Status: status, Desc: desc, Problem: true} }

func shared(status, name string) resp { return resp{Status: status, Shared: name} }
