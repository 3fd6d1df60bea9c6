package openapi

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// schemas builds the definitions of Go types by reflection, the way
// upstream's generated definitions describe them. One schemas builds the
// definitions of one document: v2 (refs to #/definitions/, no defaults) or
// v3 (refs to #/components/schemas/, refs with siblings wrapped in allOf,
// zero-value defaults, oneOf for int-or-string and quantities).
type schemas struct {
	v3     bool
	gvks   map[reflect.Type][]schema.GroupVersionKind
	defs   map[string]*spec.Schema
	custom func(schema.GroupVersionKind) *spec.Schema
}

func newSchemas(v3 bool, gvks map[reflect.Type][]schema.GroupVersionKind) *schemas {
	return &schemas{v3: v3, gvks: gvks, defs: map[string]*spec.Schema{}}
}

// The methods by which apimachinery types give their own OpenAPI type.
type (
	openAPITyper interface {
		OpenAPISchemaType() []string
		OpenAPISchemaFormat() string
	}
	openAPIV3OneOfTyper interface {
		OpenAPIV3OneOfTypes() []string
	}
	openAPIModelNamer interface {
		OpenAPIModelName() string
	}
	swaggerDocer interface {
		SwaggerDoc() map[string]string
	}
)

var unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

// definitionName is upstream's name of a type's definition:
// k8s.io/api/core/v1.Pod → io.k8s.api.core.v1.Pod.
func definitionName(t reflect.Type) string {
	if n, ok := reflect.Zero(t).Interface().(openAPIModelNamer); ok {
		return n.OpenAPIModelName()
	}
	parts := strings.Split(t.PkgPath(), "/")
	host := strings.Split(parts[0], ".")
	for i, j := 0, len(host)-1; i < j; i, j = i+1, j-1 {
		host[i], host[j] = host[j], host[i]
	}
	parts[0] = strings.Join(host, ".")
	return strings.Join(parts, ".") + "." + t.Name()
}

func (s *schemas) refPrefix() string {
	if s.v3 {
		return "#/components/schemas/"
	}
	return "#/definitions/"
}

// ref defines t (a named struct type) if needed and returns a schema
// that refers to its definition.
func (s *schemas) ref(t reflect.Type) spec.Schema {
	name := s.define(t)
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(s.refPrefix() + name)}}
}

// define builds the definition of t and of every type it refers to.
func (s *schemas) define(t reflect.Type) string {
	name := definitionName(t)
	if _, ok := s.defs[name]; ok {
		return name
	}
	def := &spec.Schema{}
	s.defs[name] = def // before the fields: types may refer to themselves
	def.Description = typeDescription(t)
	if typer, ok := reflect.Zero(t).Interface().(openAPITyper); ok {
		def.Format = typer.OpenAPISchemaFormat()
		if oneOf, ok := typer.(openAPIV3OneOfTyper); ok && s.v3 {
			for _, typ := range oneOf.OpenAPIV3OneOfTypes() {
				def.OneOf = append(def.OneOf, spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{typ}}})
			}
		} else {
			def.Type = typer.OpenAPISchemaType()
		}
		return name
	}
	def.Type = []string{"object"}
	props := map[string]spec.Schema{}
	s.members(t, props, &def.Required)
	if len(props) > 0 {
		def.Properties = props
	}
	m := markersOf(t)
	if m != nil && m.structType != "" {
		def.AddExtension("x-kubernetes-map-type", m.structType)
	}
	if m != nil && m.unions != "" {
		var unions []interface{}
		if json.Unmarshal([]byte(m.unions), &unions) == nil {
			def.AddExtension("x-kubernetes-unions", unions)
		}
	}
	if gvks := s.gvks[t]; len(gvks) > 0 {
		list := make([]interface{}, len(gvks))
		for i, gvk := range gvks {
			list[i] = map[string]interface{}{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
		}
		def.AddExtension("x-kubernetes-group-version-kind", list)
	}
	return name
}

func typeDescription(t reflect.Type) string {
	if d, ok := reflect.Zero(t).Interface().(swaggerDocer); ok {
		return d.SwaggerDoc()[""]
	}
	if m := markersOf(t); m != nil {
		return m.doc
	}
	return ""
}

func fieldDocs(t reflect.Type) map[string]string {
	if d, ok := reflect.Zero(t).Interface().(swaggerDocer); ok {
		return d.SwaggerDoc()
	}
	if m := markersOf(t); m != nil {
		return m.fieldDocs
	}
	return nil
}

// members adds the properties of struct t, and of the structs it inlines,
// to props, and the names of required ones to required.
func (s *schemas) members(t reflect.Type, props map[string]spec.Schema, required *[]string) {
	docs := fieldDocs(t)
	marks := markersOf(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fm := marks.field(f.Name)
		if fm.skip {
			continue
		}
		tag, hasTag := f.Tag.Lookup("json")
		opts := strings.Split(tag, ",")
		if f.Anonymous && hasTag && opts[0] == "" {
			et := f.Type
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				s.members(et, props, required)
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name := opts[0]
		if !hasTag {
			name = f.Name
		}
		if name == "" || name == "-" {
			continue
		}
		omitempty := hasOption(opts, "omitempty")
		optional := omitempty
		switch fm.optional {
		case optYes:
			optional = true
		case optNo:
			optional = false
		}
		if !optional {
			*required = append(*required, name)
		}
		props[name] = s.property(f, docs[name], fm, omitempty, hasOption(opts, "string"))
	}
}

func hasOption(opts []string, o string) bool {
	for _, x := range opts[1:] {
		if x == o {
			return true
		}
	}
	return false
}

// property is the schema of one struct field.
func (s *schemas) property(f reflect.StructField, desc string, fm fieldMarkers, omitempty, asString bool) spec.Schema {
	enum := enumOf(f.Type)
	if len(enum) > 0 {
		desc = withEnumDoc(desc, enum)
	}
	var p spec.Schema
	p.Description = desc
	for _, ext := range []struct{ name, value string }{
		{"x-kubernetes-patch-strategy", f.Tag.Get("patchStrategy")},
		{"x-kubernetes-patch-merge-key", f.Tag.Get("patchMergeKey")},
		{"x-kubernetes-list-type", fm.listType},
		{"x-kubernetes-map-type", fm.mapType},
		{"x-kubernetes-map-type", fm.structType},
	} {
		if ext.value != "" {
			p.AddExtension(ext.name, ext.value)
		}
	}
	if len(fm.listMapKeys) > 0 {
		keys := make([]interface{}, len(fm.listMapKeys))
		for i, k := range fm.listMapKeys {
			keys[i] = k
		}
		p.AddExtension("x-kubernetes-list-map-keys", keys)
	}
	if asString {
		p.Type = []string{"string"}
		return p
	}
	if s.v3 {
		if fm.defaultJSON != "" {
			var d interface{}
			if json.Unmarshal([]byte(fm.defaultJSON), &d) == nil {
				p.Default = d
			}
		} else {
			p.Default = zeroDefault(f.Type, omitempty)
		}
	}
	s.typeInto(&p, f.Type)
	return s.wrapRef(p)
}

// wrapRef keeps a v3 reference free of siblings, as upstream does: a ref
// with a description, default or extensions moves into allOf.
func (s *schemas) wrapRef(p spec.Schema) spec.Schema {
	if !s.v3 || p.Ref.String() == "" {
		return p
	}
	if p.Description == "" && p.Default == nil && len(p.Extensions) == 0 {
		return p
	}
	ref := spec.Schema{SchemaProps: spec.SchemaProps{Ref: p.Ref}}
	p.Ref = spec.Ref{}
	p.AllOf = []spec.Schema{ref}
	return p
}

// typeInto fills in the type of a schema for Go type t.
func (s *schemas) typeInto(p *spec.Schema, t reflect.Type) {
	enum := enumOf(t)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if typ, format := simpleType(t); typ != "" {
		p.Type = []string{typ}
		p.Format = format
		if len(enum) > 0 {
			p.Enum = enumStrings(enum)
		}
		return
	}
	switch t.Kind() {
	case reflect.Map:
		p.Type = []string{"object"}
		var v spec.Schema
		s.typeInto(&v, t.Elem())
		p.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: &v}
	case reflect.Slice, reflect.Array:
		p.Type = []string{"array"}
		var v spec.Schema
		s.typeInto(&v, t.Elem())
		p.Items = &spec.SchemaOrArray{Schema: &v}
	case reflect.Struct:
		p.Ref = s.ref(t).Ref
	case reflect.Interface:
		// any value: no type, as upstream
	}
}

// simpleType maps a Go type to an OpenAPI type and format; "" when t is not
// a scalar.
func simpleType(t reflect.Type) (string, string) {
	if (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() == reflect.Uint8 && t.Elem().Name() == "uint8" {
		return common.OpenAPITypeFormat("[]byte")
	}
	switch t.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct, reflect.Interface, reflect.Pointer:
		return "", ""
	}
	return common.OpenAPITypeFormat(t.Kind().String())
}

// zeroDefault is the default upstream's v3 documents give a field that
// always appears in JSON: {} for a struct value, the zero value for a scalar
// without omitempty. Types that decode themselves (Time, Quantity,
// IntOrString, RawExtension) get none.
func zeroDefault(t reflect.Type, omitempty bool) interface{} {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Array, reflect.Interface:
		return nil
	case reflect.Struct:
		if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil
		}
		if t.NumField() == 1 && t.Field(0).Anonymous {
			return zeroDefault(t.Field(0).Type, omitempty)
		}
		return map[string]interface{}{}
	}
	if omitempty {
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		return ""
	case reflect.Bool:
		return false
	default:
		return 0
	}
}

// customName is upstream's definition name of a custom resource's kind:
// the group's domain reversed, then version and kind
// (stable.example.com/v1 CronTab → com.example.stable.v1.CronTab).
func customName(gvk schema.GroupVersionKind) string {
	parts := strings.Split(gvk.Group, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ".") + "." + gvk.Version + "." + gvk.Kind
}

// customRef defines a custom resource's kind (or its list) and refers to
// it.
func (s *schemas) customRef(gvk schema.GroupVersionKind, list bool) spec.Schema {
	name := customName(gvk)
	if list {
		name += "List"
	}
	if _, ok := s.defs[name]; !ok {
		var def *spec.Schema
		if list {
			item := s.customRef(gvk, false)
			def = &spec.Schema{SchemaProps: spec.SchemaProps{
				Description: gvk.Kind + "List is a list of " + gvk.Kind,
				Type:        []string{"object"},
				Required:    []string{"items"},
				Properties: map[string]spec.Schema{
					"apiVersion": typeMetaProperty(s, "apiVersion"),
					"kind":       typeMetaProperty(s, "kind"),
					"items":      {SchemaProps: spec.SchemaProps{Type: []string{"array"}, Items: &spec.SchemaOrArray{Schema: &item}}},
					"metadata":   s.wrapRef(s.ref(reflect.TypeOf(metav1.ListMeta{}))),
				},
			}}
			gvk.Kind += "List"
		} else if cs := s.customSchema(gvk); cs != nil {
			def = s.customKind(cs)
		} else {
			def = &spec.Schema{SchemaProps: spec.SchemaProps{
				Type: []string{"object"},
				Properties: map[string]spec.Schema{
					"apiVersion": typeMetaProperty(s, "apiVersion"),
					"kind":       typeMetaProperty(s, "kind"),
					"metadata":   s.wrapRef(s.ref(reflect.TypeOf(metav1.ObjectMeta{}))),
				},
			}}
			def.AddExtension("x-kubernetes-preserve-unknown-fields", true)
		}
		def.AddExtension("x-kubernetes-group-version-kind", []interface{}{
			map[string]interface{}{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}})
		s.defs[name] = def
	}
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(s.refPrefix() + name)}}
}

// customKind is the definition of a custom resource's kind from its
// schema, as upstream publishes it: with apiVersion, kind and metadata, at
// the root and in the embedded resources (x-kubernetes-embedded-resource)
// it declares. In v2, a kind that keeps unknown fields is a bare object:
// properties would make client-side validation refuse the unknown ones.
func (s *schemas) customKind(cs *spec.Schema) *spec.Schema {
	var d spec.Schema
	if b, err := json.Marshal(cs); err != nil || json.Unmarshal(b, &d) != nil {
		d = *cs
	}
	if keep, _ := d.Extensions.GetBool("x-kubernetes-preserve-unknown-fields"); keep && !s.v3 {
		return &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"object"}}}
	}
	if d.Extensions == nil {
		d.Extensions = spec.Extensions{}
	}
	d.SetProperty("metadata", s.objectMetaProperty())
	d.SetProperty("apiVersion", typeMetaProperty(s, "apiVersion"))
	d.SetProperty("kind", typeMetaProperty(s, "kind"))
	s.addEmbedded(&d)
	return &d
}

func (s *schemas) objectMetaProperty() spec.Schema {
	p := s.ref(reflect.TypeOf(metav1.ObjectMeta{}))
	p.Description = fieldDocs(reflect.TypeOf(metav1.PartialObjectMetadata{}))["metadata"]
	return s.wrapRef(p)
}

// addEmbedded gives the embedded resources below a custom schema their
// apiVersion, kind and metadata.
func (s *schemas) addEmbedded(d *spec.Schema) {
	if d == nil {
		return
	}
	for k, p := range d.Properties {
		s.addEmbedded(&p)
		d.Properties[k] = p
	}
	if d.Items != nil {
		s.addEmbedded(d.Items.Schema)
	}
	if d.AdditionalProperties != nil {
		s.addEmbedded(d.AdditionalProperties.Schema)
	}
	if keep, _ := d.Extensions.GetBool("x-kubernetes-preserve-unknown-fields"); keep && !s.v3 {
		return
	}
	if embedded, _ := d.Extensions.GetBool("x-kubernetes-embedded-resource"); !embedded {
		return
	}
	str := func(desc string) spec.Schema {
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"string"}, Description: desc}}
	}
	d.SetProperty("apiVersion", str("apiVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"))
	d.SetProperty("kind", str("kind is a string value representing the type of this object. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"))
	d.SetProperty("metadata", s.objectMetaProperty())
	for _, r := range []string{"kind", "apiVersion"} {
		found := false
		for _, x := range d.Required {
			found = found || x == r
		}
		if !found {
			d.Required = append(d.Required, r)
		}
	}
}

func (s *schemas) customSchema(gvk schema.GroupVersionKind) *spec.Schema {
	if s.custom == nil {
		return nil
	}
	return s.custom(gvk)
}

func typeMetaProperty(s *schemas, name string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"string"},
		Description: fieldDocs(reflect.TypeOf(metav1.TypeMeta{}))[name]}}
}

// sortedGVKs orders the group-version-kinds of a definition the way
// upstream lists them: by group, then version, then kind.
func sortedGVKs(list []schema.GroupVersionKind) []schema.GroupVersionKind {
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Kind < b.Kind
	})
	return list
}
