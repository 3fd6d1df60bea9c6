package openapi

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
)

//go:generate go run ./markergen -o zz_generated.markers.go

// typeMarkers is what the comments of one Go type say beyond what
// reflection and SwaggerDoc can tell (see markergen).
type typeMarkers struct {
	doc        string            // description of a struct type without SwaggerDoc
	fieldDocs  map[string]string // its fields' descriptions, by JSON name
	enum       []enumValue       // values of a +enum string type, sorted
	structType string            // +structType: x-kubernetes-map-type of the definition
	unions     string            // x-kubernetes-unions, as JSON
	fields     map[string]fieldMarkers
}

// fieldMarkers are the markers of one struct field, by Go field name.
type fieldMarkers struct {
	optional    optionality // where +optional/+required overrule omitempty
	listType    string
	listMapKeys []string
	mapType     string
	structType  string
	defaultJSON string
	skip        bool // +k8s:openapi-gen=false
}

type optionality int8

const (
	optFromTag optionality = iota
	optYes
	optNo
)

// enumValue is one documented value of an enum type.
type enumValue struct{ value, doc string }

func typeKey(t reflect.Type) string { return t.PkgPath() + "." + t.Name() }

func markersOf(t reflect.Type) *typeMarkers {
	if t.Name() == "" {
		return nil
	}
	return generatedMarkers[typeKey(t)]
}

func (m *typeMarkers) field(name string) fieldMarkers {
	if m == nil {
		return fieldMarkers{}
	}
	return m.fields[name]
}

// enumOf returns the values of an enum type (after pointers), or nil.
func enumOf(t reflect.Type) []enumValue {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.String {
		return nil
	}
	if m := markersOf(t); m != nil {
		return m.enum
	}
	return nil
}

func enumStrings(vals []enumValue) []interface{} {
	out := make([]interface{}, len(vals))
	for i, v := range vals {
		out[i] = v.value
	}
	return out
}

// withEnumDoc appends the "Possible enum values" paragraph that upstream's
// documents carry for enum fields.
func withEnumDoc(desc string, vals []enumValue) string {
	lines := make([]string, len(vals))
	for i, v := range vals {
		lines[i] = strings.TrimRight(" - `"+strconv.Quote(v.value)+"` "+v.doc, " ")
	}
	sort.Strings(lines)
	doc := "Possible enum values:\n" + strings.Join(lines, "\n")
	if desc == "" {
		return doc
	}
	return desc + "\n\n" + doc
}
