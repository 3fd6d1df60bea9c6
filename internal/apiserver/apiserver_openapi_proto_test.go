package apiserver_test

import (
	"net/http"
	"testing"

	"k8s.io/client-go/discovery"
)

// TestOpenAPIV2Protobuf: kubectl validates kinds that OpenAPI v3 does not
// describe with the v2 document, which it asks for only as protobuf.
func TestOpenAPIV2Protobuf(t *testing.T) {
	s := startServer(t)
	resp := get(t, s.config, "/openapi/v2", "Accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" {
		t.Fatalf("/openapi/v2 as protobuf: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	dc, err := discovery.NewDiscoveryClientForConfig(s.config)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range doc.GetDefinitions().GetAdditionalProperties() {
		if p.GetName() == "io.k8s.api.apps.v1.Deployment" {
			found = true
		}
	}
	if !found || doc.GetInfo().GetVersion() == "" {
		t.Fatalf("protobuf v2 document lacks io.k8s.api.apps.v1.Deployment (version %q)", doc.GetInfo().GetVersion())
	}
	if resp := get(t, s.config, "/openapi/v3", "Accept", "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"); resp.StatusCode != http.StatusNotAcceptable {
		t.Fatalf("/openapi/v3 as protobuf: %s", resp.Status)
	}
}
