package apiextensions

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Upstream validates a v1 CRD in its internal form, where a schema,
// subresources or printer columns that every version shares are moved to
// spec.validation, spec.subresources and spec.additionalPrinterColumns:
// their errors carry those paths (and the internal field name JSONPath).
// sharedSpec is that view of a v1 spec.
type sharedSpec struct {
	validation   *apiextensionsv1.CustomResourceValidation // when shared
	subresources *apiextensionsv1.CustomResourceSubresources
	columns      []apiextensionsv1.CustomResourceColumnDefinition
	selectable   []apiextensionsv1.SelectableField

	validationShared, subresourcesShared, columnsShared, selectableShared bool
}

func shared(spec *apiextensionsv1.CustomResourceDefinitionSpec) sharedSpec {
	var s sharedSpec
	if len(spec.Versions) == 0 {
		return s
	}
	first := spec.Versions[0]
	s.validationShared, s.subresourcesShared, s.columnsShared, s.selectableShared = true, true, true, true
	for _, v := range spec.Versions {
		s.validationShared = s.validationShared && apiequality.Semantic.DeepEqual(v.Schema, first.Schema)
		s.subresourcesShared = s.subresourcesShared && apiequality.Semantic.DeepEqual(v.Subresources, first.Subresources)
		s.columnsShared = s.columnsShared && apiequality.Semantic.DeepEqual(v.AdditionalPrinterColumns, first.AdditionalPrinterColumns)
		s.selectableShared = s.selectableShared && apiequality.Semantic.DeepEqual(v.SelectableFields, first.SelectableFields)
	}
	if s.validationShared {
		s.validation = first.Schema
	}
	if s.subresourcesShared {
		s.subresources = first.Subresources
	}
	if s.columnsShared {
		s.columns = first.AdditionalPrinterColumns
	}
	if s.selectableShared {
		s.selectable = first.SelectableFields
	}
	return s
}

func statusEnabled(sub *apiextensionsv1.CustomResourceSubresources) bool {
	return sub != nil && sub.Status != nil
}

// validateCRD checks a CRD, on create and on every update.
func validateCRD(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	var errs field.ErrorList
	if crd.Name != crd.Spec.Names.Plural+"."+crd.Spec.Group {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), crd.Name, `must be spec.names.plural+"."+spec.group`))
	}
	errs = append(errs, validateSpec(&crd.Spec, field.NewPath("spec"))...)
	errs = append(errs, validateNames(&crd.Status.AcceptedNames, field.NewPath("status", "acceptedNames"))...)
	errs = append(errs, validateStoredVersions(crd.Status.StoredVersions, crd.Spec.Versions, field.NewPath("status", "storedVersions"))...)
	errs = append(errs, validateAPIApproval(crd)...)
	if crd.Spec.PreserveUnknownFields {
		errs = append(errs, field.Invalid(field.NewPath("spec", "preserveUnknownFields"), true, "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
	}
	return errs
}

// validateCRDUpdate checks what an update may not change: the group and
// plural (they name the CRD), and once established the scope and kind
// (they shape the stored objects).
func validateCRDUpdate(crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	if isConditionTrue(old, apiextensionsv1.Established) {
		errs = append(errs, apivalidation.ValidateImmutableField(crd.Spec.Scope, old.Spec.Scope, specPath.Child("scope"))...)
		errs = append(errs, apivalidation.ValidateImmutableField(crd.Spec.Names.Kind, old.Spec.Names.Kind, specPath.Child("names", "kind"))...)
	}
	errs = append(errs, apivalidation.ValidateImmutableField(crd.Spec.Group, old.Spec.Group, specPath.Child("group"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(crd.Spec.Names.Plural, old.Spec.Names.Plural, specPath.Child("names", "plural"))...)
	return errs
}

func validateSpec(spec *apiextensionsv1.CustomResourceDefinitionSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case spec.Group == "":
		errs = append(errs, field.Required(fldPath.Child("group"), ""))
	case len(utilvalidation.IsDNS1123Subdomain(spec.Group)) > 0:
		errs = append(errs, field.Invalid(fldPath.Child("group"), spec.Group, strings.Join(utilvalidation.IsDNS1123Subdomain(spec.Group), ",")))
	case len(strings.Split(spec.Group, ".")) < 2:
		errs = append(errs, field.Invalid(fldPath.Child("group"), spec.Group, "should be a domain with at least one dot"))
	}
	switch spec.Scope {
	case "":
		errs = append(errs, field.Required(fldPath.Child("scope"), ""))
	case apiextensionsv1.ClusterScoped, apiextensionsv1.NamespaceScoped:
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("scope"), spec.Scope, []string{"Cluster", "Namespaced"}))
	}

	sh := shared(spec)
	if sh.validation == nil || sh.validation.OpenAPIV3Schema == nil {
		for i, v := range spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				errs = append(errs, field.Required(fldPath.Child("versions").Index(i).Child("schema").Child("openAPIV3Schema"), ""))
			}
		}
	}
	storage := 0
	names := map[string]bool{}
	unique := true
	anyStatus := false
	for i, v := range spec.Versions {
		vPath := fldPath.Child("versions").Index(i)
		if v.Storage {
			storage++
		}
		if names[v.Name] {
			unique = false
		}
		names[v.Name] = true
		if msgs := utilvalidation.IsDNS1035Label(v.Name); len(msgs) > 0 {
			errs = append(errs, field.Invalid(vPath.Child("name"), v.Name, strings.Join(msgs, ",")))
		}
		sub := v.Subresources
		if sh.subresourcesShared {
			sub = sh.subresources
		}
		anyStatus = anyStatus || statusEnabled(sub)
		for _, msg := range deprecationWarningErrors(v.Deprecated, v.DeprecationWarning) {
			errs = append(errs, field.Invalid(vPath.Child("deprecationWarning"), v.DeprecationWarning, msg))
		}
		if !sh.validationShared && v.Schema != nil {
			errs = append(errs, validateSchema(v.Schema.OpenAPIV3Schema, vPath.Child("schema"), statusEnabled(sub))...)
		}
		if !sh.subresourcesShared {
			errs = append(errs, validateSubresources(v.Subresources, vPath.Child("subresources"))...)
		}
		if !sh.columnsShared {
			for j := range v.AdditionalPrinterColumns {
				errs = append(errs, validateColumn(&v.AdditionalPrinterColumns[j], vPath.Child("additionalPrinterColumns").Index(j))...)
			}
		}
		if !sh.selectableShared && len(v.SelectableFields) > 0 {
			var schema *apiextensionsv1.JSONSchemaProps
			if v.Schema != nil {
				schema = v.Schema.OpenAPIV3Schema
			}
			errs = append(errs, validateSelectableFields(v.SelectableFields, schema, vPath.Child("selectableFields"))...)
		}
	}
	if !unique {
		errs = append(errs, field.Invalid(fldPath.Child("versions"), internalVersions(spec), "must contain unique version names"))
	}
	if storage != 1 {
		errs = append(errs, field.Invalid(fldPath.Child("versions"), internalVersions(spec), "must have exactly one version marked as storage version"))
	}
	for _, n := range []struct{ name, value string }{
		{"plural", spec.Names.Plural}, {"singular", spec.Names.Singular}, {"kind", spec.Names.Kind}, {"listKind", spec.Names.ListKind},
	} {
		if n.value == "" {
			errs = append(errs, field.Required(fldPath.Child("names", n.name), ""))
		}
	}
	errs = append(errs, validateNames(&spec.Names, fldPath.Child("names"))...)
	if sh.validationShared && sh.validation != nil {
		errs = append(errs, validateSchema(sh.validation.OpenAPIV3Schema, fldPath.Child("validation"), anyStatus)...)
	}
	if sh.subresourcesShared {
		errs = append(errs, validateSubresources(sh.subresources, fldPath.Child("subresources"))...)
	}
	if sh.columnsShared {
		for i := range sh.columns {
			errs = append(errs, validateColumn(&sh.columns[i], fldPath.Child("additionalPrinterColumns").Index(i))...)
		}
	}
	if sh.selectableShared && len(sh.selectable) > 0 {
		var schema *apiextensionsv1.JSONSchemaProps
		if sh.validation != nil {
			schema = sh.validation.OpenAPIV3Schema
		}
		errs = append(errs, validateSelectableFields(sh.selectable, schema, fldPath.Child("selectableFields"))...)
	}
	errs = append(errs, validateConversion(spec.Conversion, fldPath.Child("conversion"))...)
	return errs
}

func deprecationWarningErrors(deprecated bool, warning *string) []string {
	if !deprecated && warning != nil {
		return []string{"can only be set for deprecated versions"}
	}
	if warning == nil {
		return nil
	}
	var out []string
	if len(*warning) > 256 {
		out = append(out, "must be <= 256 characters long")
	}
	if len(*warning) == 0 {
		out = append(out, "must not be an empty string")
	}
	for i, r := range *warning {
		if !unicode.IsPrint(r) {
			out = append(out, fmt.Sprintf("must only contain printable UTF-8 characters; non-printable character found at index %d", i))
			break
		}
		if unicode.IsControl(r) {
			out = append(out, fmt.Sprintf("must only contain printable UTF-8 characters; control character found at index %d", i))
			break
		}
	}
	if !utf8.ValidString(*warning) {
		out = append(out, "must only contain printable UTF-8 characters")
	}
	return out
}

func validateNames(names *apiextensionsv1.CustomResourceDefinitionNames, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if msgs := utilvalidation.IsDNS1035Label(names.Plural); names.Plural != "" && len(msgs) > 0 {
		errs = append(errs, field.Invalid(fldPath.Child("plural"), names.Plural, strings.Join(msgs, ",")))
	}
	if msgs := utilvalidation.IsDNS1035Label(names.Singular); names.Singular != "" && len(msgs) > 0 {
		errs = append(errs, field.Invalid(fldPath.Child("singular"), names.Singular, strings.Join(msgs, ",")))
	}
	if msgs := utilvalidation.IsDNS1035Label(strings.ToLower(names.Kind)); names.Kind != "" && len(msgs) > 0 {
		errs = append(errs, field.Invalid(fldPath.Child("kind"), names.Kind, "may have mixed case, but should otherwise match: "+strings.Join(msgs, ",")))
	}
	if msgs := utilvalidation.IsDNS1035Label(strings.ToLower(names.ListKind)); names.ListKind != "" && len(msgs) > 0 {
		errs = append(errs, field.Invalid(fldPath.Child("listKind"), names.ListKind, "may have mixed case, but should otherwise match: "+strings.Join(msgs, ",")))
	}
	for i, s := range names.ShortNames {
		if msgs := utilvalidation.IsDNS1035Label(s); len(msgs) > 0 {
			errs = append(errs, field.Invalid(fldPath.Child("shortNames").Index(i), s, strings.Join(msgs, ",")))
		}
	}
	if names.Kind != "" && names.Kind == names.ListKind {
		errs = append(errs, field.Invalid(fldPath.Child("listKind"), names.ListKind, "kind and listKind may not be the same"))
	}
	for i, c := range names.Categories {
		if msgs := utilvalidation.IsDNS1035Label(c); len(msgs) > 0 {
			errs = append(errs, field.Invalid(fldPath.Child("categories").Index(i), c, strings.Join(msgs, ",")))
		}
	}
	return errs
}

func validateStoredVersions(stored []string, versions []apiextensionsv1.CustomResourceDefinitionVersion, fldPath *field.Path) field.ErrorList {
	if len(stored) == 0 {
		return field.ErrorList{field.Invalid(fldPath, stored, "must have at least one stored version")}
	}
	var errs field.ErrorList
	left := map[string]int{}
	for i, v := range stored {
		left[v] = i
	}
	for _, v := range versions {
		_, ok := left[v.Name]
		if v.Storage && !ok {
			errs = append(errs, field.Invalid(fldPath, stored, "must have the storage version "+v.Name))
		}
		delete(left, v.Name)
	}
	missing := make([]string, 0, len(left))
	for v := range left {
		missing = append(missing, v)
	}
	sort.Strings(missing)
	for _, v := range missing {
		errs = append(errs, field.Invalid(fldPath.Index(left[v]), v, fmt.Sprintf("missing from spec.versions; %[1]s was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in %[1]s and removes %[1]s from status.storedVersions", v)))
	}
	return errs
}

var (
	columnTypes   = []string{"boolean", "date", "integer", "number", "string"}
	columnFormats = []string{"byte", "date", "date-time", "double", "float", "int32", "int64", "password"}
)

func validateColumn(col *apiextensionsv1.CustomResourceColumnDefinition, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if col.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	}
	switch {
	case col.Type == "":
		errs = append(errs, field.Required(fldPath.Child("type"), "must be one of "+strings.Join(columnTypes, ",")))
	case !contains(columnTypes, col.Type):
		errs = append(errs, field.Invalid(fldPath.Child("type"), col.Type, "must be one of "+strings.Join(columnTypes, ",")))
	}
	if col.Format != "" && !contains(columnFormats, col.Format) {
		errs = append(errs, field.Invalid(fldPath.Child("format"), col.Format, "must be one of "+strings.Join(columnFormats, ",")))
	}
	if col.JSONPath == "" {
		errs = append(errs, field.Required(fldPath.Child("JSONPath"), ""))
	} else {
		errs = append(errs, validateSimpleJSONPath(col.JSONPath, fldPath.Child("JSONPath"))...)
	}
	return errs
}

func validateSimpleJSONPath(s string, fldPath *field.Path) field.ErrorList {
	switch {
	case s == "":
		return field.ErrorList{field.Invalid(fldPath, s, "must not be empty")}
	case s[0] != '.':
		return field.ErrorList{field.Invalid(fldPath, s, "must be a simple json path starting with .")}
	}
	return nil
}

func validateSubresources(sub *apiextensionsv1.CustomResourceSubresources, fldPath *field.Path) field.ErrorList {
	if sub == nil || sub.Scale == nil {
		return nil
	}
	var errs field.ErrorList
	sc := sub.Scale
	if sc.SpecReplicasPath == "" {
		errs = append(errs, field.Required(fldPath.Child("scale.specReplicasPath"), ""))
	} else if e := validateSimpleJSONPath(sc.SpecReplicasPath, fldPath.Child("scale.specReplicasPath")); len(e) > 0 {
		errs = append(errs, e...)
	} else if !strings.HasPrefix(sc.SpecReplicasPath, ".spec.") {
		errs = append(errs, field.Invalid(fldPath.Child("scale.specReplicasPath"), sc.SpecReplicasPath, "should be a json path under .spec"))
	}
	if sc.StatusReplicasPath == "" {
		errs = append(errs, field.Required(fldPath.Child("scale.statusReplicasPath"), ""))
	} else if e := validateSimpleJSONPath(sc.StatusReplicasPath, fldPath.Child("scale.statusReplicasPath")); len(e) > 0 {
		errs = append(errs, e...)
	} else if !strings.HasPrefix(sc.StatusReplicasPath, ".status.") {
		errs = append(errs, field.Invalid(fldPath.Child("scale.statusReplicasPath"), sc.StatusReplicasPath, "should be a json path under .status"))
	}
	if p := sc.LabelSelectorPath; p != nil && *p != "" {
		if e := validateSimpleJSONPath(*p, fldPath.Child("scale.labelSelectorPath")); len(e) > 0 {
			errs = append(errs, e...)
		} else if !strings.HasPrefix(*p, ".spec.") && !strings.HasPrefix(*p, ".status.") {
			errs = append(errs, field.Invalid(fldPath.Child("scale.labelSelectorPath"), p, "should be a json path under either .spec or .status"))
		}
	}
	return errs
}

// maxSelectableFields is how many selectable fields a version may have.
const maxSelectableFields = 8

func validateSelectableFields(fields []apiextensionsv1.SelectableField, schema *apiextensionsv1.JSONSchemaProps, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if schema == nil {
		return field.ErrorList{field.Invalid(fldPath, "", "may only be set when `version.schema.openAPIV3Schema` is not included")}
	}
	seen := map[string]bool{}
	for i, f := range fields {
		p := fldPath.Index(i).Child("jsonPath")
		if f.JSONPath == "" {
			errs = append(errs, field.Required(p, ""))
			continue
		}
		node, err := schemaAt(schema, f.JSONPath)
		if err != nil {
			errs = append(errs, field.Invalid(p, f.JSONPath, fmt.Sprintf("is an invalid path: %v", err)))
			continue
		}
		if strings.HasPrefix(f.JSONPath, ".metadata") {
			errs = append(errs, field.Invalid(p, f.JSONPath, "must not point to fields in metadata"))
		}
		if node.Type != "string" && node.Type != "boolean" && node.Type != "integer" {
			errs = append(errs, field.Invalid(p, f.JSONPath, "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed."))
		}
		if seen[f.JSONPath] {
			errs = append(errs, field.Duplicate(p, f.JSONPath))
		}
		seen[f.JSONPath] = true
	}
	if len(seen) > maxSelectableFields {
		errs = append(errs, field.TooMany(fldPath, len(seen), maxSelectableFields))
	}
	return errs
}

// schemaAt follows a simple JSON path (".spec.color") through a schema.
func schemaAt(s *apiextensionsv1.JSONSchemaProps, jsonPath string) (*apiextensionsv1.JSONSchemaProps, error) {
	if !strings.HasPrefix(jsonPath, ".") {
		return nil, fmt.Errorf("must be a simple json path starting with .")
	}
	for _, part := range strings.Split(strings.TrimPrefix(jsonPath, "."), ".") {
		prop, ok := s.Properties[part]
		if !ok {
			return nil, fmt.Errorf("does not refer to a declared field")
		}
		s = &prop
	}
	return s, nil
}

var conversionStrategies = []string{"None", "Webhook"}

func validateConversion(c *apiextensionsv1.CustomResourceConversion, fldPath *field.Path) field.ErrorList {
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	switch c.Strategy {
	case "":
		errs = append(errs, field.Required(fldPath.Child("strategy"), ""))
	case apiextensionsv1.NoneConverter, apiextensionsv1.WebhookConverter:
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("strategy"), c.Strategy, conversionStrategies))
	}
	if c.Strategy == apiextensionsv1.WebhookConverter {
		if c.Webhook == nil || c.Webhook.ClientConfig == nil {
			errs = append(errs, field.Required(fldPath.Child("webhookClientConfig"), "required when strategy is set to Webhook"))
		} else if cc := c.Webhook.ClientConfig; (cc.URL == nil) == (cc.Service == nil) {
			errs = append(errs, field.Required(fldPath.Child("webhookClientConfig"), "exactly one of url or service is required"))
		}
		var versions []string
		if c.Webhook != nil {
			versions = c.Webhook.ConversionReviewVersions
		}
		errs = append(errs, validateReviewVersions(versions, fldPath.Child("conversionReviewVersions"))...)
		return errs
	}
	if c.Webhook != nil && c.Webhook.ClientConfig != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("webhookClientConfig"), "should not be set when strategy is not set to Webhook"))
	}
	if c.Webhook != nil && len(c.Webhook.ConversionReviewVersions) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("conversionReviewVersions"), "should not be set when strategy is not set to Webhook"))
	}
	return errs
}

func validateReviewVersions(versions []string, fldPath *field.Path) field.ErrorList {
	if len(versions) == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	accepted := false
	for i, v := range versions {
		if seen[v] {
			errs = append(errs, field.Invalid(fldPath.Index(i), v, "duplicate version"))
			continue
		}
		seen[v] = true
		for _, msg := range utilvalidation.IsDNS1035Label(v) {
			errs = append(errs, field.Invalid(fldPath.Index(i), v, msg))
		}
		accepted = accepted || v == "v1" || v == "v1beta1"
	}
	if !accepted {
		errs = append(errs, field.Invalid(fldPath, versions, "must include at least one of v1, v1beta1"))
	}
	return errs
}

// The API approval annotation protected groups need.
const apiApprovedAnnotation = "api-approved.kubernetes.io"

func protectedGroup(group string) bool {
	return group == "k8s.io" || strings.HasSuffix(group, ".k8s.io") || group == "kubernetes.io" || strings.HasSuffix(group, ".kubernetes.io")
}

type approval int

const (
	approvalMissing approval = iota
	approvalBypassed
	approvalApproved
	approvalInvalid
)

func approvalState(annotations map[string]string) (approval, string) {
	a := annotations[apiApprovedAnnotation]
	u, err := url.ParseRequestURI(a)
	switch {
	case a == "":
		return approvalMissing, fmt.Sprintf("protected groups must have approval annotation %q, see https://github.com/kubernetes/enhancements/pull/1111", apiApprovedAnnotation)
	case strings.HasPrefix(a, "unapproved"):
		return approvalBypassed, fmt.Sprintf("not approved: %q", a)
	case err == nil && u.Host != "" && u.Scheme != "":
		return approvalApproved, "approved in " + a
	default:
		return approvalInvalid, fmt.Sprintf("protected groups must have approval annotation %q with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111", apiApprovedAnnotation)
	}
}

func validateAPIApproval(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	if !protectedGroup(crd.Spec.Group) {
		return nil
	}
	state, reason := approvalState(crd.Annotations)
	p := field.NewPath("metadata", "annotations").Key(apiApprovedAnnotation)
	switch state {
	case approvalMissing:
		return field.ErrorList{field.Required(p, reason)}
	case approvalInvalid:
		return field.ErrorList{field.Invalid(p, crd.Annotations[apiApprovedAnnotation], reason)}
	}
	return nil
}

// internalVersions renders spec.versions as upstream's errors print them:
// the internal form (Go field names; what every version shares moved out).
func internalVersions(spec *apiextensionsv1.CustomResourceDefinitionSpec) json.RawMessage {
	sh := shared(spec)
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range spec.Versions {
		if i > 0 {
			b.WriteByte(',')
		}
		var schema, sub, cols, sel interface{}
		if !sh.validationShared {
			schema = v.Schema
		}
		if !sh.subresourcesShared {
			sub = v.Subresources
		}
		if !sh.columnsShared {
			cols = v.AdditionalPrinterColumns
		}
		if !sh.selectableShared {
			sel = v.SelectableFields
		}
		fmt.Fprintf(&b, `{"Name":%s,"Served":%t,"Storage":%t,"Deprecated":%t,"DeprecationWarning":%s,"Schema":%s,"Subresources":%s,"AdditionalPrinterColumns":%s,"SelectableFields":%s}`,
			goJSON(reflect.ValueOf(v.Name)), v.Served, v.Storage, v.Deprecated, goJSON(reflect.ValueOf(v.DeprecationWarning)),
			goJSON(reflect.ValueOf(schema)), goJSON(reflect.ValueOf(sub)), goJSON(reflect.ValueOf(cols)), goJSON(reflect.ValueOf(sel)))
	}
	b.WriteByte(']')
	return json.RawMessage(b.String())
}

var rawJSONType = reflect.TypeOf(apiextensionsv1.JSON{})

// goJSON encodes a value the way encoding/json encodes a struct without
// json tags (as upstream's internal types are): Go field names, in order.
func goJSON(v reflect.Value) string {
	if !v.IsValid() {
		return "null"
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return "null"
		}
		return goJSON(v.Elem())
	case reflect.Struct:
		if v.Type() == rawJSONType {
			raw := v.Interface().(apiextensionsv1.JSON).Raw
			if len(raw) == 0 {
				return "null"
			}
			return string(raw)
		}
		var b strings.Builder
		b.WriteByte('{')
		for i := 0; i < v.NumField(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			name, _ := json.Marshal(v.Type().Field(i).Name)
			b.Write(name)
			b.WriteByte(':')
			b.WriteString(goJSON(v.Field(i)))
		}
		b.WriteByte('}')
		return b.String()
	case reflect.Slice:
		if v.IsNil() {
			return "null"
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			out, _ := json.Marshal(v.Interface())
			return string(out)
		}
		fallthrough
	case reflect.Array:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = goJSON(v.Index(i))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case reflect.Map:
		if v.IsNil() {
			return "null"
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			name, _ := json.Marshal(k)
			b.Write(name)
			b.WriteByte(':')
			b.WriteString(goJSON(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))))
		}
		b.WriteByte('}')
		return b.String()
	}
	out, err := json.Marshal(v.Interface())
	if err != nil {
		return "null"
	}
	return string(out)
}
