package apiextensions

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The checks of a CRD's openAPIV3Schema, with upstream's paths and
// messages: structurality (every field has a type outside of anyOf/allOf/
// oneOf/not, which may only restrict values), the restrictions of
// metadata, defaults that validate and are pruned, and the OpenAPI subset
// Kubernetes supports.

type level int

const (
	rootLevel level = iota
	itemLevel
	fieldLevel
)

var openAPITypes = []string{"array", "boolean", "integer", "number", "object", "string"}

// allowedAtRoot are the fields of a root schema when the status subresource
// is on (so that the status schema can be cut out of it).
var allowedAtRoot = []string{"Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum", "Minimum",
	"ExclusiveMinimum", "MaxLength", "MinLength", "Pattern", "MaxItems", "MinItems", "UniqueItems", "MultipleOf",
	"Required", "Items", "Properties", "ExternalDocs", "Example", "XPreserveUnknownFields", "XValidations"}

// validateSchema checks the schema of a CRD version; fldPath is the
// schema's parent ("spec.validation" or "spec.versions[i].schema").
func validateSchema(p *apiextensionsv1.JSONSchemaProps, fldPath *field.Path, statusEnabled bool) field.ErrorList {
	if p == nil {
		return nil
	}
	schemaPath := fldPath.Child("openAPIV3Schema")
	var errs field.ErrorList
	if statusEnabled {
		v := reflect.ValueOf(p).Elem()
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).IsZero() {
				continue
			}
			name := v.Type().Field(i).Name
			if name == "Type" {
				if p.Type != "object" {
					errs = append(errs, field.Invalid(schemaPath.Child("type"), p.Type, `only "object" is allowed as the type at the root of the schema if the status subresource is enabled`))
					break
				}
				continue
			}
			if !contains(allowedAtRoot, name) {
				errs = append(errs, field.Invalid(schemaPath, json.RawMessage(goJSON(reflect.ValueOf(*p))), fmt.Sprintf("only %v fields are allowed at the root of the schema if the status subresource is enabled", allowedAtRoot)))
				break
			}
		}
	}
	if p.Nullable {
		errs = append(errs, field.Forbidden(schemaPath.Child("nullable"), "nullable cannot be true at the root"))
	}
	if structural := validateStructural(p, schemaPath); len(structural) > 0 {
		errs = append(errs, structural...)
	} else {
		errs = append(errs, validateDefaults(p, schemaPath, true, false)...)
	}
	errs = append(errs, validateOpenAPISchema(p, schemaPath, schemaRules{allowDefaults: true}, true)...)
	if len(errs) == 0 && p.Schema != "" {
		errs = append(errs, field.Invalid(schemaPath, "", "OpenAPIV3Schema 'schema' is not supported"))
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]apiextensionsv1.JSONSchemaProps) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validateStructural checks that p is a structural schema; the errors are
// sorted as upstream sorts them.
func validateStructural(p *apiextensionsv1.JSONSchemaProps, fldPath *field.Path) field.ErrorList {
	errs := structuralInvariants(p, rootLevel, fldPath)
	errs = append(errs, completeness(p, fldPath)...)
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

func structuralInvariants(p *apiextensionsv1.JSONSchemaProps, lvl level, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	var errs field.ErrorList
	var items *apiextensionsv1.JSONSchemaProps
	if p.Items != nil {
		items = p.Items.Schema
	}
	if p.Type == "array" && items == nil {
		errs = append(errs, field.Required(fldPath.Child("items"), "must be specified"))
	}
	errs = append(errs, structuralInvariants(items, itemLevel, fldPath.Child("items"))...)
	for _, k := range sortedKeys(p.Properties) {
		prop := p.Properties[k]
		errs = append(errs, structuralInvariants(&prop, fieldLevel, fldPath.Child("properties").Key(k))...)
	}
	if p.AdditionalProperties != nil {
		if lvl == rootLevel {
			errs = append(errs, field.Forbidden(fldPath.Child("additionalProperties"), "must not be used at the root"))
		}
		errs = append(errs, structuralInvariants(p.AdditionalProperties.Schema, fieldLevel, fldPath.Child("additionalProperties"))...)
	}
	preserve := p.XPreserveUnknownFields != nil && *p.XPreserveUnknownFields
	if p.XIntOrString && preserve {
		errs = append(errs, field.Invalid(fldPath.Child("x-kubernetes-preserve-unknown-fields"), preserve, "must be false if x-kubernetes-int-or-string is true"))
	}
	if p.XIntOrString && p.XEmbeddedResource {
		errs = append(errs, field.Invalid(fldPath.Child("x-kubernetes-embedded-resource"), p.XEmbeddedResource, "must be false if x-kubernetes-int-or-string is true"))
	}
	errs = append(errs, valueValidation(p, intOrStringAnyOf(p.AnyOf), len(p.AllOf) > 0 && intOrStringAnyOf(p.AllOf[0].AnyOf), fldPath)...)

	checkMetadata := lvl == rootLevel || p.XEmbeddedResource
	switch {
	case p.XEmbeddedResource && p.Type != "object":
		if p.Type == "" {
			errs = append(errs, field.Required(fldPath.Child("type"), "must be object if x-kubernetes-embedded-resource is true"))
		} else {
			errs = append(errs, field.Invalid(fldPath.Child("type"), p.Type, "must be object if x-kubernetes-embedded-resource is true"))
		}
	case p.Type == "" && !p.XIntOrString && !preserve:
		switch lvl {
		case rootLevel:
			errs = append(errs, field.Required(fldPath.Child("type"), "must not be empty at the root"))
		case itemLevel:
			errs = append(errs, field.Required(fldPath.Child("type"), "must not be empty for specified array items"))
		default:
			errs = append(errs, field.Required(fldPath.Child("type"), "must not be empty for specified object fields"))
		}
	}
	if p.XEmbeddedResource && p.AdditionalProperties != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("additionalProperties"), "must not be used if x-kubernetes-embedded-resource is set"))
	}
	if lvl == rootLevel && p.Type != "" && p.Type != "object" {
		errs = append(errs, field.Invalid(fldPath.Child("type"), p.Type, "must be object at the root"))
	}
	if checkMetadata {
		for _, k := range []string{"kind", "apiVersion"} {
			if prop, ok := p.Properties[k]; ok && prop.Type != "string" {
				errs = append(errs, field.Invalid(fldPath.Child("properties").Key(k).Child("type"), prop.Type, "must be string"))
			}
		}
	}
	if md, ok := p.Properties["metadata"]; ok {
		mdPath := fldPath.Child("properties").Key("metadata")
		if checkMetadata && md.Type != "object" {
			errs = append(errs, field.Invalid(mdPath.Child("type"), md.Type, "must be object"))
		}
		if lvl == rootLevel && !onlyNames(md) {
			errs = append(errs, field.Forbidden(mdPath, "must not specify anything other than name and generateName, but metadata is implicitly specified"))
		}
	}
	if p.XEmbeddedResource && !preserve && len(p.Properties) == 0 {
		errs = append(errs, field.Required(fldPath.Child("properties"), "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"))
	}
	return errs
}

// onlyNames says whether the root's metadata schema restricts nothing but
// name and generateName (its type and default are checked elsewhere).
func onlyNames(md apiextensionsv1.JSONSchemaProps) bool {
	_, name := md.Properties["name"]
	_, generateName := md.Properties["generateName"]
	if (name && generateName && len(md.Properties) == 2) || ((name || generateName) && len(md.Properties) == 1) {
		md.Properties = nil
	}
	md.Type, md.Default = "", nil
	return reflect.DeepEqual(md, apiextensionsv1.JSONSchemaProps{Properties: md.Properties}) && len(md.Properties) == 0
}

// intOrStringAnyOf tells the anyOf of an x-kubernetes-int-or-string field
// that upstream allows: [{type: integer}, {type: string}].
func intOrStringAnyOf(anyOf []apiextensionsv1.JSONSchemaProps) bool {
	return len(anyOf) == 2 && reflect.DeepEqual(anyOf[0], apiextensionsv1.JSONSchemaProps{Type: "integer"}) &&
		reflect.DeepEqual(anyOf[1], apiextensionsv1.JSONSchemaProps{Type: "string"})
}

// valueValidation checks the logical junctors of a schema, which may only
// restrict values.
func valueValidation(p *apiextensionsv1.JSONSchemaProps, skipAnyOf, skipFirstAllOfAnyOf bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !skipAnyOf {
		for i := range p.AnyOf {
			errs = append(errs, nestedValueValidation(&p.AnyOf[i], false, fldPath.Child("anyOf").Index(i))...)
		}
	}
	for i := range p.AllOf {
		errs = append(errs, nestedValueValidation(&p.AllOf[i], skipFirstAllOfAnyOf && i == 0, fldPath.Child("allOf").Index(i))...)
	}
	for i := range p.OneOf {
		errs = append(errs, nestedValueValidation(&p.OneOf[i], false, fldPath.Child("oneOf").Index(i))...)
	}
	errs = append(errs, nestedValueValidation(p.Not, false, fldPath.Child("not"))...)
	if p.Pattern != "" {
		if _, err := regexp.Compile(p.Pattern); err != nil {
			errs = append(errs, field.Invalid(fldPath.Child("pattern"), p.Pattern, fmt.Sprintf("must be a valid regular expression, but isn't: %v", err)))
		}
	}
	return errs
}

func nestedValueValidation(p *apiextensionsv1.JSONSchemaProps, skipAnyOf bool, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	errs := valueValidation(p, skipAnyOf, false, fldPath)
	if p.Items != nil {
		errs = append(errs, nestedValueValidation(p.Items.Schema, false, fldPath.Child("items"))...)
	}
	for _, k := range sortedKeys(p.Properties) {
		prop := p.Properties[k]
		errs = append(errs, nestedValueValidation(&prop, false, fldPath.Child("properties").Key(k))...)
	}
	if p.Type != "" {
		errs = append(errs, field.Forbidden(fldPath.Child("type"), "must be empty to be structural"))
	}
	if p.AdditionalProperties != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("additionalProperties"), "must be undefined to be structural"))
	}
	if p.Default != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("default"), "must be undefined to be structural"))
	}
	if p.Title != "" {
		errs = append(errs, field.Forbidden(fldPath.Child("title"), "must be empty to be structural"))
	}
	if p.Description != "" {
		errs = append(errs, field.Forbidden(fldPath.Child("description"), "must be empty to be structural"))
	}
	if p.Nullable {
		errs = append(errs, field.Forbidden(fldPath.Child("nullable"), "must be false to be structural"))
	}
	if p.XPreserveUnknownFields != nil && *p.XPreserveUnknownFields {
		errs = append(errs, field.Forbidden(fldPath.Child("x-kubernetes-preserve-unknown-fields"), "must be false to be structural"))
	}
	if p.XEmbeddedResource {
		errs = append(errs, field.Forbidden(fldPath.Child("x-kubernetes-embedded-resource"), "must be false to be structural"))
	}
	if p.XIntOrString {
		errs = append(errs, field.Forbidden(fldPath.Child("x-kubernetes-int-or-string"), "must be false to be structural"))
	}
	if len(p.XListMapKeys) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("x-kubernetes-list-map-keys"), "must be empty to be structural"))
	}
	if p.XListType != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("x-kubernetes-list-type"), "must be undefined to be structural"))
	}
	if p.XMapType != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("x-kubernetes-map-type"), "must be undefined to be structural"))
	}
	if len(p.XValidations) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("x-kubernetes-validations"), "must be empty to be structural"))
	}
	if _, ok := p.Properties["metadata"]; ok {
		errs = append(errs, field.Forbidden(fldPath.Child("properties").Key("metadata"), "must not be specified in a nested context"))
	}
	return errs
}

// completeness checks that every field the root's junctors speak of is
// also specified in the structural part of the schema.
func completeness(p *apiextensionsv1.JSONSchemaProps, fldPath *field.Path) field.ErrorList {
	return junctorCompleteness(p, p, fldPath, fldPath)
}

func junctorCompleteness(v, s *apiextensionsv1.JSONSchemaProps, sPath, vPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nestedCompleteness(v.Not, s, sPath, vPath.Child("not"))...)
	for i := range v.AllOf {
		errs = append(errs, nestedCompleteness(&v.AllOf[i], s, sPath, vPath.Child("allOf").Index(i))...)
	}
	for i := range v.AnyOf {
		errs = append(errs, nestedCompleteness(&v.AnyOf[i], s, sPath, vPath.Child("anyOf").Index(i))...)
	}
	for i := range v.OneOf {
		errs = append(errs, nestedCompleteness(&v.OneOf[i], s, sPath, vPath.Child("oneOf").Index(i))...)
	}
	return errs
}

func nestedCompleteness(v, s *apiextensionsv1.JSONSchemaProps, sPath, vPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if s == nil {
		return field.ErrorList{field.Required(sPath, fmt.Sprintf("because it is defined in %s", vPath.String()))}
	}
	errs := junctorCompleteness(v, s, sPath, vPath)
	if v.Items != nil && v.Items.Schema != nil {
		var sItems *apiextensionsv1.JSONSchemaProps
		if s.Items != nil {
			sItems = s.Items.Schema
		}
		errs = append(errs, nestedCompleteness(v.Items.Schema, sItems, sPath.Child("items"), vPath.Child("items"))...)
	}
	for _, k := range sortedKeys(v.Properties) {
		vp := v.Properties[k]
		sp, ok := s.Properties[k]
		if !ok {
			errs = append(errs, field.Required(sPath.Child("properties").Key(k), fmt.Sprintf("because it is defined in %s", vPath.Child("properties").Key(k))))
			continue
		}
		errs = append(errs, nestedCompleteness(&vp, &sp, sPath.Child("properties").Key(k), vPath.Child("properties").Key(k))...)
	}
	return errs
}

// validateDefaults checks every default of a structural schema: it must
// validate against its schema and carry no field the schema would prune.
func validateDefaults(p *apiextensionsv1.JSONSchemaProps, fldPath *field.Path, root, insideMeta bool) field.ErrorList {
	if p == nil {
		return nil
	}
	var errs field.ErrorList
	embedded := p.XEmbeddedResource || root
	if p.XEmbeddedResource {
		insideMeta = false
	}
	if p.Default != nil && len(p.Default.Raw) > 0 {
		def := rawValue(p.Default)
		s, err := NewStructural(p)
		if err == nil && !insideMeta {
			pruned := runtime.DeepCopyJSONValue(def)
			var unknown []string
			node := *s
			node.EmbeddedResource = p.XEmbeddedResource
			prune(pruned, &node, "", &unknown)
			if !reflect.DeepEqual(pruned, def) {
				errs = append(errs, field.Invalid(fldPath.Child("default"), def, "must not have unknown fields"))
			}
		}
		errs = append(errs, validateValue(fldPath.Child("default"), def, newValidator(OpenAPI(p)))...)
	}
	if p.Items != nil {
		errs = append(errs, validateDefaults(p.Items.Schema, fldPath.Child("items"), false, insideMeta)...)
	}
	for _, k := range sortedKeys(p.Properties) {
		prop := p.Properties[k]
		errs = append(errs, validateDefaults(&prop, fldPath.Child("properties").Key(k), false, insideMeta || (embedded && metaFields[k]))...)
	}
	return errs
}

// schemaRules are what the OpenAPI checks know of the place of a schema.
type schemaRules struct {
	allowDefaults  bool
	defaultsReason string // why defaults are not allowed
	insideMeta     bool   // in the apiVersion, kind or metadata of a resource
}

func (r schemaRules) forbidDefaults(reason string) schemaRules {
	r.allowDefaults, r.defaultsReason = false, reason
	return r
}

// validateOpenAPISchema checks that a schema uses only the OpenAPI subset
// Kubernetes supports.
func validateOpenAPISchema(p *apiextensionsv1.JSONSchemaProps, fldPath *field.Path, r schemaRules, root bool) field.ErrorList {
	if p == nil {
		return nil
	}
	errs := supportedSubset(p, fldPath, r)
	if p.UniqueItems {
		errs = append(errs, field.Forbidden(fldPath.Child("uniqueItems"), "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
	}
	if p.AdditionalProperties != nil {
		if len(p.Properties) != 0 && (!p.AdditionalProperties.Allows || p.AdditionalProperties.Schema != nil) {
			errs = append(errs, field.Forbidden(fldPath.Child("additionalProperties"), "additionalProperties and properties are mutual exclusive"))
		}
		sub := r
		if r.insideMeta {
			sub = r.forbidDefaults("inside additionalProperties applying to object metadata")
		}
		errs = append(errs, validateOpenAPISchema(p.AdditionalProperties.Schema, fldPath.Child("additionalProperties"), sub, false)...)
	}
	for _, k := range sortedKeys(p.Properties) {
		prop := p.Properties[k]
		sub := r
		if (root || p.XEmbeddedResource) && metaFields[k] {
			sub.insideMeta = true
			if root {
				sub = sub.forbidDefaults("in top-level " + k)
			}
		}
		errs = append(errs, validateOpenAPISchema(&prop, fldPath.Child("properties").Key(k), sub, false)...)
	}
	errs = append(errs, validateOpenAPISchema(p.Not, fldPath.Child("not"), r, false)...)
	for _, list := range []struct {
		name    string
		schemas []apiextensionsv1.JSONSchemaProps
	}{{"allOf", p.AllOf}, {"oneOf", p.OneOf}, {"anyOf", p.AnyOf}} {
		for i := range list.schemas {
			errs = append(errs, validateOpenAPISchema(&list.schemas[i], fldPath.Child(list.name).Index(i), r, false)...)
		}
	}
	for _, k := range sortedKeys(p.Definitions) {
		def := p.Definitions[k]
		errs = append(errs, validateOpenAPISchema(&def, fldPath.Child("definitions").Key(k), r, false)...)
	}
	if p.Items != nil {
		errs = append(errs, validateOpenAPISchema(p.Items.Schema, fldPath.Child("items"), r, false)...)
		for i := range p.Items.JSONSchemas {
			errs = append(errs, validateOpenAPISchema(&p.Items.JSONSchemas[i], fldPath.Child("items").Index(i), r, false)...)
		}
	}
	for k, dep := range p.Dependencies {
		errs = append(errs, validateOpenAPISchema(dep.Schema, fldPath.Child("dependencies").Key(k), r, false)...)
	}
	if p.XPreserveUnknownFields != nil && !*p.XPreserveUnknownFields {
		errs = append(errs, field.Invalid(fldPath.Child("x-kubernetes-preserve-unknown-fields"), *p.XPreserveUnknownFields, "must be true or undefined"))
	}
	if p.XMapType != nil && p.Type != "object" {
		if p.Type == "" {
			errs = append(errs, field.Required(fldPath.Child("type"), "must be object if x-kubernetes-map-type is specified"))
		} else {
			errs = append(errs, field.Invalid(fldPath.Child("type"), p.Type, "must be object if x-kubernetes-map-type is specified"))
		}
	}
	if p.XMapType != nil && *p.XMapType != "atomic" && *p.XMapType != "granular" {
		errs = append(errs, field.NotSupported(fldPath.Child("x-kubernetes-map-type"), *p.XMapType, []string{"atomic", "granular"}))
	}
	errs = append(errs, listTypeRules(p, fldPath)...)
	for i, rule := range p.XValidations {
		rp := fldPath.Child("x-kubernetes-validations").Index(i)
		if strings.TrimSpace(rule.Rule) == "" {
			errs = append(errs, field.Required(rp.Child("rule"), "rule is not specified"))
		}
		if rule.Message != "" && strings.TrimSpace(rule.Message) == "" {
			errs = append(errs, field.Invalid(rp.Child("message"), rule.Message, "must be non-empty if specified"))
		}
		if strings.ContainsAny(rule.Message, "\n\r") {
			errs = append(errs, field.Invalid(rp.Child("message"), rule.Message, "must not contain line breaks"))
		}
		if rule.Message == "" && strings.ContainsAny(rule.Rule, "\n\r") {
			errs = append(errs, field.Required(rp.Child("message"), "message must be specified if rule contains line breaks"))
		}
		if rule.Reason != nil && !contains([]string{"FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"}, string(*rule.Reason)) {
			errs = append(errs, field.NotSupported(rp.Child("reason"), string(*rule.Reason), []string{"FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"}))
		}
	}
	return errs
}

// supportedSubset rejects the parts of OpenAPI Kubernetes does not support.
func supportedSubset(p *apiextensionsv1.JSONSchemaProps, fldPath *field.Path, r schemaRules) field.ErrorList {
	var errs field.ErrorList
	if p.Type != "" && !contains(openAPITypes, p.Type) {
		errs = append(errs, field.NotSupported(fldPath.Child("type"), p.Type, openAPITypes))
	}
	if p.Default != nil && !r.allowDefaults {
		detail := "must not be set"
		if r.defaultsReason != "" {
			detail += " " + r.defaultsReason
		}
		errs = append(errs, field.Forbidden(fldPath.Child("default"), detail))
	}
	if p.ID != "" {
		errs = append(errs, field.Forbidden(fldPath.Child("id"), "id is not supported"))
	}
	if p.AdditionalItems != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("additionalItems"), "additionalItems is not supported"))
	}
	if len(p.PatternProperties) != 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("patternProperties"), "patternProperties is not supported"))
	}
	if len(p.Definitions) != 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("definitions"), "definitions is not supported"))
	}
	if p.Dependencies != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("dependencies"), "dependencies is not supported"))
	}
	if p.Ref != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("$ref"), "$ref is not supported"))
	}
	if p.Type == "null" {
		errs = append(errs, field.Forbidden(fldPath.Child("type"), "type cannot be set to null, use nullable as an alternative"))
	}
	if p.Items != nil && len(p.Items.JSONSchemas) != 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("items"), "items must be a schema object and not an array"))
	}
	if r.insideMeta && p.XEmbeddedResource {
		errs = append(errs, field.Forbidden(fldPath.Child("x-kubernetes-embedded-resource"), "must not be used inside of resource meta"))
	}
	return errs
}

// listTypeRules checks x-kubernetes-list-type and x-kubernetes-list-map-keys.
func listTypeRules(p *apiextensionsv1.JSONSchemaProps, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	var items *apiextensionsv1.JSONSchemaProps
	if p.Items != nil {
		items = p.Items.Schema
	}
	lt := ""
	if p.XListType != nil {
		lt = *p.XListType
	}
	switch {
	case p.XListType != nil && p.Type != "array":
		if p.Type == "" {
			errs = append(errs, field.Required(fldPath.Child("type"), "must be array if x-kubernetes-list-type is specified"))
		} else {
			errs = append(errs, field.Invalid(fldPath.Child("type"), p.Type, "must be array if x-kubernetes-list-type is specified"))
		}
	case lt == "set" && items != nil:
		switch items.Type {
		case "array":
			if items.XListType != nil && *items.XListType != "atomic" {
				errs = append(errs, field.Invalid(fldPath.Child("items").Child("x-kubernetes-list-type"), items.XListType, "must be atomic as item of a list with x-kubernetes-list-type=set"))
			}
		case "object":
			if items.XMapType == nil || *items.XMapType != "atomic" {
				errs = append(errs, field.Invalid(fldPath.Child("items").Child("x-kubernetes-map-type"), items.XListType, "must be atomic as item of a list with x-kubernetes-list-type=set"))
			}
		}
	}
	if p.XListType != nil && lt != "atomic" && lt != "set" && lt != "map" {
		errs = append(errs, field.NotSupported(fldPath.Child("x-kubernetes-list-type"), lt, []string{"atomic", "set", "map"}))
	}
	if len(p.XListMapKeys) > 0 {
		if p.XListType == nil {
			errs = append(errs, field.Required(fldPath.Child("x-kubernetes-list-type"), "must be map if x-kubernetes-list-map-keys is non-empty"))
		} else if lt != "map" {
			errs = append(errs, field.Invalid(fldPath.Child("x-kubernetes-list-type"), lt, "must be map if x-kubernetes-list-map-keys is non-empty"))
		}
	}
	if lt == "map" {
		if len(p.XListMapKeys) == 0 {
			errs = append(errs, field.Required(fldPath.Child("x-kubernetes-list-map-keys"), "must not be empty if x-kubernetes-list-type is map"))
		}
		switch {
		case p.Items == nil:
			errs = append(errs, field.Required(fldPath.Child("items"), "must have a schema if x-kubernetes-list-type is map"))
		case items == nil:
			errs = append(errs, field.Invalid(fldPath.Child("items"), json.RawMessage(goJSON(reflect.ValueOf(p.Items))), "must only have a single schema if x-kubernetes-list-type is map"))
		case items.Type != "object":
			errs = append(errs, field.Invalid(fldPath.Child("items").Child("type"), items.Type, "must be object if parent array's x-kubernetes-list-type is map"))
		default:
			seen := map[string]bool{}
			for _, k := range p.XListMapKeys {
				if s, ok := items.Properties[k]; ok {
					if s.Type == "array" || s.Type == "object" {
						errs = append(errs, field.Invalid(fldPath.Child("items").Child("properties").Key(k).Child("type"), items.Type, "must be a scalar type if parent array's x-kubernetes-list-type is map"))
					}
				} else {
					errs = append(errs, field.Invalid(fldPath.Child("x-kubernetes-list-map-keys"), p.XListMapKeys, "entries must all be names of item properties"))
				}
				if seen[k] {
					errs = append(errs, field.Invalid(fldPath.Child("x-kubernetes-list-map-keys"), p.XListMapKeys, "must not contain duplicate entries"))
				}
				seen[k] = true
			}
		}
	}
	if items != nil && (lt == "set" || lt == "map") {
		if items.Nullable {
			errs = append(errs, field.Forbidden(fldPath.Child("items").Child("nullable"), "cannot be nullable when x-kubernetes-list-type is "+lt))
		}
		if lt == "map" {
			for _, k := range p.XListMapKeys {
				prop, ok := items.Properties[k]
				if !ok {
					continue
				}
				if !contains(items.Required, k) && prop.Default == nil {
					errs = append(errs, field.Required(fldPath.Child("items").Child("properties").Key(k).Child("default"), "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"))
				}
				if prop.Nullable {
					errs = append(errs, field.Forbidden(fldPath.Child("items").Child("properties").Key(k).Child("nullable"), "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"))
				}
			}
		}
	}
	return errs
}
