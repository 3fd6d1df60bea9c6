package endpointslice

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func service() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-uid", Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.43.0.10",
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}}},
	}
}

func pod(i int, opts ...func(*corev1.Pod)) *corev1.Pod {
	ip := fmt.Sprintf("10.42.%d.%d", i/200, i%200+1)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "default", UID: types.UID(fmt.Sprintf("pod-%d", i)), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func pods(from, to int) []*corev1.Pod {
	var out []*corev1.Pod
	for i := from; i < to; i++ {
		out = append(out, pod(i))
	}
	return out
}

// apply plays changes into a store of slices, as the API server would.
func apply(existing []*discoveryv1.EndpointSlice, ch Changes) []*discoveryv1.EndpointSlice {
	byName := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		byName[s.Name] = s
	}
	for _, s := range ch.Delete {
		delete(byName, s.Name)
	}
	for _, s := range ch.Update {
		byName[s.Name] = s
	}
	for i, s := range ch.Create {
		s = s.DeepCopy()
		s.Name = fmt.Sprintf("%s%d-%d", s.GenerateName, len(byName), i)
		s.UID = types.UID(s.Name)
		byName[s.Name] = s
	}
	var out []*discoveryv1.EndpointSlice
	for _, s := range byName {
		out = append(out, s)
	}
	return out
}

func endpointCount(slices []*discoveryv1.EndpointSlice) int {
	n := 0
	for _, s := range slices {
		n += len(s.Endpoints)
	}
	return n
}

func TestNewServiceGetsOneSlice(t *testing.T) {
	ch := Reconcile(Input{Service: service(), Pods: pods(0, 2), NodeZones: map[string]string{"node-1": "zone-a"}, TriggerTime: t0})
	if len(ch.Create) != 1 || len(ch.Update)+len(ch.Delete) != 0 {
		t.Fatalf("changes = %+v", ch)
	}
	s := ch.Create[0]
	if s.GenerateName != "web-" || s.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("generateName %q addressType %q", s.GenerateName, s.AddressType)
	}
	wantLabels := map[string]string{"app": "web", ServiceNameLabel: "web", ManagedByLabel: ManagedByValue}
	if !reflect.DeepEqual(s.Labels, wantLabels) {
		t.Errorf("labels = %v", s.Labels)
	}
	if ref := metav1.GetControllerOf(s); ref == nil || ref.Kind != "Service" || ref.UID != "svc-uid" || !*ref.BlockOwnerDeletion {
		t.Errorf("owner = %+v", s.OwnerReferences)
	}
	if s.Annotations[triggerTimeKey] != "2025-01-01T12:00:00Z" {
		t.Errorf("annotations = %v", s.Annotations)
	}
	wantPorts := []discoveryv1.EndpointPort{{Name: ptr.To(""), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}}
	if !reflect.DeepEqual(s.Ports, wantPorts) {
		t.Errorf("ports = %+v", s.Ports)
	}
	want := discoveryv1.Endpoint{
		Addresses:  []string{"10.42.0.1"},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
		NodeName:   ptr.To("node-1"),
		Zone:       ptr.To("zone-a"),
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-0", UID: "pod-0"},
	}
	if len(s.Endpoints) != 2 || !reflect.DeepEqual(s.Endpoints[0], want) {
		t.Errorf("endpoints = %+v", s.Endpoints)
	}
}

func TestEndpointConditions(t *testing.T) {
	terminating := func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: t0} }
	notReady := func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
	publish := service()
	publish.Spec.PublishNotReadyAddresses = true
	tests := []struct {
		name                        string
		svc                         *corev1.Service
		pod                         *corev1.Pod
		ready, serving, terminating bool
	}{
		{"ready", service(), pod(0), true, true, false},
		{"not ready", service(), pod(0, notReady), false, false, false},
		{"terminating but still serving", service(), pod(0, terminating), false, true, true},
		{"publishNotReadyAddresses", publish, pod(0, notReady), true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Endpoint(tt.svc, tt.pod, "").Conditions
			if *c.Ready != tt.ready || *c.Serving != tt.serving || *c.Terminating != tt.terminating {
				t.Errorf("ready %v serving %v terminating %v", *c.Ready, *c.Serving, *c.Terminating)
			}
		})
	}
}

func TestSlicesConverge(t *testing.T) {
	svc := service()
	steps := []struct {
		name       string
		pods       []*corev1.Pod
		wantSlices int
		maxWrites  int // creates+updates+deletes allowed for the step
	}{
		{"no pods: a placeholder", nil, 1, 1},
		{"pods appear: the placeholder is reused", pods(0, 3), 1, 1},
		{"150 pods: a second slice", pods(0, 150), 2, 2},
		{"one pod replaced: one slice touched", append(pods(1, 150), pod(500)), 2, 1},
		{"scale to 10: one slice left", pods(0, 10), 1, 2},
		{"no change: no writes", pods(0, 10), 1, 0},
		{"all pods gone: back to a placeholder", nil, 1, 1},
	}
	var store []*discoveryv1.EndpointSlice
	for _, st := range steps {
		ch := Reconcile(Input{Service: svc, Pods: st.pods, Existing: store})
		if w := len(ch.Create) + len(ch.Update) + len(ch.Delete); w > st.maxWrites {
			t.Errorf("%s: %d writes, at most %d expected (%d/%d/%d)", st.name, w, st.maxWrites, len(ch.Create), len(ch.Update), len(ch.Delete))
		}
		store = apply(store, ch)
		if len(store) != st.wantSlices || endpointCount(store) != len(st.pods) {
			t.Errorf("%s: %d slices with %d endpoints, want %d slices with %d", st.name, len(store), endpointCount(store), st.wantSlices, len(st.pods))
		}
		for _, s := range store {
			if len(s.Endpoints) > MaxEndpointsPerSlice {
				t.Errorf("%s: slice with %d endpoints", st.name, len(s.Endpoints))
			}
		}
		if again := Reconcile(Input{Service: svc, Pods: st.pods, Existing: store}); !again.Empty() {
			t.Errorf("%s: not stable, next sync wants %+v", st.name, again)
		}
	}
}

func TestPortSetsGetTheirOwnSlices(t *testing.T) {
	other := pod(1)
	other.Spec.Containers[0].Ports[0].ContainerPort = 9090
	noPort := pod(2)
	noPort.Spec.Containers[0].Ports = nil
	ch := Reconcile(Input{Service: service(), Pods: []*corev1.Pod{pod(0), other, noPort}})
	if len(ch.Create) != 2 {
		t.Fatalf("want one slice per port set, got %d", len(ch.Create))
	}
	for _, s := range ch.Create {
		if len(s.Endpoints) != 1 {
			t.Errorf("slice with ports %v has %d endpoints", *s.Ports[0].Port, len(s.Endpoints))
		}
	}
}

func TestTracker(t *testing.T) {
	tr := newTracker()
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{UID: "s1", Generation: 2}}
	tr.Wrote("ns/web", slice)
	if !tr.Stale("ns/web", nil) {
		t.Error("a created slice missing from the cache is stale")
	}
	old := slice.DeepCopy()
	old.Generation = 1
	if !tr.Stale("ns/web", []*discoveryv1.EndpointSlice{old}) {
		t.Error("an older generation is stale")
	}
	if tr.Stale("ns/web", []*discoveryv1.EndpointSlice{slice}) {
		t.Error("caught up")
	}
	tr.Deleted("ns/web", "s1")
	if !tr.Stale("ns/web", []*discoveryv1.EndpointSlice{slice}) {
		t.Error("a deleted slice still cached is stale")
	}
	tr.Gone("ns/web", "s1")
	if tr.Stale("ns/web", []*discoveryv1.EndpointSlice{slice}) {
		t.Error("the informer's delete clears the expectation")
	}
}
