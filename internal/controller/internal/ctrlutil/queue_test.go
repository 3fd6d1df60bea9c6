package ctrlutil

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestEnqueueHandler(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}}
	tests := []struct {
		name  string
		event func(h cache.ResourceEventHandlerFuncs)
	}{
		{"add", func(h cache.ResourceEventHandlerFuncs) { h.OnAdd(pod, false) }},
		{"update queues the new object", func(h cache.ResourceEventHandlerFuncs) {
			h.OnUpdate(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: "default"}}, pod)
		}},
		{"delete", func(h cache.ResourceEventHandlerFuncs) { h.OnDelete(pod) }},
		{"delete of a tombstone", func(h cache.ResourceEventHandlerFuncs) {
			h.OnDelete(cache.DeletedFinalStateUnknown{Key: "default/p", Obj: pod})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue("test")
			defer q.ShutDown()
			tt.event(EnqueueHandler(q))
			if q.Len() != 1 {
				t.Fatalf("queue length = %d, want 1", q.Len())
			}
			if key, _ := q.Get(); key != "default/p" {
				t.Errorf("key = %q, want default/p", key)
			}
		})
	}
}
