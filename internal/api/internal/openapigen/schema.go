// Package openapigen builds the OpenAPI 3 document of Kopilka's JSON API.
// The request and response schemas are read by reflection from the Go
// types the handlers encode and decode, so field names, types and
// nullability cannot drift from the code; the operations, parameters,
// statuses and every description are written out in spec.go. The api
// package's tests run Build and compare the result with the checked-in
// internal/api/openapi.json (regenerated with -update).
package openapigen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
)

// Schema is an OpenAPI 3.0 Schema Object, the subset Kopilka uses, with
// its keys in a fixed, readable order.
type Schema struct {
	Ref                  string     `json:"$ref,omitempty"`
	Type                 string     `json:"type,omitempty"`
	Format               string     `json:"format,omitempty"`
	Description          string     `json:"description,omitempty"`
	Nullable             bool       `json:"nullable,omitempty"`
	Enum                 []any      `json:"enum,omitempty"`
	Default              any        `json:"default,omitempty"`
	Minimum              any        `json:"minimum,omitempty"`
	ExclusiveMinimum     bool       `json:"exclusiveMinimum,omitempty"`
	Maximum              any        `json:"maximum,omitempty"`
	MultipleOf           any        `json:"multipleOf,omitempty"`
	MinLength            *int       `json:"minLength,omitempty"`
	MaxLength            *int       `json:"maxLength,omitempty"`
	Pattern              string     `json:"pattern,omitempty"`
	Items                *Schema    `json:"items,omitempty"`
	MinItems             *int       `json:"minItems,omitempty"`
	MaxItems             *int       `json:"maxItems,omitempty"`
	Required             []string   `json:"required,omitempty"`
	Properties           Properties `json:"properties,omitempty"`
	MinProperties        *int       `json:"minProperties,omitempty"`
	MaxProperties        *int       `json:"maxProperties,omitempty"`
	AdditionalProperties *bool      `json:"additionalProperties,omitempty"`
	OneOf                []*Schema  `json:"oneOf,omitempty"`
	AllOf                []*Schema  `json:"allOf,omitempty"`
	Not                  *Schema    `json:"not,omitempty"`
	Example              any        `json:"example,omitempty"`
}

// Property is one named property of an object schema.
type Property struct {
	Name   string
	Schema *Schema
}

// Properties keeps an object's properties in the order of the Go struct.
type Properties []Property

// MarshalJSON writes the properties as one JSON object, in order.
func (ps Properties) MarshalJSON() ([]byte, error) {
	o := make(object, 0, len(ps))
	for _, p := range ps {
		o = append(o, member{p.Name, p.Schema})
	}
	return o.MarshalJSON()
}

// member is one key of an ordered JSON object.
type member struct {
	key string
	val any
}

// object is a JSON object whose keys keep their order.
type object []member

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := marshal(m.val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal encodes v without escaping <, > and & (descriptions show
// "Bearer <key>").
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func ref(name string) *Schema { return &Schema{Ref: "#/components/schemas/" + name} }

func ptr[T any](v T) *T { return &v }

// mode says whether a schema describes what clients send (input: unknown
// fields refused, only the listed fields required) or what the server
// answers (output: every field the encoder always writes is required).
type mode int

const (
	output mode = iota
	input
)

// Field adds to or replaces what reflection says about one property.
type Field struct {
	Desc string
	// Schema replaces the reflected schema entirely (redeem, hours).
	Schema *Schema
	// Constraints, merged into the reflected schema (into items for
	// arrays when ItemEnum or ItemPattern is used).
	Enum        []any
	ItemEnum    []any
	Format      string
	Pattern     string
	Min, Max    any
	ExclMin     bool
	MinLen      *int
	MaxLen      *int
	MinItems    *int
	MaxItems    *int
	Default     any
	Example     any
	NotNullable bool // a pointer field that is never null in practice
}

// structSpec describes a component schema read from a Go struct.
type structSpec struct {
	Name     string
	Mode     mode
	Desc     string
	Omit     []string // JSON fields of the Go type the schema leaves out
	Required []string // input: required fields; output: fields required beyond the non-omitempty ones
	Fields   map[string]Field
	MinProps *int
	MaxProps *int
}

type jsonField struct {
	name      string
	typ       reflect.Type
	omitempty bool
}

// jsonFields lists the fields encoding/json writes for t, in order,
// flattening embedded structs as encoding/json does.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type, omitempty: slices.Contains(strings.Split(opts, ","), "omitempty")})
	}
	return out
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	rawType      = reflect.TypeFor[json.RawMessage]()
	quantityType = reflect.TypeFor[kopilka.Quantity]()
	percentType  = reflect.TypeFor[kopilka.Percent]()
)

// builder turns structSpecs into schemas.
type builder struct {
	types map[string]reflect.Type
	specs []structSpec
}

// named returns the component name for a nested struct type in a mode.
func (b *builder) named(t reflect.Type, m mode) (string, error) {
	var names []string
	for _, s := range b.specs {
		if b.types[s.Name] == t && s.Mode == m && len(s.Omit) == 0 {
			names = append(names, s.Name)
		}
	}
	if len(names) != 1 {
		return "", fmt.Errorf("type %v is nested in a schema but has %d component schemas for its mode (%v); describe exactly one", t, len(names), names)
	}
	return names[0], nil
}

// typeSchema is the reflected schema of a Go type.
func (b *builder) typeSchema(t reflect.Type, m mode) (*Schema, error) {
	switch t {
	case timeType:
		return &Schema{Type: "string", Format: "date-time"}, nil
	case rawType:
		return &Schema{Nullable: true}, nil
	case quantityType:
		return &Schema{Type: "number", Minimum: 0, MultipleOf: 0.001}, nil
	case percentType:
		return &Schema{Type: "number", Minimum: 0, Maximum: 100, MultipleOf: 0.0001}, nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		s, err := b.typeSchema(t.Elem(), m)
		if err != nil {
			return nil, err
		}
		if s.Ref != "" {
			return nil, fmt.Errorf("nullable reference to %s: not supported", s.Ref)
		}
		s.Nullable = true
		return s, nil
	case reflect.String:
		return &Schema{Type: "string"}, nil
	case reflect.Bool:
		return &Schema{Type: "boolean"}, nil
	case reflect.Int64:
		return &Schema{Type: "integer", Format: "int64"}, nil
	case reflect.Int:
		return &Schema{Type: "integer"}, nil
	case reflect.Slice:
		items, err := b.typeSchema(t.Elem(), m)
		if err != nil {
			return nil, err
		}
		return &Schema{Type: "array", Items: items}, nil
	case reflect.Struct:
		name, err := b.named(t, m)
		if err != nil {
			return nil, err
		}
		return ref(name), nil
	}
	return nil, fmt.Errorf("no schema for Go type %v", t)
}

// structSchema builds the component schema of a spec.
func (b *builder) structSchema(s structSpec) (*Schema, error) {
	t, ok := b.types[s.Name]
	if !ok {
		return nil, fmt.Errorf("schema %s: no Go type given", s.Name)
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("schema %s: %v is not a struct", s.Name, t)
	}
	fields := jsonFields(t)
	known := map[string]bool{}
	for _, f := range fields {
		known[f.name] = true
	}
	for _, name := range slices.Concat(s.Omit, s.Required, keys(s.Fields)) {
		if !known[name] {
			return nil, fmt.Errorf("schema %s: %v has no JSON field %q", s.Name, t, name)
		}
	}
	out := &Schema{Type: "object", Description: s.Desc, MinProperties: s.MinProps, MaxProperties: s.MaxProps}
	if s.Mode == input {
		out.AdditionalProperties = ptr(false)
	}
	for _, f := range fields {
		if slices.Contains(s.Omit, f.name) {
			continue
		}
		fs, ok := s.Fields[f.name]
		if !ok || fs.Desc == "" {
			return nil, fmt.Errorf("schema %s: field %q has no description", s.Name, f.name)
		}
		p, err := b.fieldSchema(f, fs, s.Mode)
		if err != nil {
			return nil, fmt.Errorf("schema %s, field %s: %w", s.Name, f.name, err)
		}
		out.Properties = append(out.Properties, Property{f.name, p})
		if slices.Contains(s.Required, f.name) || s.Mode == output && !f.omitempty {
			out.Required = append(out.Required, f.name)
		}
	}
	return out, nil
}

func (b *builder) fieldSchema(f jsonField, fs Field, m mode) (*Schema, error) {
	if fs.Schema != nil {
		s := *fs.Schema
		s.Description = fs.Desc
		return &s, nil
	}
	s, err := b.typeSchema(f.typ, m)
	if err != nil {
		return nil, err
	}
	if fs.NotNullable {
		s.Nullable = false
	}
	target := s
	if fs.ItemEnum != nil {
		target = s.Items
		target.Enum = fs.ItemEnum
	}
	if fs.Enum != nil {
		target.Enum = fs.Enum
	}
	if fs.Format != "" {
		s.Format = fs.Format
	}
	if fs.Pattern != "" {
		s.Pattern = fs.Pattern
	}
	if fs.Min != nil {
		s.Minimum = fs.Min
	}
	if fs.Max != nil {
		s.Maximum = fs.Max
	}
	s.ExclusiveMinimum = s.ExclusiveMinimum || fs.ExclMin
	s.MinLength, s.MaxLength = fs.MinLen, fs.MaxLen
	s.MinItems, s.MaxItems = fs.MinItems, fs.MaxItems
	s.Default, s.Example = fs.Default, fs.Example
	if s.Ref != "" {
		// A $ref takes no siblings in OpenAPI 3.0: wrap it to describe it.
		return &Schema{Description: fs.Desc, AllOf: []*Schema{s}}, nil
	}
	s.Description = fs.Desc
	return s, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
