package endpoints

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func service(ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}, CreationTimestamp: metav1.NewTime(t0)},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.43.0.10", Ports: ports},
	}
}

func svcPort(name string, port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: target, Protocol: corev1.ProtocolTCP}
}

type podOpt func(*corev1.Pod)

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func terminating(p *corev1.Pod) {
	ts := metav1.NewTime(t0)
	p.DeletionTimestamp = &ts
}
func noIP(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil }
func withPorts(ports ...corev1.ContainerPort) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports = ports }
}

func pod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + ip), Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func addr(name, ip string) corev1.EndpointAddress {
	return corev1.EndpointAddress{IP: ip, NodeName: ptr.To("node-1"),
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: name, UID: types.UID("uid-" + ip)}}
}

func TestSubsets(t *testing.T) {
	httpPort := corev1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []corev1.EndpointSubset
	}{
		{
			name: "ready and not ready pods, numeric targetPort",
			svc:  service(svcPort("http", 80, intstr.FromInt32(8080))),
			pods: []*corev1.Pod{pod("b", "10.42.0.11"), pod("a", "10.42.0.9"), pod("c", "10.42.0.12", notReady)},
			want: []corev1.EndpointSubset{{
				Addresses:         []corev1.EndpointAddress{addr("a", "10.42.0.9"), addr("b", "10.42.0.11")},
				NotReadyAddresses: []corev1.EndpointAddress{addr("c", "10.42.0.12")},
				Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
			}},
		},
		{
			name: "named targetPort resolved per pod; pods lacking it are left out",
			svc:  service(svcPort("", 80, intstr.FromString("http"))),
			pods: []*corev1.Pod{pod("a", "10.42.0.9", withPorts(httpPort)), pod("b", "10.42.0.10")},
			want: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{addr("a", "10.42.0.9")},
				Ports:     []corev1.EndpointPort{{Port: 8080, Protocol: corev1.ProtocolTCP}},
			}},
		},
		{
			name: "different resolved ports make different subsets",
			svc:  service(svcPort("", 80, intstr.FromString("http"))),
			pods: []*corev1.Pod{
				pod("a", "10.42.0.9", withPorts(httpPort)),
				pod("b", "10.42.0.10", withPorts(corev1.ContainerPort{Name: "http", ContainerPort: 9090})),
			},
			want: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("a", "10.42.0.9")}, Ports: []corev1.EndpointPort{{Port: 8080, Protocol: corev1.ProtocolTCP}}},
				{Addresses: []corev1.EndpointAddress{addr("b", "10.42.0.10")}, Ports: []corev1.EndpointPort{{Port: 9090, Protocol: corev1.ProtocolTCP}}},
			},
		},
		{
			name: "pods without IP and terminating pods are not published",
			svc:  service(svcPort("", 80, intstr.FromInt32(80))),
			pods: []*corev1.Pod{pod("a", "10.42.0.9", noIP), pod("b", "10.42.0.10", terminating)},
			want: []corev1.EndpointSubset{},
		},
		{
			name: "publishNotReadyAddresses lists every pod as ready",
			svc: func() *corev1.Service {
				s := service(svcPort("", 80, intstr.FromInt32(80)))
				s.Spec.PublishNotReadyAddresses = true
				return s
			}(),
			pods: []*corev1.Pod{pod("a", "10.42.0.9", notReady)},
			want: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.42.0.9")}, Ports: []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}}}},
		},
		{
			name: "headless without ports lists bare addresses",
			svc: func() *corev1.Service {
				s := service()
				s.Spec.ClusterIP = corev1.ClusterIPNone
				return s
			}(),
			pods: []*corev1.Pod{pod("a", "10.42.0.9")},
			want: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.42.0.9")}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Subsets(tt.svc, tt.pods)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("subsets =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	svc := service(svcPort("", 80, intstr.FromInt32(80)))
	subsets := Subsets(svc, []*corev1.Pod{pod("a", "10.42.0.9")})

	ep, changed := Build(svc, subsets, nil, t0)
	if !changed || ep.Name != "web" || ep.Namespace != "default" {
		t.Fatalf("new endpoints: %v %+v", changed, ep.ObjectMeta)
	}
	if got := ep.Annotations[TriggerTimeAnnotation]; got != "2025-01-01T12:00:00Z" {
		t.Errorf("trigger time annotation = %q", got)
	}
	if !reflect.DeepEqual(ep.Labels, map[string]string{"app": "web"}) {
		t.Errorf("labels = %v", ep.Labels)
	}
	if _, changed := Build(svc, subsets, ep, t0.Add(time.Second)); changed {
		t.Error("no change must mean no write")
	}
	headless := svc.DeepCopy()
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	ep2, changed := Build(headless, nil, ep, time.Time{})
	if !changed || ep2.Labels[HeadlessLabel] != "" || len(ep2.Labels) != 2 {
		t.Errorf("headless: %v %v", changed, ep2.Labels)
	}
	if _, ok := ep2.Annotations[TriggerTimeAnnotation]; ok {
		t.Error("a zero trigger time removes the annotation")
	}
}

func TestTruncate(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 900 {
		pods = append(pods, pod(fmt.Sprintf("r%d", i), fmt.Sprintf("10.42.%d.%d", i/250, i%250+1)))
	}
	for i := range 300 {
		pods = append(pods, pod(fmt.Sprintf("n%d", i), fmt.Sprintf("10.42.%d.%d", 10+i/250, i%250+1), notReady))
	}
	svc := service(svcPort("", 80, intstr.FromInt32(80)))
	ep, _ := Build(svc, Subsets(svc, pods), nil, t0)
	r, n := count(ep.Subsets)
	if r != 900 || n != 100 || ep.Annotations[OverCapacityAnnotation] != "truncated" {
		t.Errorf("ready %d notReady %d annotations %v", r, n, ep.Annotations)
	}
}
