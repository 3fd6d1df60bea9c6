package registry

import (
	"fmt"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func res(group, version, name string) *Resource {
	return &Resource{GVK: schema.GroupVersionKind{Group: group, Version: version, Kind: "K" + name}, Name: name}
}

func TestGroupVersionsOrderBuiltinThenCustom(t *testing.T) {
	r := New(res("", "v1", "pods"), res("autoscaling", "v2", "hpas"), res("autoscaling", "v1", "hpas"), res("apps", "v1", "deployments"))
	r.Add(res("zeta.example.com", "v1", "zs"), res("alpha.example.com", "v1alpha1", "as"),
		res("alpha.example.com", "v1", "as"), res("alpha.example.com", "v1beta1", "as"))
	var got []string
	for _, gv := range r.GroupVersions() {
		got = append(got, gv.String())
	}
	want := "[v1 apps/v1 autoscaling/v2 autoscaling/v1 alpha.example.com/v1 alpha.example.com/v1beta1 alpha.example.com/v1alpha1 zeta.example.com/v1]"
	if fmt.Sprint(got) != want {
		t.Errorf("got %v\nwant %s", got, want)
	}
}

func TestReplaceSwapsResourcesAtOnce(t *testing.T) {
	r := New(res("", "v1", "pods"))
	old := res("example.com", "v1", "widgets")
	r.Add(old)
	newer := res("example.com", "v1", "widgets")
	r.Replace([]schema.GroupVersionResource{old.GroupVersionResource()}, newer, res("example.com", "v2", "widgets"))
	if got, _ := r.Lookup(old.GroupVersionResource()); got != newer {
		t.Error("lookup does not see the replacement")
	}
	if n := len(r.Resources()); n != 3 {
		t.Errorf("%d resources", n)
	}
	r.Remove(newer.GroupVersionResource(), schema.GroupVersionResource{Group: "example.com", Version: "v2", Resource: "widgets"})
	if _, ok := r.Lookup(old.GroupVersionResource()); ok || len(r.GroupVersions()) != 1 {
		t.Errorf("removed resources remain: %v", r.GroupVersions())
	}
	if newer.Verbs == nil || newer.Singular != "kwidgets" {
		t.Errorf("defaults not applied: %+v", newer)
	}
}

func TestConcurrentReadersAndWriters(t *testing.T) {
	r := New(res("", "v1", "pods"))
	gvr := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				r.Replace([]schema.GroupVersionResource{gvr}, res("example.com", "v1", "widgets"))
				_, _ = r.Lookup(gvr)
				_ = r.GroupVersions()
				for range r.Resources() {
				}
			}
		}()
	}
	wg.Wait()
	if n := len(r.Resources()); n != 2 {
		t.Errorf("%d resources", n)
	}
}
