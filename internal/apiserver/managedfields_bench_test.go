package apiserver

import (
	"context"
	"net/netip"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kedge-dev/kedge/internal/registry/builtin"
)

// BenchmarkTrackFieldsOnCreate measures what recording managedFields adds
// to the create of a pod (the hot path of bench/apiserver): pods of one
// template (as a controller creates them), and pods that all differ.
func BenchmarkTrackFieldsOnCreate(b *testing.B) {
	for _, bc := range []struct {
		name   string
		unique bool
	}{{"same-template", false}, {"all-different", true}} {
		b.Run(bc.name, func(b *testing.B) {
			reg := builtin.New(builtin.Config{ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"),
				Taken: func(context.Context, string) (bool, error) { return false, nil }})
			s := &Server{reg: reg}
			res, _ := reg.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "pods"})
			ctx := withManager(context.Background(), "bench")
			newPod := func(i int) *corev1.Pod {
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: "p" + strconv.Itoa(i), Namespace: "default", Labels: map[string]string{"app": "bench", "tier": "web"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "c", Image: "localhost/echo:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}},
					}}},
				}
				if bc.unique {
					p.Labels["n"] = strconv.Itoa(i)
				}
				res.Default(p)
				return p
			}
			s.trackFields(ctx, res, updateMain, nil, newPod(-1))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := s.trackFields(ctx, res, updateMain, nil, newPod(i)).(*corev1.Pod)
				if len(p.ManagedFields) != 1 {
					b.Fatalf("managed fields: %+v", p.ManagedFields)
				}
			}
		})
	}
}
