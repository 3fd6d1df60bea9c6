package ctrlutil

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func readyPod(name string, since time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8080},
			{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
		}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.5",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since)}}},
	}
}

func TestFindPort(t *testing.T) {
	pod := readyPod("a", t0)
	tests := []struct {
		name    string
		port    corev1.ServicePort
		want    int32
		wantErr bool
	}{
		{"number", corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9000)}, 9000, false},
		{"zero means same as port", corev1.ServicePort{Port: 80}, 80, false},
		{"named TCP (default protocol)", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}, 8080, false},
		{"named UDP", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}, 5353, false},
		{"name with other protocol", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns")}, 0, true},
		{"missing name", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("grpc")}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindPort(pod, &tt.port)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("FindPort = %d, %v; want %d (err %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPodPredicates(t *testing.T) {
	now := t0.Add(time.Minute)
	deleting := readyPod("d", t0)
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	done := readyPod("f", t0)
	done.Status.Phase = corev1.PodSucceeded
	done.Spec.RestartPolicy = corev1.RestartPolicyNever
	noIP := readyPod("n", t0)
	noIP.Status.PodIP = ""

	if !IsPodAvailable(readyPod("a", t0), 30, now) || IsPodAvailable(readyPod("a", t0), 90, now) {
		t.Error("availability must honour minReadySeconds")
	}
	if IsPodActive(deleting) || IsPodActive(done) || !IsPodActive(readyPod("a", t0)) {
		t.Error("IsPodActive")
	}
	if ShouldPodBeInEndpoints(deleting, false) || !ShouldPodBeInEndpoints(deleting, true) {
		t.Error("terminating pods are published only when asked")
	}
	if ShouldPodBeInEndpoints(done, true) || ShouldPodBeInEndpoints(noIP, true) {
		t.Error("finished pods and pods without IP are never published")
	}
}

func TestClaimObjects(t *testing.T) {
	owner := &metav1.ObjectMeta{Name: "rs", UID: "owner"}
	mine := readyPod("mine", t0)
	mine.OwnerReferences = []metav1.OwnerReference{{UID: "owner", Controller: ptr.To(true)}}
	mineMoved := readyPod("moved", t0)
	mineMoved.Labels = map[string]string{"app": "db"}
	mineMoved.OwnerReferences = mine.OwnerReferences
	orphan := readyPod("orphan", t0)
	theirs := readyPod("theirs", t0)
	theirs.OwnerReferences = []metav1.OwnerReference{{UID: "other", Controller: ptr.To(true)}}
	otherApp := readyPod("other-app", t0)
	otherApp.Labels = map[string]string{"app": "db"}

	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	c := ClaimObjects(owner, sel, []*corev1.Pod{mine, mineMoved, orphan, theirs, otherApp})
	if len(c.Owned) != 1 || c.Owned[0] != mine || len(c.Adopt) != 1 || c.Adopt[0] != orphan || len(c.Release) != 1 || c.Release[0] != mineMoved {
		t.Errorf("claim = owned %v adopt %v release %v", c.Owned, c.Adopt, c.Release)
	}
	deleting := &metav1.ObjectMeta{Name: "rs", UID: "owner", DeletionTimestamp: &metav1.Time{Time: t0}}
	if c := ClaimObjects(deleting, sel, []*corev1.Pod{orphan}); len(c.Adopt) != 0 {
		t.Error("an owner being deleted adopts nothing")
	}
}

func TestTriggerTimes(t *testing.T) {
	tr := NewTriggerTimes()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: metav1.NewTime(t0)}}
	p := readyPod("a", t0)
	p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(t0.Add(time.Minute))
	if got := tr.Compute("default/web", svc, []*corev1.Pod{p}); !got.Equal(t0) {
		t.Errorf("first sync = %v, want the service creation time", got)
	}
	if got := tr.Compute("default/web", svc, []*corev1.Pod{p}); !got.IsZero() {
		t.Errorf("nothing changed = %v, want zero", got)
	}
	q := readyPod("b", t0)
	q.Status.Conditions[0].LastTransitionTime = metav1.NewTime(t0.Add(3 * time.Minute))
	p2 := p.DeepCopy()
	p2.Status.Conditions[0].LastTransitionTime = metav1.NewTime(t0.Add(2 * time.Minute))
	if got := tr.Compute("default/web", svc, []*corev1.Pod{p2, q}); !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("two changes = %v, want the earliest", got)
	}
}
