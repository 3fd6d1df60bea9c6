package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    kind: Widget
    shortNames: [wd]
    categories: [all]
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema: &schema
      openAPIV3Schema:
        type: object
        description: A Widget is a test kind.
        properties:
          spec:
            type: object
            description: What the widget should be.
            properties:
              size:
                type: integer
                minimum: 1
                maximum: 100
                description: Size of the widget.
              color:
                type: string
                enum: [red, blue]
                default: red
              replicas:
                type: integer
                default: 1
              tags:
                type: array
                maxItems: 3
                items:
                  type: string
              free:
                type: object
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              replicas:
                type: integer
              phase:
                type: string
              selector:
                type: string
    subresources: &subresources
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns: &columns
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Color
      type: string
      jsonPath: .spec.color
    - name: Phase
      type: string
      jsonPath: .status.phase
      priority: 1
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
  - name: v1
    served: true
    storage: true
    schema: *schema
    subresources: *subresources
    additionalPrinterColumns: *columns
`

var (
	widgetsV1      = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	widgetsV1beta1 = schema.GroupVersionResource{Group: "example.com", Version: "v1beta1", Resource: "widgets"}
)

func crdFromYAML(t *testing.T, y string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal([]byte(y), &crd); err != nil {
		t.Fatal(err)
	}
	return &crd
}

// createCRD creates a CRD and waits until it is Established.
func createCRD(t *testing.T, s *testServer, crd *apiextensionsv1.CustomResourceDefinition) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	ctx := context.Background()
	c := apiextensionsclient.NewForConfigOrDie(s.config)
	if _, err := c.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *apiextensionsv1.CustomResourceDefinition
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = c.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v (%+v)", crd.Name, err, got)
	}
	return got
}

func widget(name string, spec map[string]interface{}) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]interface{}{"name": name, "labels": map[string]interface{}{"app": "w"}},
		"spec":     spec,
	}}
	return u
}

func statusCause(err error) string {
	var se *apierrors.StatusError
	if e, ok := err.(*apierrors.StatusError); ok {
		se = e
	}
	if se == nil {
		return err.Error()
	}
	return se.ErrStatus.Message
}

func TestCRDEstablishedWithUpstreamStatusAndDefaults(t *testing.T) {
	s := startServer(t)
	crd := createCRD(t, s, crdFromYAML(t, widgetCRD))
	cond := map[apiextensionsv1.CustomResourceDefinitionConditionType]apiextensionsv1.CustomResourceDefinitionCondition{}
	for _, c := range crd.Status.Conditions {
		cond[c.Type] = c
	}
	if c := cond[apiextensionsv1.NamesAccepted]; c.Status != "True" || c.Reason != "NoConflicts" || c.Message != "no conflicts found" {
		t.Errorf("NamesAccepted: %+v", c)
	}
	if c := cond[apiextensionsv1.Established]; c.Status != "True" || c.Reason != "InitialNamesAccepted" || c.Message != "the initial names have been accepted" {
		t.Errorf("Established: %+v", c)
	}
	n := crd.Status.AcceptedNames
	if n.Plural != "widgets" || n.Singular != "widget" || n.Kind != "Widget" || n.ListKind != "WidgetList" || n.ShortNames[0] != "wd" {
		t.Errorf("accepted names: %+v", n)
	}
	if crd.Spec.Names.Singular != "widget" || crd.Spec.Names.ListKind != "WidgetList" {
		t.Errorf("names defaults: %+v", crd.Spec.Names)
	}
	if crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.NoneConverter {
		t.Errorf("conversion default: %+v", crd.Spec.Conversion)
	}
	if len(crd.Status.StoredVersions) != 1 || crd.Status.StoredVersions[0] != "v1" {
		t.Errorf("storedVersions: %v", crd.Status.StoredVersions)
	}
	if crd.Generation != 1 {
		t.Errorf("generation %d", crd.Generation)
	}

	// A second CRD that wants a taken short name is not accepted.
	other := crdFromYAML(t, strings.NewReplacer("widgets", "gadgets", "Widget", "Gadget").Replace(widgetCRD))
	c := apiextensionsclient.NewForConfigOrDie(s.config)
	if _, err := c.ApiextensionsV1().CustomResourceDefinitions().Create(context.Background(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := c.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, other.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.NamesAccepted && c.Status == "False" {
				if c.Reason != "ShortNamesConflict" || c.Message != `"wd" is already in use` {
					t.Errorf("conflict condition: %+v", c)
				}
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("short name conflict not reported: %v", err)
	}
}

func TestCRDValidationMessages(t *testing.T) {
	s := startServer(t)
	c := apiextensionsclient.NewForConfigOrDie(s.config)
	for _, tc := range []struct {
		name   string
		mutate func(*apiextensionsv1.CustomResourceDefinition)
		want   string
	}{
		{"name", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Name = "x.example.com" },
			`CustomResourceDefinition.apiextensions.k8s.io "x.example.com" is invalid: metadata.name: Invalid value: "x.example.com": must be spec.names.plural+"."+spec.group`},
		{"storage", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Versions[0].Storage = true },
			"spec.versions: Invalid value: "},
		{"storage message", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Versions[0].Storage = true },
			"must have exactly one version marked as storage version"},
		{"schema", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Versions[0].Schema = nil },
			"spec.versions[0].schema.openAPIV3Schema: Required value"},
		{"structural", func(crd *apiextensionsv1.CustomResourceDefinition) {
			p := crd.Spec.Versions[1].Schema.OpenAPIV3Schema.Properties["spec"]
			sz := p.Properties["size"]
			sz.Type = ""
			p.Properties["size"] = sz
			crd.Spec.Versions[1].Schema.OpenAPIV3Schema.Properties["spec"] = p
		}, "spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be empty for specified object fields"},
		{"group", func(crd *apiextensionsv1.CustomResourceDefinition) {
			crd.Spec.Group, crd.Name = "example", "widgets.example"
		}, `spec.group: Invalid value: "example": should be a domain with at least one dot`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crd := crdFromYAML(t, widgetCRD)
			// Distinct schemas, so that errors name the version.
			crd.Spec.Versions[0].Schema = crd.Spec.Versions[0].Schema.DeepCopy()
			crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Description = "beta"
			tc.mutate(crd)
			_, err := c.ApiextensionsV1().CustomResourceDefinitions().Create(context.Background(), crd, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want Invalid, got %v", err)
			}
			if !strings.Contains(statusCause(err), tc.want) {
				t.Errorf("message %q\nwant it to contain %q", statusCause(err), tc.want)
			}
		})
	}
	// Identical schemas in every version are validated as one, under
	// spec.validation, as upstream's internal form has them.
	crd := crdFromYAML(t, widgetCRD)
	for _, v := range crd.Spec.Versions {
		sz := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties["size"]
		sz.Type = ""
		v.Schema.OpenAPIV3Schema.Properties["spec"].Properties["size"] = sz
	}
	_, err := c.ApiextensionsV1().CustomResourceDefinitions().Create(context.Background(), crd, metav1.CreateOptions{})
	if want := "spec.validation.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be empty for specified object fields"; err == nil || !strings.Contains(statusCause(err), want) {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestCustomResourcesCRUDInTwoVersions(t *testing.T) {
	s := startServer(t)
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	ctx := context.Background()
	dc := dynamic.NewForConfigOrDie(s.config)
	v1, v1beta1 := dc.Resource(widgetsV1).Namespace("default"), dc.Resource(widgetsV1beta1).Namespace("default")

	created, err := v1.Create(ctx, widget("w1", map[string]interface{}{"size": int64(3)}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetUID() == "" || created.GetResourceVersion() == "" || created.GetGeneration() != 1 {
		t.Errorf("metadata: %+v", created.Object["metadata"])
	}
	// Defaults of the schema.
	if color, _, _ := unstructured.NestedString(created.Object, "spec", "color"); color != "red" {
		t.Errorf("default color: %q", color)
	}
	if r, _, _ := unstructured.NestedInt64(created.Object, "spec", "replicas"); r != 1 {
		t.Errorf("default replicas: %d", r)
	}
	// The other version serves the same object.
	beta, err := v1beta1.Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if beta.GetAPIVersion() != "example.com/v1beta1" || beta.GetUID() != created.GetUID() {
		t.Errorf("v1beta1 get: %v %v", beta.GetAPIVersion(), beta.GetUID())
	}
	// Update through v1beta1; read through v1.
	_ = unstructured.SetNestedField(beta.Object, int64(5), "spec", "size")
	if _, err := v1beta1.Update(ctx, beta, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := v1.Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size"); size != 5 || got.GetGeneration() != 2 || got.GetAPIVersion() != "example.com/v1" {
		t.Errorf("after update: size %d generation %d %s", size, got.GetGeneration(), got.GetAPIVersion())
	}
	// A label change is not a spec change.
	got.SetLabels(map[string]string{"app": "w", "x": "y"})
	got, err = v1.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil || got.GetGeneration() != 2 {
		t.Fatalf("label update: %v generation %d", err, got.GetGeneration())
	}
	// Merge and JSON patches; a strategic merge patch is refused as upstream.
	if _, err := v1.Patch(ctx, "w1", types.MergePatchType, []byte(`{"spec":{"tags":["a","b"]}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := v1.Patch(ctx, "w1", types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/size","value":7}]`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tags, _, _ := unstructured.NestedStringSlice(p.Object, "spec", "tags"); len(tags) != 2 || p.GetGeneration() != 4 {
		t.Errorf("patches: %v generation %d", tags, p.GetGeneration())
	}
	_, err = v1.Patch(ctx, "w1", types.StrategicMergePatchType, []byte(`{"spec":{"size":8}}`), metav1.PatchOptions{})
	if !apierrors.IsUnsupportedMediaType(err) || statusCause(err) != "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml" {
		t.Errorf("strategic merge patch: %v", err)
	}
	// Lists, selectors, dry run.
	if _, err := v1.Create(ctx, widget("w2", map[string]interface{}{"size": int64(1)}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Create(ctx, widget("w3", map[string]interface{}{"size": int64(1)}), metav1.CreateOptions{DryRun: []string{"All"}}); err != nil {
		t.Fatal(err)
	}
	l, err := v1beta1.List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 2 || l.GetKind() != "WidgetList" || l.Items[0].GetAPIVersion() != "example.com/v1beta1" {
		t.Fatalf("list: %v %d %s", err, len(l.Items), l.GetKind())
	}
	l, err = v1.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=w2"})
	if err != nil || len(l.Items) != 1 || l.Items[0].GetName() != "w2" {
		t.Fatalf("field selector: %v %d", err, len(l.Items))
	}
	l, err = dc.Resource(widgetsV1).List(ctx, metav1.ListOptions{LabelSelector: "x=y"})
	if err != nil || len(l.Items) != 1 || l.Items[0].GetName() != "w1" {
		t.Fatalf("label selector across namespaces: %v %d", err, len(l.Items))
	}
	_, err = v1.List(ctx, metav1.ListOptions{FieldSelector: "spec.size=1"})
	if !apierrors.IsBadRequest(err) || statusCause(err) != "field label not supported: spec.size" {
		t.Errorf("unknown field selector: %v", err)
	}
	// Delete and deletecollection.
	if err := v1.Delete(ctx, "w2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Get(ctx, "w2", metav1.GetOptions{}); !apierrors.IsNotFound(err) || statusCause(err) != `widgets.example.com "w2" not found` {
		t.Errorf("get deleted: %v", err)
	}
	if err := v1.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, err := v1.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("after deletecollection: %v %d", err, len(l.Items))
	}
}

func TestCustomResourceWatch(t *testing.T) {
	s := startServer(t)
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	ctx := context.Background()
	v1 := dynamic.NewForConfigOrDie(s.config).Resource(widgetsV1).Namespace("default")
	w, err := v1.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := v1.Create(ctx, widget("w1", map[string]interface{}{"size": int64(3)}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		u, ok := ev.Object.(*unstructured.Unstructured)
		if ev.Type != watch.Added || !ok || u.GetName() != "w1" || u.GetAPIVersion() != "example.com/v1" {
			t.Errorf("event %v %#v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
}

func TestCustomResourceSchemaValidationPruningAndFieldValidation(t *testing.T) {
	s := startServer(t)
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	ctx := context.Background()
	v1 := dynamic.NewForConfigOrDie(s.config).Resource(widgetsV1).Namespace("default")

	_, err := v1.Create(ctx, widget("w", map[string]interface{}{"size": "string"}), metav1.CreateOptions{})
	if want := `Widget.example.com "w" is invalid: spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"`; !apierrors.IsInvalid(err) || statusCause(err) != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if err != nil {
		causes := err.(*apierrors.StatusError).ErrStatus.Details.Causes
		if len(causes) != 1 || causes[0].Field != "spec.size" || causes[0].Type != metav1.CauseTypeTypeInvalid {
			t.Errorf("causes %+v", causes)
		}
	}
	_, err = v1.Create(ctx, widget("w", map[string]interface{}{"size": int64(500), "color": "green", "tags": []interface{}{"a", "b", "c", "d"}}), metav1.CreateOptions{})
	for _, want := range []string{
		`spec.size: Invalid value: 500: spec.size in body should be less than or equal to 100`,
		`spec.color: Unsupported value: "green": supported values: "red", "blue"`,
		`spec.tags: Too many: 4: must have at most 3 items`,
	} {
		if err == nil || !strings.Contains(statusCause(err), want) {
			t.Errorf("got %v\nwant it to contain %s", err, want)
		}
	}
	_, err = v1.Create(ctx, widget("Bad_Name", map[string]interface{}{"size": int64(1)}), metav1.CreateOptions{})
	if err == nil || !strings.Contains(statusCause(err), `metadata.name: Invalid value: "Bad_Name"`) {
		t.Errorf("bad name: %v", err)
	}

	// Unknown fields: pruned with a warning by default, refused with
	// Strict, silently pruned with Ignore; kept under
	// x-kubernetes-preserve-unknown-fields.
	obj := widget("w", map[string]interface{}{"size": int64(1), "foo": "bar", "free": map[string]interface{}{"any": "thing"}})
	obj.Object["extra"] = true
	_, err = v1.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"})
	if want := `Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "extra", unknown field "spec.foo"`; !apierrors.IsBadRequest(err) || statusCause(err) != want {
		t.Errorf("strict: got %v\nwant %s", err, want)
	}
	rc := rest.CopyConfig(s.config)
	handler := &recordingWarnings{}
	rc.WarningHandler = handler
	created, err := dynamic.NewForConfigOrDie(rc).Resource(widgetsV1).Namespace("default").Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, found := created.Object["extra"]; found {
		t.Error("extra was not pruned")
	}
	if _, found, _ := unstructured.NestedString(created.Object, "spec", "foo"); found {
		t.Error("spec.foo was not pruned")
	}
	if v, _, _ := unstructured.NestedString(created.Object, "spec", "free", "any"); v != "thing" {
		t.Error("preserved field was pruned")
	}
	if strings.Join(handler.warnings, "|") != `unknown field "extra"|unknown field "spec.foo"` {
		t.Errorf("warnings %q", handler.warnings)
	}
	obj.SetName("w2")
	if _, err := v1.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Ignore"}); err != nil {
		t.Errorf("ignore: %v", err)
	}
}

type recordingWarnings struct{ warnings []string }

func (r *recordingWarnings) HandleWarningHeader(code int, agent, text string) {
	r.warnings = append(r.warnings, text)
}

func TestCustomResourceStatusAndScaleSubresources(t *testing.T) {
	s := startServer(t)
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	ctx := context.Background()
	v1 := dynamic.NewForConfigOrDie(s.config).Resource(widgetsV1).Namespace("default")
	obj := widget("w", map[string]interface{}{"size": int64(1)})
	obj.Object["status"] = map[string]interface{}{"phase": "Ignored"}
	w, err := v1.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, found := w.Object["status"]; found {
		t.Error("status set on create")
	}
	// The status subresource changes only status.
	w.Object["status"] = map[string]interface{}{"phase": "Ready", "replicas": int64(2), "selector": "app=w"}
	_ = unstructured.SetNestedField(w.Object, int64(9), "spec", "size")
	st, err := v1.UpdateStatus(ctx, w, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(st.Object, "spec", "size"); size != 1 || st.GetGeneration() != 1 {
		t.Errorf("status update changed spec: size %d generation %d", size, st.GetGeneration())
	}
	// The main resource keeps status.
	delete(st.Object, "status")
	_ = unstructured.SetNestedField(st.Object, int64(4), "spec", "size")
	main, err := v1.Update(ctx, st, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if phase, _, _ := unstructured.NestedString(main.Object, "status", "phase"); phase != "Ready" || main.GetGeneration() != 2 {
		t.Errorf("main update: phase %q generation %d", phase, main.GetGeneration())
	}
	// Scale.
	sc, err := v1.Get(ctx, "w", metav1.GetOptions{}, "scale")
	if err != nil {
		t.Fatal(err)
	}
	if sc.GetKind() != "Scale" || sc.GetAPIVersion() != "autoscaling/v1" {
		t.Errorf("scale kind %s %s", sc.GetAPIVersion(), sc.GetKind())
	}
	if r, _, _ := unstructured.NestedInt64(sc.Object, "status", "replicas"); r != 2 {
		t.Errorf("status.replicas %d", r)
	}
	if sel, _, _ := unstructured.NestedString(sc.Object, "status", "selector"); sel != "app=w" {
		t.Errorf("selector %q", sel)
	}
	if _, err := v1.Patch(ctx, "w", types.MergePatchType, []byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatal(err)
	}
	got, _ := v1.Get(ctx, "w", metav1.GetOptions{})
	if r, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); r != 5 {
		t.Errorf("spec.replicas %d after scale", r)
	}
}

func TestCustomResourceTable(t *testing.T) {
	s := startServer(t)
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	ctx := context.Background()
	v1 := dynamic.NewForConfigOrDie(s.config).Resource(widgetsV1).Namespace("default")
	if _, err := v1.Create(ctx, widget("w", map[string]interface{}{"size": int64(3)}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tbl := table(t, s, "/apis/example.com/v1/namespaces/default/widgets")
	var cols []string
	for _, c := range tbl.ColumnDefinitions {
		cols = append(cols, c.Name+"/"+c.Type+"/"+string(rune('0'+c.Priority)))
	}
	if got := strings.Join(cols, ","); got != "Name/string/0,Size/integer/0,Color/string/0,Phase/string/1,Age/date/0" {
		t.Errorf("columns %s", got)
	}
	if len(tbl.Rows) != 1 {
		t.Fatalf("rows %d", len(tbl.Rows))
	}
	cells := tbl.Rows[0].Cells
	if cells[0] != "w" || cells[1] != float64(3) || cells[2] != "red" || cells[3] != nil || !strings.HasSuffix(cells[4].(string), "s") {
		t.Errorf("cells %#v", cells)
	}
}

func TestCustomResourceDiscoveryAndOpenAPI(t *testing.T) {
	s := startServer(t)
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	l, err := s.client.Discovery().ServerResourcesForGroupVersion("example.com/v1")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]metav1.APIResource{}
	for _, r := range l.APIResources {
		byName[r.Name] = r
	}
	w := byName["widgets"]
	if w.Kind != "Widget" || w.SingularName != "widget" || !w.Namespaced || strings.Join(w.ShortNames, ",") != "wd" ||
		strings.Join(w.Categories, ",") != "all" || len(w.Verbs) != 8 {
		t.Errorf("widgets: %+v", w)
	}
	if _, ok := byName["widgets/status"]; !ok {
		t.Error("no widgets/status")
	}
	if sc := byName["widgets/scale"]; sc.Kind != "Scale" || sc.Group != "autoscaling" {
		t.Errorf("widgets/scale: %+v", sc)
	}
	groups, err := s.client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range groups.Groups {
		if g.Name == "example.com" {
			found = true
			if g.PreferredVersion.Version != "v1" || len(g.Versions) != 2 || g.Versions[0].Version != "v1" {
				t.Errorf("group %+v", g)
			}
		}
	}
	if !found {
		t.Error("example.com not in /apis")
	}
	// The OpenAPI v3 document describes the kind from its schema.
	raw, err := s.client.CoreV1().RESTClient().Get().AbsPath("/openapi/v3/apis/example.com/v1").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Description string                     `json:"description"`
				Properties  map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	def := doc.Components.Schemas["com.example.v1.Widget"]
	if def.Description != "A Widget is a test kind." || def.Properties["spec"] == nil || def.Properties["metadata"] == nil || def.Properties["apiVersion"] == nil {
		t.Errorf("definition %+v", def)
	}
	v2, err := s.client.CoreV1().RESTClient().Get().AbsPath("/openapi/v2").DoRaw(context.Background())
	if err != nil || !strings.Contains(string(v2), `"com.example.v1beta1.Widget"`) {
		t.Errorf("v2 document: %v", err)
	}

	// Aggregated discovery lists the group.
	body, err := s.client.CoreV1().RESTClient().Get().AbsPath("/apis").
		SetHeader("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList").DoRaw(context.Background())
	if err != nil || !strings.Contains(string(body), `"name":"example.com"`) {
		t.Errorf("aggregated discovery: %v %.200s", err, body)
	}
}

// Clients revalidate their cached discovery with its ETag, which changes
// when custom resources come.
func TestAggregatedDiscoveryETag(t *testing.T) {
	s := startServer(t)
	get := func(etag string) *http.Response {
		tr, err := rest.TransportFor(s.config)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, s.config.Host+"/apis", nil)
		req.Header.Set("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := get("")
	etag := first.Header.Get("Etag")
	if first.StatusCode != 200 || etag == "" {
		t.Fatalf("%d etag %q", first.StatusCode, etag)
	}
	if again := get(etag); again.StatusCode != http.StatusNotModified {
		t.Errorf("same etag: %d", again.StatusCode)
	}
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	if after := get(etag); after.StatusCode != 200 || after.Header.Get("Etag") == etag {
		t.Errorf("after a CRD: %d %q", after.StatusCode, after.Header.Get("Etag"))
	}
}

func TestDeletingCRDDeletesItsCustomResources(t *testing.T) {
	s := startServer(t)
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	ctx := context.Background()
	dc := dynamic.NewForConfigOrDie(s.config)
	v1 := dc.Resource(widgetsV1).Namespace("default")
	for _, n := range []string{"a", "b"} {
		if _, err := v1.Create(ctx, widget(n, map[string]interface{}{"size": int64(1)}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	held := widget("held", map[string]interface{}{"size": int64(1)})
	held.SetFinalizers([]string{"example.com/hold"})
	if _, err := v1.Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := apiextensionsclient.NewForConfigOrDie(s.config)
	if err := c.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, "widgets.example.com", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A custom resource with a finalizer holds the CRD, Terminating.
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		crd, err := c.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "widgets.example.com", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Terminating && cond.Status == "True" && cond.Reason == "InstanceDeletionInProgress" &&
				crd.DeletionTimestamp != nil && len(crd.Finalizers) == 1 && crd.Finalizers[0] == "customresourcecleanup.apiextensions.k8s.io" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD not terminating: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := v1.Create(ctx, widget("late", map[string]interface{}{"size": int64(1)}), metav1.CreateOptions{})
		if err == nil {
			_ = v1.Delete(ctx, "late", metav1.DeleteOptions{})
			return false, nil
		}
		if !apierrors.IsForbidden(err) || statusCause(err) != `widgets.example.com "late" is forbidden: create not allowed while custom resource definition is terminating` {
			t.Errorf("create while terminating: %v", err)
		}
		return true, nil
	})
	if err != nil {
		t.Errorf("creates still allowed: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := v1.Get(ctx, "a", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("a not deleted: %v", err)
	}
	if _, err := v1.Patch(ctx, "held", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "widgets.example.com", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("CRD not gone: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := v1.List(ctx, metav1.ListOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("widgets still served")
	}
	if _, err := s.client.Discovery().ServerResourcesForGroupVersion("example.com/v1"); !apierrors.IsNotFound(err) {
		t.Errorf("discovery still has example.com/v1: %v", err)
	}
	// Recreated, the CRD starts empty.
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	if l, err := v1.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("recreated CRD has objects: %v %v", err, l)
	}
}

func TestCustomResourceDefinitionChangesTakeEffect(t *testing.T) {
	s := startServer(t)
	crd := createCRD(t, s, crdFromYAML(t, widgetCRD))
	ctx := context.Background()
	v1 := dynamic.NewForConfigOrDie(s.config).Resource(widgetsV1).Namespace("default")
	if _, err := v1.Create(ctx, widget("w", map[string]interface{}{"size": int64(1), "shape": "round"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, err := v1.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Fatalf("list: %v", err)
	}
	// Declare spec.shape and deprecate v1beta1.
	c := apiextensionsclient.NewForConfigOrDie(s.config)
	for i := range crd.Spec.Versions {
		spec := crd.Spec.Versions[i].Schema.OpenAPIV3Schema.Properties["spec"]
		spec.Properties["shape"] = apiextensionsv1.JSONSchemaProps{Type: "string", Default: &apiextensionsv1.JSON{Raw: []byte(`"square"`)}}
		crd.Spec.Versions[i].Schema.OpenAPIV3Schema.Properties["spec"] = spec
	}
	crd.Spec.Versions[0].Deprecated = true
	updated, err := c.ApiextensionsV1().CustomResourceDefinitions().Update(ctx, crd, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Generation != 2 {
		t.Errorf("generation %d", updated.Generation)
	}
	// Served objects get the new default (read from storage), new ones keep
	// the field.
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := v1.List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 1 {
			return false, err
		}
		shape, _, _ := unstructured.NestedString(l.Items[0].Object, "spec", "shape")
		return shape == "square", nil
	})
	if err != nil {
		t.Errorf("stored object not defaulted by the new schema: %v", err)
	}
	created, err := v1.Create(ctx, widget("w2", map[string]interface{}{"size": int64(1), "shape": "round"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if shape, _, _ := unstructured.NestedString(created.Object, "spec", "shape"); shape != "round" {
		t.Errorf("declared field pruned: %q", shape)
	}
	rc := rest.CopyConfig(s.config)
	handler := &recordingWarnings{}
	rc.WarningHandler = handler
	if _, err := dynamic.NewForConfigOrDie(rc).Resource(widgetsV1beta1).Namespace("default").Get(ctx, "w2", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(handler.warnings, "|") != "example.com/v1beta1 Widget is deprecated; use example.com/v1 Widget" {
		t.Errorf("warnings %q", handler.warnings)
	}
}
