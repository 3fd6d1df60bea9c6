package daemonset

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

func newTestController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset, *record.FakeRecorder, context.Context) {
	t.Helper()
	cs := ctrltest.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(cs, 0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Options{Client: cs, Informers: f, Recorder: rec, Workers: 1, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return c, cs, rec, ctrltest.StartInformers(t, f)
}

func TestSyncCreatesOnePodPerNode(t *testing.T) {
	ds := testDS()
	c, cs, rec, ctx := newTestController(t, ds, node("n1"), node("n2"))

	if err := c.sync(ctx, "default/agent"); err != nil {
		t.Fatal(err)
	}
	revs, _ := cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{})
	if len(revs.Items) != 1 || revs.Items[0].Revision != 1 {
		t.Fatalf("revisions = %+v", revs.Items)
	}
	hash := revs.Items[0].Labels["controller-revision-hash"]
	pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 2 {
		t.Fatalf("pods = %d, want 2", len(pods.Items))
	}
	targets := map[string]bool{}
	for _, p := range pods.Items {
		targets[TargetNode(&p)] = true
		if p.Labels["controller-revision-hash"] != hash || p.Labels["pod-template-generation"] != "1" {
			t.Errorf("pod labels = %v", p.Labels)
		}
	}
	if !targets["n1"] || !targets["n2"] {
		t.Errorf("pods target %v", targets)
	}
	events := ctrltest.Drain(rec.Events)
	if len(events) != 2 || !strings.HasPrefix(events[0], "Normal SuccessfulCreate Created pod: agent-") {
		t.Errorf("events = %q", events)
	}
	got, _ := cs.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
	if got.Status.DesiredNumberScheduled != 2 || got.Status.ObservedGeneration != 1 || got.Status.NumberUnavailable != 2 {
		t.Errorf("status = %+v", got.Status)
	}

	// Until the informer shows both pods, syncs only refresh status.
	if err := c.sync(ctx, "default/agent"); err != nil {
		t.Fatal(err)
	}
	pods, _ = cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 2 {
		t.Errorf("over-created: %d pods", len(pods.Items))
	}
}

func TestSyncReplacesFailedPodWithBackoff(t *testing.T) {
	ds := testDS()
	hp, _ := PlanHistory(ds, nil, nil)
	rev := hp.Current
	failed := dsPod(ds, "agent-x", "n1", rev.Labels["controller-revision-hash"], phase(corev1.PodFailed))
	c, cs, rec, ctx := newTestController(t, ds, node("n1"), rev, failed)
	ctrltest.Eventually(t, "pod cached", func() bool {
		pods, _ := c.podLister.List(labels.Everything())
		return len(pods) == 1
	})
	if err := c.sync(ctx, "default/agent"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "agent-x", metav1.GetOptions{}); err == nil {
		t.Error("failed pod should be deleted")
	}
	events := ctrltest.Drain(rec.Events)
	want := []string{"Warning FailedDaemonPod Found failed daemon pod default/agent-x on node n1, will try to kill it",
		"Normal SuccessfulDelete Deleted pod: agent-x"}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("events = %q", events)
	}
}

func TestSyncSelectingAll(t *testing.T) {
	ds := testDS()
	ds.Spec.Selector = &metav1.LabelSelector{}
	c, cs, rec, ctx := newTestController(t, ds, node("n1"))
	if err := c.sync(ctx, "default/agent"); err != nil {
		t.Fatal(err)
	}
	pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	events := ctrltest.Drain(rec.Events)
	if len(pods.Items) != 0 || len(events) != 1 || events[0] != "Warning SelectingAll This daemon set is selecting all pods. A non-empty selector is required." {
		t.Errorf("pods %d events %q", len(pods.Items), events)
	}
}
