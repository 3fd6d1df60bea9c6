package openapi

import (
	"net/netip"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"

	"github.com/kedge-dev/kedge/internal/registry/builtin"
)

func builtinConfig() Config {
	reg := builtin.New(builtin.Config{ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16")})
	return Config{Resources: reg.Resources, Subresources: subresourcesForTest, Scheme: scheme.Scheme, Version: "v1.37.2+kedge.1"}
}

// BenchmarkV3 generates and encodes the v3 documents of every built-in
// group version (what the first /openapi/v3 request costs).
func BenchmarkV3(b *testing.B) {
	cfg := builtinConfig()
	var size, gvs int
	for i := 0; i < b.N; i++ {
		svc := New(cfg)
		if _, err := svc.V3Discovery(); err != nil {
			b.Fatal(err)
		}
		size, gvs = 0, 0
		for _, gv := range GroupVersions(cfg.Resources()) {
			d, _, _ := svc.V3(gv)
			size += len(d.JSON)
			gvs++
		}
	}
	b.ReportMetric(float64(size), "bytes/all-docs")
	b.ReportMetric(float64(gvs), "group-versions")
}

// BenchmarkV2 generates and encodes the v2 document.
func BenchmarkV2(b *testing.B) {
	cfg := builtinConfig()
	var size, gz int
	for i := 0; i < b.N; i++ {
		d, err := New(cfg).V2()
		if err != nil {
			b.Fatal(err)
		}
		size = len(d.JSON)
		if i == 0 {
			gz = len(d.Gzip())
		}
	}
	b.ReportMetric(float64(size), "bytes")
	b.ReportMetric(float64(gz), "gzip-bytes")
}

func TestBuiltinRegistryDocumentsBuild(t *testing.T) {
	cfg := builtinConfig()
	svc := New(cfg)
	for _, gv := range GroupVersions(cfg.Resources()) {
		d, ok, err := svc.V3(gv)
		if err != nil || !ok || len(d.JSON) == 0 {
			t.Errorf("%s: ok=%v err=%v", gv, ok, err)
		}
	}
	if _, err := svc.V2(); err != nil {
		t.Fatal(err)
	}
}
