package openapi

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
)

// Every built-in kind (and Scale) converts to a typed value with the type
// converter server-side apply builds from Models.
func TestModelsBuildATypeConverterForEveryKind(t *testing.T) {
	cfg := builtinConfig()
	in := Input{Resources: cfg.Resources(), Subresources: cfg.Subresources, Scheme: cfg.Scheme}
	start := time.Now()
	tc, err := managedfields.NewTypeConverter(Models(in), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("type converter of %d kinds built in %v", len(in.Resources), time.Since(start))
	for _, res := range in.Resources {
		obj := res.New()
		obj.GetObjectKind().SetGroupVersionKind(res.GVK)
		if _, err := tc.ObjectToTyped(obj); err != nil {
			t.Errorf("%s: %v", res.GVK, err)
		}
	}
	scale := &autoscalingv1.Scale{}
	scale.GetObjectKind().SetGroupVersionKind(autoscalingv1.SchemeGroupVersion.WithKind("Scale"))
	if _, err := tc.ObjectToTyped(scale); err != nil {
		t.Errorf("Scale: %v", err)
	}
	var d runtime.Object = &appsv1.Deployment{}
	d.GetObjectKind().SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	if _, err := tc.ObjectToTyped(d); err != nil {
		t.Error(err)
	}
}
