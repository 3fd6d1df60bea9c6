package apiextensions

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

func props(t *testing.T, y string) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	var p apiextensionsv1.JSONSchemaProps
	if err := yaml.Unmarshal([]byte(y), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func obj(t *testing.T, j string) map[string]interface{} {
	t.Helper()
	var m map[string]interface{}
	if err := yaml.Unmarshal([]byte(j), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const testSchema = `
type: object
properties:
  spec:
    type: object
    properties:
      size: {type: integer}
      color: {type: string, default: red}
      nested:
        type: object
        properties:
          a: {type: string}
      items:
        type: array
        items:
          type: object
          properties:
            name: {type: string}
      labels:
        type: object
        additionalProperties: {type: string}
      free:
        type: object
        x-kubernetes-preserve-unknown-fields: true
        properties:
          typed:
            type: object
            properties:
              x: {type: integer}
      template:
        type: object
        x-kubernetes-embedded-resource: true
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

func TestPruneReportsAndDropsUndeclaredFields(t *testing.T) {
	s, err := NewStructural(props(t, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, want string
		unknown        []string
	}{
		{"root fields and meta fields", `{"apiVersion":"a/v1","kind":"K","metadata":{"name":"x"},"extra":1,"spec":{"size":1}}`,
			`{"apiVersion":"a/v1","kind":"K","metadata":{"name":"x"},"spec":{"size":1}}`, []string{"extra"}},
		{"nested and list items", `{"spec":{"nested":{"a":"x","b":"y"},"items":[{"name":"n","z":1}],"bogus":true}}`,
			`{"spec":{"nested":{"a":"x"},"items":[{"name":"n"}]}}`, []string{"spec.bogus", "spec.items[0].z", "spec.nested.b"}},
		{"additionalProperties keep any key", `{"spec":{"labels":{"any":"v"}}}`, `{"spec":{"labels":{"any":"v"}}}`, nil},
		{"preserve-unknown-fields still prunes declared parts", `{"spec":{"free":{"k":{"deep":1},"typed":{"x":1,"y":2}}}}`,
			`{"spec":{"free":{"k":{"deep":1},"typed":{"x":1}}}}`, []string{"spec.free.typed.y"}},
		{"embedded resources keep their meta", `{"spec":{"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"a":1},"other":1}}}`,
			`{"spec":{"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"a":1}}}}`, []string{"spec.template.other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := obj(t, tc.in)
			unknown := Prune(o, s)
			if !reflect.DeepEqual(unknown, tc.unknown) {
				t.Errorf("unknown %q, want %q", unknown, tc.unknown)
			}
			if !reflect.DeepEqual(o, obj(t, tc.want)) {
				got, _ := json.Marshal(o)
				t.Errorf("pruned %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDefaultFillsMissingAndNullFields(t *testing.T) {
	s, _ := NewStructural(props(t, testSchema))
	for _, tc := range []struct{ in, want string }{
		{`{"spec":{}}`, `{"spec":{"color":"red"}}`},
		{`{"spec":{"color":null}}`, `{"spec":{"color":"red"}}`},
		{`{"spec":{"color":"blue"}}`, `{"spec":{"color":"blue"}}`},
		{`{}`, `{}`}, // no default for spec itself
	} {
		o := obj(t, tc.in)
		Default(o, s)
		if !reflect.DeepEqual(o, obj(t, tc.want)) {
			got, _ := json.Marshal(o)
			t.Errorf("Default(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestCoerceMetaReportsUnknownMetadata(t *testing.T) {
	o := obj(t, `{"metadata":{"name":"x","labels":{"a":"b"},"bogus":1}}`)
	unknown, err := CoerceMeta(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(unknown, []string{"metadata.bogus"}) {
		t.Errorf("unknown %q", unknown)
	}
	if !reflect.DeepEqual(o["metadata"], map[string]interface{}{"name": "x", "labels": map[string]interface{}{"a": "b"}}) {
		t.Errorf("metadata %v", o["metadata"])
	}
	if _, err := CoerceMeta(obj(t, `{"metadata":{"labels":"x"}}`), nil); err == nil {
		t.Error("malformed metadata accepted")
	}
}

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestSchemaChecksGiveUpstreamMessages(t *testing.T) {
	base := field.NewPath("spec", "validation")
	for _, tc := range []struct {
		name, schema string
		status       bool
		want         string
	}{
		{"root type", `{type: string}`, false, `spec.validation.openAPIV3Schema.type: Invalid value: "string": must be object at the root`},
		{"missing type", `{type: object, properties: {spec: {properties: {a: {type: string}}}}}`, false,
			`spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields`},
		{"array items", `{type: object, properties: {l: {type: array}}}`, false,
			`spec.validation.openAPIV3Schema.properties[l].items: Required value: must be specified`},
		{"typed anyOf", `{type: object, properties: {a: {type: string, anyOf: [{type: string}]}}}`, false,
			`spec.validation.openAPIV3Schema.properties[a].anyOf[0].type: Forbidden: must be empty to be structural`},
		{"metadata", `{type: object, properties: {metadata: {type: object, properties: {labels: {type: object}}}}}`, false,
			`spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified`},
		{"preserve false", `{type: object, x-kubernetes-preserve-unknown-fields: false}`, false,
			`spec.validation.openAPIV3Schema.x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined`},
		{"default type", `{type: object, properties: {a: {type: integer, default: "x"}}}`, false,
			`spec.validation.openAPIV3Schema.properties[a].default: Invalid value: "string": `},
		{"default pruned", `{type: object, properties: {a: {type: object, default: {b: 1}}}}`, false,
			`spec.validation.openAPIV3Schema.properties[a].default: Invalid value: {"b":1}: must not have unknown fields`},
		{"metadata default", `{type: object, properties: {metadata: {type: object, default: {}}}}`, false,
			`spec.validation.openAPIV3Schema.properties[metadata].default: Forbidden: must not be set in top-level metadata`},
		{"status root", `{type: object, additionalProperties: {type: string}}`, true,
			`only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled`},
		{"list map keys", `{type: object, properties: {l: {type: array, x-kubernetes-list-type: map, items: {type: object, properties: {k: {type: string}}}}}}`, false,
			`spec.validation.openAPIV3Schema.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := errStrings(validateSchema(props(t, tc.schema), base, tc.status))
			if !strings.Contains(strings.Join(errs, "\n"), tc.want) {
				t.Errorf("errors:\n%s\nwant one containing:\n%s", strings.Join(errs, "\n"), tc.want)
			}
		})
	}
	if errs := validateSchema(props(t, testSchema), base, true); len(errs) > 0 {
		t.Errorf("a valid schema has errors: %v", errs)
	}
	intOrString := `{type: object, properties: {port: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}}}`
	if errs := validateSchema(props(t, intOrString), base, false); len(errs) > 0 {
		t.Errorf("int-or-string: %v", errs)
	}
}

func testCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Kind: "Widget"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: props(t, testSchema)}}},
		},
	}
	Defaults(crd)
	return crd
}

func TestCRDValidation(t *testing.T) {
	if errs := validateCRD(testCRD(t)); len(errs) > 0 {
		t.Fatalf("valid CRD: %v", errs)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*apiextensionsv1.CustomResourceDefinition)
		want   string
	}{
		{"name", func(c *apiextensionsv1.CustomResourceDefinition) { c.Name = "x.example.com" },
			`metadata.name: Invalid value: "x.example.com": must be spec.names.plural+"."+spec.group`},
		{"no storage", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Storage = false },
			`spec.versions: Invalid value: [{"Name":"v1","Served":true,"Storage":false,"Deprecated":false,"DeprecationWarning":null,"Schema":null,"Subresources":null,"AdditionalPrinterColumns":null,"SelectableFields":null}]: must have exactly one version marked as storage version`},
		{"schema", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Schema = nil },
			`spec.versions[0].schema.openAPIV3Schema: Required value`},
		{"scope", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Scope = "Global" },
			`spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"`},
		{"kind", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Names.Kind = "" },
			`spec.names.kind: Required value`},
		{"scale path", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[0].Subresources = &apiextensionsv1.CustomResourceSubresources{Scale: &apiextensionsv1.CustomResourceSubresourceScale{
				SpecReplicasPath: ".status.replicas", StatusReplicasPath: ".status.replicas"}}
		}, `spec.subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be a json path under .spec`},
		{"column", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[0].AdditionalPrinterColumns = []apiextensionsv1.CustomResourceColumnDefinition{{Name: "X", Type: "text", JSONPath: ".spec.x"}}
		}, `spec.additionalPrinterColumns[0].type: Invalid value: "text": must be one of boolean,date,integer,number,string`},
		{"protected group", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Group, c.Name = "widgets.k8s.io", "widgets.widgets.k8s.io"
		}, `metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crd := testCRD(t)
			tc.mutate(crd)
			errs := errStrings(validateCRD(crd))
			if !strings.Contains(strings.Join(errs, "\n"), tc.want) {
				t.Errorf("errors:\n%s\nwant one containing:\n%s", strings.Join(errs, "\n"), tc.want)
			}
		})
	}
}

func TestNameStatusFirstComeFirstServed(t *testing.T) {
	first := testCRD(t)
	first.Spec.Names.ShortNames = []string{"wd"}
	status, changed := NameStatus(first, nil)
	if !changed || status.AcceptedNames.Plural != "widgets" || status.AcceptedNames.ShortNames[0] != "wd" {
		t.Fatalf("first: %v %+v", changed, status)
	}
	conds := map[apiextensionsv1.CustomResourceDefinitionConditionType]apiextensionsv1.CustomResourceDefinitionCondition{}
	for _, c := range status.Conditions {
		conds[c.Type] = c
	}
	if c := conds["NamesAccepted"]; c.Status != "True" || c.Reason != "NoConflicts" {
		t.Errorf("NamesAccepted %+v", c)
	}
	if c := conds["Established"]; c.Status != "True" || c.Reason != "InitialNamesAccepted" {
		t.Errorf("Established %+v", c)
	}
	first.Status = status
	if _, changed := NameStatus(first, nil); changed {
		t.Error("a settled status changes again")
	}

	second := testCRD(t)
	second.Name, second.Spec.Names = "gadgets.example.com", apiextensionsv1.CustomResourceDefinitionNames{
		Plural: "gadgets", Singular: "gadget", Kind: "Widget", ListKind: "GadgetList", ShortNames: []string{"wd"}}
	status, _ = NameStatus(second, []*apiextensionsv1.CustomResourceDefinition{first, second})
	var na, est apiextensionsv1.CustomResourceDefinitionCondition
	for _, c := range status.Conditions {
		switch c.Type {
		case "NamesAccepted":
			na = c
		case "Established":
			est = c
		}
	}
	if na.Status != "False" || na.Reason != "KindConflict" || na.Message != `"Widget" is already in use` {
		t.Errorf("NamesAccepted %+v", na)
	}
	if est.Status != "False" || est.Reason != "NotAccepted" || est.Message != "not all names are accepted" {
		t.Errorf("Established %+v", est)
	}
	if status.AcceptedNames.Plural != "gadgets" || status.AcceptedNames.Kind != "" || len(status.AcceptedNames.ShortNames) != 0 {
		t.Errorf("accepted %+v", status.AcceptedNames)
	}
}

func TestPrinterColumnCells(t *testing.T) {
	cols := []apiextensionsv1.CustomResourceColumnDefinition{
		{Name: "Size", Type: "integer", JSONPath: ".spec.size"},
		{Name: "Color", Type: "string", JSONPath: ".spec.color"},
		{Name: "Tags", Type: "string", JSONPath: ".spec.tags"},
		{Name: "Ratio", Type: "number", JSONPath: ".spec.size"},
		{Name: "On", Type: "boolean", JSONPath: ".spec.on"},
		{Name: "Missing", Type: "string", JSONPath: ".status.x"},
		{Name: "Wide", Type: "string", JSONPath: ".spec.color", Priority: 1},
	}
	defs, row := printerColumns(cols)
	if defs[0].Name != "Name" || len(defs) != 8 || defs[7].Priority != 1 {
		t.Errorf("defs %+v", defs)
	}
	u := map[string]interface{}{"metadata": map[string]interface{}{"name": "w"},
		"spec": map[string]interface{}{"size": int64(3), "color": "red", "tags": []interface{}{"a", "b"}, "on": true}}
	got := row(unstructuredOf(u))
	want := []interface{}{"w", int64(3), "red", `["a","b"]`, float64(3), true, nil, "red"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cells %#v, want %#v", got, want)
	}
	defs, _ = printerColumns(nil)
	if len(defs) != 2 || defs[1].Name != "Age" || defs[1].Type != "date" {
		t.Errorf("default columns %+v", defs)
	}
}

func unstructuredOf(m map[string]interface{}) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: m}
}
