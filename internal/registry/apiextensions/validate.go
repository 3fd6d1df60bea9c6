package apiextensions

import (
	"encoding/json"
	"reflect"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	openapierrors "k8s.io/kube-openapi/pkg/validation/errors"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// The value validation of custom resources is kube-openapi's JSON-schema
// validator, as upstream's: its messages ("spec.size in body must be of
// type integer: \"string\"") are upstream's.

// OpenAPI converts a CRD schema to the kube-openapi form the validator reads:
// x-kubernetes-int-or-string allows both types, and formats Kubernetes does
// not support are dropped (they validate nothing upstream either).
func OpenAPI(p *apiextensionsv1.JSONSchemaProps) *spec.Schema {
	if p == nil {
		return nil
	}
	out := &spec.Schema{}
	out.Description, out.Title, out.Format, out.Nullable = p.Description, p.Title, p.Format, p.Nullable
	if p.Type != "" {
		out.Type = spec.StringOrArray{p.Type}
	}
	if p.XIntOrString {
		out.Type = spec.StringOrArray{"integer", "string"}
		out.AddExtension("x-kubernetes-int-or-string", true)
	}
	out.Maximum, out.ExclusiveMaximum, out.Minimum, out.ExclusiveMinimum = p.Maximum, p.ExclusiveMaximum, p.Minimum, p.ExclusiveMinimum
	out.MaxLength, out.MinLength, out.Pattern = p.MaxLength, p.MinLength, p.Pattern
	out.MaxItems, out.MinItems, out.UniqueItems, out.MultipleOf = p.MaxItems, p.MinItems, p.UniqueItems, p.MultipleOf
	out.MaxProperties, out.MinProperties, out.Required = p.MaxProperties, p.MinProperties, p.Required
	if p.Default != nil {
		out.Default = rawValue(p.Default)
	}
	if p.Example != nil {
		out.Example = rawValue(p.Example)
	}
	for _, e := range p.Enum {
		out.Enum = append(out.Enum, rawValue(&e))
	}
	for _, list := range []struct {
		in  []apiextensionsv1.JSONSchemaProps
		out *[]spec.Schema
	}{{p.AllOf, &out.AllOf}, {p.OneOf, &out.OneOf}, {p.AnyOf, &out.AnyOf}} {
		for i := range list.in {
			*list.out = append(*list.out, *OpenAPI(&list.in[i]))
		}
	}
	out.Not = OpenAPI(p.Not)
	if len(p.Properties) > 0 {
		out.Properties = make(map[string]spec.Schema, len(p.Properties))
		for k, v := range p.Properties {
			out.Properties[k] = *OpenAPI(&v)
		}
	}
	if p.AdditionalProperties != nil {
		out.AdditionalProperties = &spec.SchemaOrBool{Allows: p.AdditionalProperties.Allows, Schema: OpenAPI(p.AdditionalProperties.Schema)}
	}
	if p.Items != nil {
		out.Items = &spec.SchemaOrArray{Schema: OpenAPI(p.Items.Schema)}
	}
	if p.ExternalDocs != nil {
		out.ExternalDocs = &spec.ExternalDocumentation{Description: p.ExternalDocs.Description, URL: p.ExternalDocs.URL}
	}
	stripUnsupportedFormat(out)
	if p.XPreserveUnknownFields != nil {
		out.AddExtension("x-kubernetes-preserve-unknown-fields", *p.XPreserveUnknownFields)
	}
	if p.XEmbeddedResource {
		out.AddExtension("x-kubernetes-embedded-resource", true)
	}
	if len(p.XListMapKeys) > 0 {
		keys := make([]interface{}, len(p.XListMapKeys))
		for i, k := range p.XListMapKeys {
			keys[i] = k
		}
		out.AddExtension("x-kubernetes-list-map-keys", keys)
	}
	if p.XListType != nil {
		out.AddExtension("x-kubernetes-list-type", *p.XListType)
	}
	if p.XMapType != nil {
		out.AddExtension("x-kubernetes-map-type", *p.XMapType)
	}
	if len(p.XValidations) > 0 {
		var rules []interface{}
		b, _ := json.Marshal(p.XValidations)
		_ = json.Unmarshal(b, &rules)
		out.AddExtension("x-kubernetes-validations", rules)
	}
	return out
}

func rawValue(j *apiextensionsv1.JSON) interface{} {
	var v interface{}
	if len(j.Raw) > 0 {
		_ = utiljson.Unmarshal(j.Raw, &v)
	}
	return v
}

// supportedFormats are the string formats Kubernetes validates (with "-"
// removed, as the validator normalizes them).
var supportedFormats = map[string]bool{
	"bsonobjectid": true, "uri": true, "email": true, "hostname": true, "ipv4": true, "ipv6": true,
	"cidr": true, "mac": true, "uuid": true, "uuid3": true, "uuid4": true, "uuid5": true, "isbn": true,
	"isbn10": true, "isbn13": true, "creditcard": true, "ssn": true, "hexcolor": true, "rgbcolor": true,
	"byte": true, "password": true, "date": true, "duration": true, "datetime": true,
	"k8sshortname": true, "k8slongname": true,
}

func stripUnsupportedFormat(s *spec.Schema) {
	if s.Format == "" {
		return
	}
	typ := ""
	if len(s.Type) == 1 {
		typ = s.Type[0]
	}
	switch typ {
	case "", "string":
		if !supportedFormats[strings.ReplaceAll(s.Format, "-", "")] {
			s.Format = ""
		}
	case "integer":
		if s.Format != "int32" && s.Format != "int64" {
			s.Format = ""
		}
	case "number":
		if s.Format != "float" && s.Format != "double" {
			s.Format = ""
		}
	default:
		s.Format = ""
	}
}

// newValidator returns the validator of a schema.
func newValidator(s *spec.Schema) *validate.SchemaValidator {
	return validate.NewSchemaValidator(s, nil, "", strfmt.Default)
}

// validateValue validates v against the schema of validator; errors are
// reported below fldPath.
func validateValue(fldPath *field.Path, v interface{}, validator *validate.SchemaValidator) field.ErrorList {
	if validator == nil {
		return nil
	}
	result := validator.Validate(v)
	if result.IsValid() {
		return nil
	}
	var errs field.ErrorList
	for _, err := range result.Errors {
		verr, ok := err.(*openapierrors.Validation)
		if !ok {
			errs = append(errs, field.Invalid(fldPath, "", err.Error()))
			continue
		}
		p := fldPath
		if verr.Name != "" && verr.Name != "." {
			p = p.Child(strings.TrimPrefix(verr.Name, "."))
		}
		value := verr.Value
		if value == nil {
			value = ""
		}
		switch verr.Code() {
		case openapierrors.RequiredFailCode:
			errs = append(errs, field.Required(p, ""))
		case openapierrors.EnumFailCode:
			var values []string
			for _, allowed := range verr.Values {
				if s, ok := allowed.(string); ok {
					values = append(values, s)
				} else {
					b, _ := json.Marshal(allowed)
					values = append(values, string(b))
				}
			}
			errs = append(errs, field.NotSupported(p, verr.Value, values))
		case openapierrors.TooLongFailCode:
			limit := int64(-1)
			if i, ok := verr.Valid.(int64); ok {
				limit = i
			}
			errs = append(errs, field.TooLong(p, "", int(limit)))
		case openapierrors.MaxItemsFailCode, openapierrors.TooManyPropertiesCode:
			actual, limit := int64(-1), int64(-1)
			if i, ok := verr.Value.(int64); ok {
				actual = i
			}
			if i, ok := verr.Valid.(int64); ok {
				limit = i
			}
			errs = append(errs, field.TooMany(p, int(actual), int(limit)))
		case openapierrors.InvalidTypeCode:
			errs = append(errs, field.TypeInvalid(p, value, verr.Error()))
		default:
			errs = append(errs, field.Invalid(p, value, verr.Error()))
		}
	}
	return errs
}

// ratchet drops the errors of an update that concern values the update did
// not change (upstream's validation ratcheting): an object stored under an
// older, laxer schema can still be updated elsewhere.
func ratchet(errs field.ErrorList, obj, old map[string]interface{}) field.ErrorList {
	if old == nil {
		return errs
	}
	var out field.ErrorList
	for _, e := range errs {
		steps := parsePath(e.Field)
		if e.Type == field.ErrorTypeRequired && len(steps) > 0 {
			steps = steps[:len(steps)-1] // the object that misses the field
		}
		a, okA := lookup(obj, steps)
		b, okB := lookup(old, steps)
		if okA && okB && reflect.DeepEqual(a, b) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// parsePath splits a field path ("spec.items[0].name", "spec.labels[a.b]")
// into map keys and list indices.
func parsePath(p string) []interface{} {
	var out []interface{}
	for len(p) > 0 {
		switch {
		case p[0] == '.':
			p = p[1:]
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return append(out, p)
			}
			inner := p[1:end]
			n := 0
			isNum := inner != ""
			for _, c := range inner {
				if c < '0' || c > '9' {
					isNum = false
					break
				}
				n = n*10 + int(c-'0')
			}
			if isNum {
				out = append(out, n)
			} else {
				out = append(out, inner)
			}
			p = p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			out = append(out, p[:end])
			p = p[end:]
		}
	}
	return out
}

func lookup(x interface{}, steps []interface{}) (interface{}, bool) {
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, ok := x.(map[string]interface{})
			if !ok {
				return nil, false
			}
			if x, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			l, ok := x.([]interface{})
			if !ok || k >= len(l) {
				return nil, false
			}
			x = l[k]
		}
	}
	return x, true
}

// validateLists checks that the items of x-kubernetes-list-type set and map
// lists are unique (by value, by their keys).
func validateLists(fldPath *field.Path, x interface{}, s *Structural) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	switch x := x.(type) {
	case map[string]interface{}:
		for k, v := range x {
			if prop, ok := s.Properties[k]; ok {
				errs = append(errs, validateLists(fldPath.Child(k), v, prop)...)
			} else if s.Additional {
				errs = append(errs, validateLists(fldPath.Key(k), v, s.AdditionalSchema)...)
			}
		}
	case []interface{}:
		switch s.ListType {
		case "set":
			for _, i := range duplicates(x) {
				errs = append(errs, field.Duplicate(fldPath.Index(i), x[i]))
			}
		case "map":
			errs = append(errs, validateListMap(fldPath, x, s.ListMapKeys)...)
		}
		for i, v := range x {
			errs = append(errs, validateLists(fldPath.Index(i), v, s.Items)...)
		}
	}
	return errs
}

// duplicates returns the index of the second occurrence of each value that
// occurs more than once.
func duplicates(items []interface{}) []int {
	seen := map[string]int{}
	var out []int
	for i, x := range items {
		b, _ := json.Marshal(x)
		seen[string(b)]++
		if seen[string(b)] == 2 {
			out = append(out, i)
		}
	}
	return out
}

type unspecifiedKey struct{}

func validateListMap(fldPath *field.Path, items []interface{}, keyFields []string) field.ErrorList {
	for i, x := range items {
		if _, ok := x.(map[string]interface{}); x != nil && !ok {
			return field.ErrorList{field.Invalid(fldPath.Index(i), x, "must be an object for an array of list-type map")}
		}
	}
	keys := make([]interface{}, len(items))
	for i, x := range items {
		m, _ := x.(map[string]interface{})
		if len(keyFields) == 1 {
			if v, ok := m[keyFields[0]]; ok {
				keys[i] = v
			} else {
				keys[i] = unspecifiedKey{}
			}
			continue
		}
		key := map[string]interface{}{}
		for _, f := range keyFields {
			if v, ok := m[f]; ok {
				key[f] = v
			}
		}
		keys[i] = key
	}
	var errs field.ErrorList
	for _, i := range duplicates(keys) {
		switch {
		case keys[i] == unspecifiedKey{}:
			errs = append(errs, field.Duplicate(fldPath.Index(i), map[string]interface{}{}))
		case len(keyFields) == 1:
			errs = append(errs, field.Duplicate(fldPath.Index(i), map[string]interface{}{keyFields[0]: keys[i]}))
		default:
			errs = append(errs, field.Duplicate(fldPath.Index(i), keys[i]))
		}
	}
	return errs
}

// validateEmbedded checks the apiVersion, kind and metadata of the
// x-kubernetes-embedded-resource objects below the root.
func validateEmbedded(fldPath *field.Path, x interface{}, s *Structural, root bool) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	switch x := x.(type) {
	case map[string]interface{}:
		if s.EmbeddedResource && !root {
			errs = append(errs, validateEmbeddedResource(fldPath, x)...)
		}
		for k, v := range x {
			if prop, ok := s.Properties[k]; ok {
				errs = append(errs, validateEmbedded(fldPath.Child(k), v, prop, false)...)
			} else if s.Additional {
				errs = append(errs, validateEmbedded(fldPath.Key(k), v, s.AdditionalSchema, false)...)
			}
		}
	case []interface{}:
		for i, v := range x {
			errs = append(errs, validateEmbedded(fldPath.Index(i), v, s.Items, false)...)
		}
	}
	return errs
}

func validateEmbeddedResource(fldPath *field.Path, x map[string]interface{}) field.ErrorList {
	var errs field.ErrorList
	if _, ok := x["apiVersion"]; !ok {
		errs = append(errs, field.Required(fldPath.Child("apiVersion"), ""))
	}
	if _, ok := x["kind"]; !ok {
		errs = append(errs, field.Required(fldPath.Child("kind"), ""))
	}
	if v, ok := x["apiVersion"]; ok {
		switch s, isString := v.(string); {
		case !isString:
			errs = append(errs, field.Invalid(fldPath.Child("apiVersion"), v, "must be a string"))
		case s == "":
			errs = append(errs, field.Invalid(fldPath.Child("apiVersion"), s, "must not be empty"))
		default:
			if _, err := schema.ParseGroupVersion(s); err != nil {
				errs = append(errs, field.Invalid(fldPath.Child("apiVersion"), s, err.Error()))
			}
		}
	}
	if v, ok := x["kind"]; ok {
		switch s, isString := v.(string); {
		case !isString:
			errs = append(errs, field.Invalid(fldPath.Child("kind"), v, "must be a string"))
		case s == "":
			errs = append(errs, field.Invalid(fldPath.Child("kind"), s, "must not be empty"))
		default:
			if msgs := utilvalidation.IsDNS1035Label(strings.ToLower(s)); len(msgs) > 0 {
				errs = append(errs, field.Invalid(fldPath.Child("kind"), s, "may have mixed case, but should otherwise match: "+strings.Join(msgs, ",")))
			}
		}
	}
	if v, ok := x["metadata"]; ok {
		var om metav1.ObjectMeta
		m, isMap := v.(map[string]interface{})
		if !isMap {
			errs = append(errs, field.Invalid(fldPath.Child("metadata"), v, "must be an object"))
		} else if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &om); err != nil {
			errs = append(errs, field.Invalid(fldPath.Child("metadata"), v, err.Error()))
		} else {
			if om.Name == "" {
				om.Name = "fakename" // a template need not be named
			}
			errs = append(errs, apivalidation.ValidateObjectMeta(&om, om.Namespace != "", path.ValidatePathSegmentName, fldPath.Child("metadata"))...)
		}
	}
	return errs
}
