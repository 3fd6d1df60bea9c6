package openapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/kedge-dev/kedge/internal/registry"
)

func deployments() *registry.Resource {
	return &registry.Resource{
		GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Name: "deployments", Namespaced: true,
		New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
		Verbs: registry.AllVerbs, Status: true, Scale: &registry.ScaleAccess{},
	}
}

func pods() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Name: "pods", Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} },
		Verbs: registry.AllVerbs, Status: true,
		GracePeriod: func(runtime.Object, *int64) (int64, bool) { return 30, true },
	}
}

func subresourcesForTest(res *registry.Resource) []metav1.APIResource {
	var out []metav1.APIResource
	if res.Status {
		out = append(out, metav1.APIResource{Name: res.Name + "/status", Kind: res.GVK.Kind, Verbs: []string{"get", "patch", "update"}})
	}
	if res.Scale != nil {
		out = append(out, metav1.APIResource{Name: res.Name + "/scale", Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: []string{"get", "patch", "update"}})
	}
	if res.GVK.Kind == "Pod" {
		out = append(out,
			metav1.APIResource{Name: "pods/binding", Kind: "Binding", Verbs: []string{"create"}},
			metav1.APIResource{Name: "pods/exec", Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
			metav1.APIResource{Name: "pods/log", Kind: "Pod", Verbs: []string{"get"}})
	}
	return out
}

func testInput(res ...*registry.Resource) Input {
	return Input{Resources: res, Subresources: subresourcesForTest, Scheme: scheme.Scheme, Version: "v1.37.2+kedge.1"}
}

// roundTrip returns a document as the generic JSON a client sees.
func roundTrip(t *testing.T, v interface{}) map[string]interface{} {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]interface{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// at walks a JSON document along keys (and list indexes).
func at(t *testing.T, doc interface{}, path ...interface{}) interface{} {
	t.Helper()
	cur := doc
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]interface{})
			if !ok || m[k] == nil {
				t.Fatalf("no %q at %v", k, path)
			}
			cur = m[k]
		case int:
			l, ok := cur.([]interface{})
			if !ok || len(l) <= k {
				t.Fatalf("no [%d] at %v", k, path)
			}
			cur = l[k]
		}
	}
	return cur
}

func jsonEqual(t *testing.T, what string, got interface{}, want string) {
	t.Helper()
	var w interface{}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("%s:\n got %s\nwant %s", what, g, want)
	}
}

func TestV3SchemasOfDeployment(t *testing.T) {
	doc := roundTrip(t, V3(testInput(deployments()), appsv1.SchemeGroupVersion))
	defs := at(t, doc, "components", "schemas")
	def := func(name string) interface{} { return at(t, defs, name) }

	jsonEqual(t, "Deployment GVK", at(t, def("io.k8s.api.apps.v1.Deployment"), "x-kubernetes-group-version-kind"),
		`[{"group":"apps","version":"v1","kind":"Deployment"}]`)
	jsonEqual(t, "DeploymentList GVK", at(t, def("io.k8s.api.apps.v1.DeploymentList"), "x-kubernetes-group-version-kind"),
		`[{"group":"apps","version":"v1","kind":"DeploymentList"}]`)

	spec := at(t, def("io.k8s.api.apps.v1.Deployment"), "properties", "spec")
	jsonEqual(t, "spec ref", at(t, spec, "allOf"), `[{"$ref":"#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]`)
	jsonEqual(t, "spec default", at(t, spec, "default"), `{}`)
	if d := at(t, spec, "description").(string); !strings.HasPrefix(d, "Specification of the desired behavior of the Deployment.") {
		t.Errorf("spec description from SwaggerDoc: %q", d)
	}

	ds := def("io.k8s.api.apps.v1.DeploymentSpec")
	jsonEqual(t, "replicas", at(t, ds, "properties", "replicas", "format"), `"int32"`)
	jsonEqual(t, "replicas type", at(t, ds, "properties", "replicas", "type"), `"integer"`)
	jsonEqual(t, "required", at(t, ds, "required"), `["selector","template"]`)

	strategyType := at(t, def("io.k8s.api.apps.v1.DeploymentStrategy"), "properties", "type").(map[string]interface{})
	jsonEqual(t, "strategy enum", strategyType["enum"], `["Recreate","RollingUpdate"]`)
	wantDoc := "Type of deployment. Can be \"Recreate\" or \"RollingUpdate\". Default is RollingUpdate.\n\n" +
		"Possible enum values:\n - `\"Recreate\"` Kill all existing pods before creating new ones.\n" +
		" - `\"RollingUpdate\"` Replace the old ReplicaSets by new one using rolling update i.e gradually scale down the old ReplicaSets and scale up the new one."
	if strategyType["description"] != wantDoc {
		t.Errorf("enum description:\n got %q\nwant %q", strategyType["description"], wantDoc)
	}

	// Deployment refers to the core types it embeds.
	containers := at(t, def("io.k8s.api.core.v1.PodSpec"), "properties", "containers")
	jsonEqual(t, "containers", containers, `{
		"description": "List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated.",
		"type": "array",
		"items": {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"},
		"x-kubernetes-list-map-keys": ["name"],
		"x-kubernetes-list-type": "map",
		"x-kubernetes-patch-merge-key": "name",
		"x-kubernetes-patch-strategy": "merge"}`)
	jsonEqual(t, "volumes patch strategy", at(t, def("io.k8s.api.core.v1.PodSpec"), "properties", "volumes", "x-kubernetes-patch-strategy"), `"merge,retainKeys"`)
	jsonEqual(t, "container name default", at(t, def("io.k8s.api.core.v1.Container"), "properties", "name", "default"), `""`)
	jsonEqual(t, "port protocol +default", at(t, def("io.k8s.api.core.v1.ContainerPort"), "properties", "protocol", "default"), `"TCP"`)

	// Special types.
	jsonEqual(t, "IntOrString", def("io.k8s.apimachinery.pkg.util.intstr.IntOrString"), `{
		"description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.",
		"format": "int-or-string",
		"oneOf": [{"type": "integer"}, {"type": "string"}]}`)
	maxSurge := at(t, def("io.k8s.api.apps.v1.RollingUpdateDeployment"), "properties", "maxSurge").(map[string]interface{})
	jsonEqual(t, "maxSurge", maxSurge["allOf"], `[{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]`)
	if _, ok := maxSurge["default"]; ok {
		t.Errorf("a pointer field has no default: %v", maxSurge)
	}
	jsonEqual(t, "Quantity oneOf", at(t, def("io.k8s.apimachinery.pkg.api.resource.Quantity"), "oneOf"), `[{"type":"string"},{"type":"number"}]`)
	jsonEqual(t, "Time", at(t, def("io.k8s.apimachinery.pkg.apis.meta.v1.Time"), "format"), `"date-time"`)
	created := at(t, def("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), "properties", "creationTimestamp").(map[string]interface{})
	if _, ok := created["default"]; ok {
		t.Errorf("types that decode themselves get no default: %v", created)
	}
	jsonEqual(t, "RawExtension", at(t, def("io.k8s.apimachinery.pkg.runtime.RawExtension"), "type"), `"object"`)
	jsonEqual(t, "LabelSelector map type", at(t, def("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), "x-kubernetes-map-type"), `"atomic"`)
	jsonEqual(t, "matchLabels", at(t, def("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), "properties", "matchLabels", "additionalProperties"), `{"type":"string"}`)
	jsonEqual(t, "Scale of the scale subresource", at(t, def("io.k8s.api.autoscaling.v1.Scale"), "x-kubernetes-group-version-kind"),
		`[{"group":"autoscaling","version":"v1","kind":"Scale"}]`)
	gvks := at(t, def("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"), "x-kubernetes-group-version-kind").([]interface{})
	if len(gvks) < 10 || !reflect.DeepEqual(gvks[0], map[string]interface{}{"group": "", "version": "v1", "kind": "DeleteOptions"}) {
		t.Errorf("DeleteOptions is registered in every group version, core first: %v", gvks)
	}
	if _, ok := defs.(map[string]interface{})["io.k8s.api.core.v1.Service"]; ok {
		t.Error("a group version's document holds only the definitions its paths reach")
	}
}

func TestV3SchemasOfSpecialFields(t *testing.T) {
	secrets := &registry.Resource{GVK: corev1.SchemeGroupVersion.WithKind("Secret"), Name: "secrets", Namespaced: true,
		New: func() runtime.Object { return &corev1.Secret{} }, NewList: func() runtime.Object { return &corev1.SecretList{} }, Verbs: registry.AllVerbs}
	services := &registry.Resource{GVK: corev1.SchemeGroupVersion.WithKind("Service"), Name: "services", Namespaced: true,
		New: func() runtime.Object { return &corev1.Service{} }, NewList: func() runtime.Object { return &corev1.ServiceList{} }, Verbs: registry.AllVerbs}
	doc := roundTrip(t, V3(testInput(secrets, services), corev1.SchemeGroupVersion))
	defs := at(t, doc, "components", "schemas")
	jsonEqual(t, "[]byte", at(t, defs, "io.k8s.api.core.v1.Secret", "properties", "data", "additionalProperties"), `{"type":"string","format":"byte"}`)
	targetPort := at(t, defs, "io.k8s.api.core.v1.ServicePort", "properties", "targetPort").(map[string]interface{})
	jsonEqual(t, "targetPort", targetPort["allOf"], `[{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]`)
	jsonEqual(t, "ports", at(t, defs, "io.k8s.api.core.v1.ServiceSpec", "properties", "ports", "x-kubernetes-list-map-keys"), `["port","protocol"]`)
}

func TestV3PathsOfDeployments(t *testing.T) {
	doc := roundTrip(t, V3(testInput(deployments()), appsv1.SchemeGroupVersion))
	paths := at(t, doc, "paths")
	for _, tc := range []struct {
		path, method, id, action string
		kind                     string
	}{
		{"/apis/apps/v1/namespaces/{namespace}/deployments", "get", "listAppsV1NamespacedDeployment", "list", "Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments", "post", "createAppsV1NamespacedDeployment", "post", "Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments", "delete", "deleteAppsV1CollectionNamespacedDeployment", "deletecollection", "Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "get", "readAppsV1NamespacedDeployment", "get", "Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "put", "replaceAppsV1NamespacedDeployment", "put", "Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch", "patchAppsV1NamespacedDeployment", "patch", "Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "delete", "deleteAppsV1NamespacedDeployment", "delete", "Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", "patch", "patchAppsV1NamespacedDeploymentStatus", "patch", "Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "put", "replaceAppsV1NamespacedDeploymentScale", "put", "Scale"},
		{"/apis/apps/v1/deployments", "get", "listAppsV1DeploymentForAllNamespaces", "list", "Deployment"},
		{"/apis/apps/v1/watch/namespaces/{namespace}/deployments", "get", "watchAppsV1NamespacedDeploymentList", "watchlist", "Deployment"},
		{"/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}", "get", "watchAppsV1NamespacedDeployment", "watch", "Deployment"},
		{"/apis/apps/v1/watch/deployments", "get", "watchAppsV1DeploymentListForAllNamespaces", "watchlist", "Deployment"},
	} {
		op := at(t, paths, tc.path, tc.method)
		jsonEqual(t, tc.path+" "+tc.method+" id", at(t, op, "operationId"), `"`+tc.id+`"`)
		jsonEqual(t, tc.id+" action", at(t, op, "x-kubernetes-action"), `"`+tc.action+`"`)
		jsonEqual(t, tc.id+" kind", at(t, op, "x-kubernetes-group-version-kind", "kind"), `"`+tc.kind+`"`)
		jsonEqual(t, tc.id+" tag", at(t, op, "tags"), `["apps_v1"]`)
	}
	// kubectl looks for fieldValidation on the PATCH operation of a kind
	// to decide that the server validates fields, and for the strategic
	// merge patch media type to use the document for kubectl apply.
	patch := at(t, paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch")
	var names []string
	for _, p := range at(t, patch, "parameters").([]interface{}) {
		names = append(names, p.(map[string]interface{})["name"].(string))
	}
	if strings.Join(names, ",") != "dryRun,fieldManager,fieldValidation,force" {
		t.Errorf("patch parameters: %v", names)
	}
	at(t, patch, "requestBody", "content", "application/strategic-merge-patch+json")
	jsonEqual(t, "path parameters", at(t, paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "parameters"), `[
		{"name":"name","in":"path","description":"name of the Deployment","required":true,"schema":{"type":"string","uniqueItems":true}},
		{"name":"namespace","in":"path","description":"object name and auth scope, such as for teams and projects","required":true,"schema":{"type":"string","uniqueItems":true}},
		{"name":"pretty","in":"query","description":"If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).","schema":{"type":"string","uniqueItems":true}}]`)
	jsonEqual(t, "APIResources", at(t, paths, "/apis/apps/v1/", "get", "operationId"), `"getAppsV1APIResources"`)
	jsonEqual(t, "delete answers Status", at(t, paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "delete", "responses", "200", "content", "application/json", "schema"),
		`{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status"}`)
}

func TestV3PathsOfPodSubresources(t *testing.T) {
	doc := roundTrip(t, V3(testInput(pods()), corev1.SchemeGroupVersion))
	paths := at(t, doc, "paths")
	jsonEqual(t, "binding", at(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}/binding", "post", "operationId"), `"createCoreV1NamespacedPodBinding"`)
	jsonEqual(t, "binding description", at(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}/binding", "post", "description"), `"create binding of a Pod"`)
	jsonEqual(t, "binding body", at(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}/binding", "post", "requestBody", "content", "*/*", "schema"),
		`{"$ref":"#/components/schemas/io.k8s.api.core.v1.Binding"}`)
	jsonEqual(t, "exec", at(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}/exec", "get", "operationId"), `"connectCoreV1GetNamespacedPodExec"`)
	jsonEqual(t, "exec kind", at(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}/exec", "post", "x-kubernetes-group-version-kind", "kind"), `"PodExecOptions"`)
	var execParams []string
	for _, p := range at(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}/exec", "parameters").([]interface{}) {
		execParams = append(execParams, p.(map[string]interface{})["name"].(string))
	}
	if strings.Join(execParams, ",") != "command,container,name,namespace,stderr,stdin,stdout,tty" {
		t.Errorf("exec parameters: %v", execParams)
	}
	jsonEqual(t, "log", at(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "operationId"), `"readCoreV1NamespacedPodLog"`)
	jsonEqual(t, "log answers text", at(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "responses", "200", "content", "text/plain", "schema"), `{"type":"string"}`)
	jsonEqual(t, "graceful delete answers the object", at(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}", "delete", "responses", "202", "content", "application/json", "schema"),
		`{"$ref":"#/components/schemas/io.k8s.api.core.v1.Pod"}`)
}

func TestV2(t *testing.T) {
	doc := roundTrip(t, V2(testInput(pods(), deployments())))
	jsonEqual(t, "swagger", at(t, doc, "swagger"), `"2.0"`)
	defs := at(t, doc, "definitions")
	jsonEqual(t, "ref without allOf", at(t, defs, "io.k8s.api.apps.v1.Deployment", "properties", "spec"), `{
		"description": "Specification of the desired behavior of the Deployment.",
		"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"}`)
	jsonEqual(t, "IntOrString", at(t, defs, "io.k8s.apimachinery.pkg.util.intstr.IntOrString", "type"), `"string"`)
	jsonEqual(t, "Quantity", at(t, defs, "io.k8s.apimachinery.pkg.api.resource.Quantity", "type"), `"string"`)
	b, _ := json.Marshal(defs)
	if strings.Contains(string(b), `"default":`) || strings.Contains(string(b), `"allOf"`) {
		t.Error("v2 definitions carry no defaults and no allOf")
	}
	patch := at(t, doc, "paths", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch")
	jsonEqual(t, "body", at(t, patch, "parameters", 0), `{"name":"body","in":"body","required":true,"schema":{"$ref":"#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}`)
	jsonEqual(t, "query", at(t, patch, "parameters", 3), `{"name":"fieldValidation","in":"query","type":"string","uniqueItems":true,
		"description":"fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered."}`)
	jsonEqual(t, "core path", at(t, doc, "paths", "/api/v1/namespaces/{namespace}/pods", "get", "operationId"), `"listCoreV1NamespacedPod"`)
}

func TestCustomResourceWithoutSchemaKeepsUnknownFields(t *testing.T) {
	gvk := schema.GroupVersionKind{Group: "stable.example.com", Version: "v1", Kind: "CronTab"}
	crontabs := &registry.Resource{GVK: gvk, Name: "crontabs", Namespaced: true, Verbs: registry.AllVerbs,
		New: func() runtime.Object { return &unstructured.Unstructured{} }, NewList: func() runtime.Object { return &unstructured.UnstructuredList{} }}
	doc := roundTrip(t, V3(testInput(crontabs), gvk.GroupVersion()))
	def := at(t, doc, "components", "schemas", "com.example.stable.v1.CronTab")
	jsonEqual(t, "preserve", at(t, def, "x-kubernetes-preserve-unknown-fields"), `true`)
	jsonEqual(t, "gvk", at(t, def, "x-kubernetes-group-version-kind"), `[{"group":"stable.example.com","version":"v1","kind":"CronTab"}]`)
	jsonEqual(t, "list items", at(t, doc, "components", "schemas", "com.example.stable.v1.CronTabList", "properties", "items", "items"),
		`{"$ref":"#/components/schemas/com.example.stable.v1.CronTab"}`)
	jsonEqual(t, "operation id", at(t, doc, "paths", "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs", "get", "operationId"),
		`"listStableExampleComV1NamespacedCronTab"`)
	jsonEqual(t, "tag", at(t, doc, "paths", "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs", "get", "tags"), `["stableExampleCom_v1"]`)
}

func TestServiceHashesAndCaches(t *testing.T) {
	resources := []*registry.Resource{pods()}
	svc := New(Config{Resources: func() []*registry.Resource { return resources }, Subresources: subresourcesForTest, Scheme: scheme.Scheme, Version: "v1"})
	dsc, err := svc.V3Discovery()
	if err != nil {
		t.Fatal(err)
	}
	core, ok, err := svc.V3(corev1.SchemeGroupVersion)
	if err != nil || !ok {
		t.Fatalf("core/v1: %v %v", ok, err)
	}
	if len(core.Hash) != 128 || strings.ToUpper(core.Hash) != core.Hash {
		t.Errorf("hash is upper-case hex SHA-512: %q", core.Hash)
	}
	var d struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(dsc.JSON, &d); err != nil {
		t.Fatal(err)
	}
	if got := d.Paths["api/v1"].ServerRelativeURL; got != "/openapi/v3/api/v1?hash="+core.Hash {
		t.Errorf("serverRelativeURL %q", got)
	}
	if again, _, _ := svc.V3(corev1.SchemeGroupVersion); again != core {
		t.Error("documents are cached")
	}
	if _, ok, _ := svc.V3(appsv1.SchemeGroupVersion); ok {
		t.Error("apps/v1 is not served yet")
	}
	resources = append(resources, deployments())
	if _, ok, _ := svc.V3(appsv1.SchemeGroupVersion); !ok {
		t.Error("a resource added to the registry appears in the documents")
	}
	v2, err := svc.V2()
	if err != nil || !strings.Contains(string(v2.JSON), `"io.k8s.api.apps.v1.Deployment"`) {
		t.Errorf("v2: %v", err)
	}
	if len(v2.Gzip()) == 0 || len(v2.Gzip()) >= len(v2.JSON) {
		t.Errorf("gzip: %d of %d bytes", len(v2.Gzip()), len(v2.JSON))
	}
}

func TestEnumDocumentation(t *testing.T) {
	for _, tc := range []struct {
		desc string
		vals []enumValue
		want string
	}{
		{"Kind of thing.", []enumValue{{"b", "is B."}, {"a", ""}}, "Kind of thing.\n\nPossible enum values:\n - `\"a\"`\n - `\"b\"` is B."},
		{"", []enumValue{{"x", "is X."}}, "Possible enum values:\n - `\"x\"` is X."},
	} {
		if got := withEnumDoc(tc.desc, tc.vals); got != tc.want {
			t.Errorf("withEnumDoc(%q) = %q, want %q", tc.desc, got, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{definitionName(reflect.TypeOf(corev1.Pod{})), "io.k8s.api.core.v1.Pod"},
		{definitionName(reflect.TypeOf(metav1.ObjectMeta{})), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
		{definitionName(reflect.TypeOf(registry.Resource{})), "com.github.kedge-dev.kedge.internal.registry.Resource"},
		{groupPrefix(""), "Core"},
		{groupPrefix("rbac.authorization.k8s.io"), "RbacAuthorization"},
		{groupPrefix("flowcontrol.apiserver.k8s.io"), "FlowcontrolApiserver"},
		{tagOf(schema.GroupVersion{Group: "rbac.authorization.k8s.io", Version: "v1"}), "rbacAuthorization_v1"},
		{tagOf(schema.GroupVersion{Version: "v1"}), "core_v1"},
		{"create" + article("Pod") + "Pod", "create a Pod"},
		{"create" + article("Ingress") + "Ingress", "create an Ingress"},
		{"create" + article("Endpoints") + "Endpoints", "create Endpoints"},
		{"create" + article("IngressClass") + "IngressClass", "create an IngressClass"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
