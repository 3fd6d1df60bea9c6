package apiserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
)

// get sends a GET with the admin client's credentials, not following
// redirects.
func get(t *testing.T, cfg *rest.Config, path string, header ...string) *http.Response {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestOpenAPIV3DiscoveryHashesAndCaching(t *testing.T) {
	s := startServer(t)
	resp := get(t, s.config, "/openapi/v3")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/openapi/v3: %s", resp.Status)
	}
	var dsc struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&dsc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"api/v1", "apis/apps/v1"} {
		if !strings.HasPrefix(dsc.Paths[p].ServerRelativeURL, "/openapi/v3/"+p+"?hash=") {
			t.Errorf("%s: serverRelativeURL %q", p, dsc.Paths[p].ServerRelativeURL)
		}
	}
	url := dsc.Paths["apis/apps/v1"].ServerRelativeURL
	hash := url[strings.Index(url, "hash=")+len("hash="):]

	hashed := get(t, s.config, url)
	if hashed.StatusCode != http.StatusOK || hashed.Header.Get("Cache-Control") != "public, immutable" ||
		hashed.Header.Get("Etag") != `"`+hash+`"` || hashed.Header.Get("Content-Type") != "application/json" {
		t.Errorf("hashed URL: %s %v", hashed.Status, hashed.Header)
	}
	plain := get(t, s.config, "/openapi/v3/apis/apps/v1")
	if plain.StatusCode != http.StatusOK || plain.Header.Get("Cache-Control") == "public, immutable" {
		t.Errorf("URL without hash: %s %v", plain.Status, plain.Header)
	}
	stale := get(t, s.config, "/openapi/v3/apis/apps/v1?hash=0123")
	if stale.StatusCode != http.StatusMovedPermanently || stale.Header.Get("Location") != url {
		t.Errorf("stale hash: %s, Location %q", stale.Status, stale.Header.Get("Location"))
	}
	if r := get(t, s.config, "/openapi/v3/apis/apps/v1", "If-None-Match", `"`+hash+`"`); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %s", r.Status)
	}
	if r := get(t, s.config, "/openapi/v3/apis/apps/v1", "Accept", "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"); r.StatusCode != http.StatusNotAcceptable {
		t.Errorf("protobuf only: %s", r.Status)
	}
	if r := get(t, s.config, "/openapi/v3/apis/nosuch.example.com/v1"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown group version: %s", r.Status)
	}
}

func TestOpenAPIV2(t *testing.T) {
	s := startServer(t)
	resp := get(t, s.config, "/openapi/v2", "Accept", "application/json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Etag") == "" {
		t.Fatalf("/openapi/v2: %s %v", resp.Status, resp.Header)
	}
	body, _ := io.ReadAll(resp.Body)
	var doc struct {
		Swagger     string                     `json:"swagger"`
		Definitions map[string]json.RawMessage `json:"definitions"`
		Paths       map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Swagger != "2.0" || doc.Definitions["io.k8s.api.core.v1.Pod"] == nil || doc.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"] == nil {
		t.Errorf("v2 document lacks pods or deployments (%d definitions)", len(doc.Definitions))
	}
	if r := get(t, s.config, "/openapi/v2", "Accept", "application/yaml"); r.StatusCode != http.StatusNotAcceptable {
		t.Errorf("yaml only: %s", r.Status)
	}
}

// TestOpenAPIAsKubectlReadsIt does what kubectl does with the documents:
// find the kind's schema by its x-kubernetes-group-version-kind, look for
// fieldValidation on its PATCH operation (server-side field validation),
// and compute a strategic merge patch from the schema's patch metadata.
func TestOpenAPIAsKubectlReadsIt(t *testing.T) {
	s := startServer(t)
	root := openapi3.NewRoot(s.client.Discovery().OpenAPIV3())
	doc, err := root.GVSpec(appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	if !patchHasQueryParam(doc, "Deployment", "fieldValidation") {
		t.Error("the PATCH operation of Deployment does not offer fieldValidation")
	}
	deployment := doc.Components.Schemas["io.k8s.api.apps.v1.Deployment"]
	if deployment == nil {
		t.Fatal("no Deployment schema")
	}
	meta := strategicpatch.PatchMetaFromOpenAPIV3{SchemaList: doc.Components.Schemas, Schema: deployment}
	original := `{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}}}}`
	modified := `{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:2"},{"name":"b","image":"b:1"}]}}}}`
	patch, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(original), meta, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(patch), `"$setElementOrder/containers"`) || !strings.Contains(string(patch), `{"image":"a:2","name":"a"}`) {
		t.Errorf("containers are not merged by name: %s", patch)
	}

	// Server-side apply's type converter builds from the same documents.
	tc, err := openapi.NewTypeConverter(s.client.Discovery().OpenAPIV3(), false)
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	if _, err := tc.ObjectToTyped(pod); err != nil {
		t.Errorf("type converter: %v", err)
	}
}

func patchHasQueryParam(doc *spec3.OpenAPI, kind, name string) bool {
	for _, p := range doc.Paths.Paths {
		op := p.Patch
		if op == nil {
			continue
		}
		gvk, _ := op.Extensions["x-kubernetes-group-version-kind"].(map[string]interface{})
		if gvk["kind"] != kind {
			continue
		}
		for _, prm := range append(op.Parameters, p.Parameters...) {
			if prm.Name == name && prm.In == "query" {
				return true
			}
		}
	}
	return false
}
