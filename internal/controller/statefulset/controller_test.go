package statefulset

import (
	"context"
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

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSyncCreatesRevisionClaimAndFirstPod(t *testing.T) {
	set := testSet(2, claimTemplate("data"))
	c, cs, rec, ctx := newTestController(t, set)

	if err := c.sync(ctx, "default/db"); err != nil {
		t.Fatal(err)
	}
	revs, _ := cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{})
	if len(revs.Items) != 1 || revs.Items[0].Revision != 1 {
		t.Fatalf("revisions = %+v", revs.Items)
	}
	rev := revs.Items[0].Name
	pod, err := cs.CoreV1().Pods("default").Get(ctx, "db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Labels["controller-revision-hash"] != rev {
		t.Errorf("pod labels = %v, want revision %s", pod.Labels, rev)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "db-1", metav1.GetOptions{}); err == nil {
		t.Error("db-1 must wait for db-0 to be ready")
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data-db-0", metav1.GetOptions{}); err != nil {
		t.Errorf("claim: %v", err)
	}
	want := []string{
		"Normal SuccessfulCreate Create Claim data-db-0 Pod db-0 in StatefulSet db success",
		"Normal SuccessfulCreate Create Pod db-0 in StatefulSet db successful",
	}
	if got := ctrltest.Drain(rec.Events); !equalStrings(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	got, _ := cs.AppsV1().StatefulSets("default").Get(ctx, "db", metav1.GetOptions{})
	if got.Status.CurrentRevision != rev || got.Status.UpdateRevision != rev || got.Status.ObservedGeneration != 1 ||
		got.Status.CollisionCount == nil || *got.Status.CollisionCount != 0 {
		t.Errorf("status = %+v", got.Status)
	}

	// A sync on a cache that has not seen the new pod yet must not try it
	// again.
	if err := c.sync(ctx, "default/db"); err != nil {
		t.Fatal(err)
	}
	if ev := ctrltest.Drain(rec.Events); len(ev) != 0 {
		t.Errorf("second sync events = %q", ev)
	}
}

func TestSyncBumpsCollisionCount(t *testing.T) {
	set := testSet(1)
	taken, _ := NewRevision(set, 1, 0)
	taken.Data.Raw = []byte(`{"spec":{"template":{"$patch":"replace"}}}`)
	taken.OwnerReferences = nil
	taken.Labels = map[string]string{"other": "x"}
	c, cs, _, ctx := newTestController(t, set, taken)

	if err := c.sync(ctx, "default/db"); err == nil {
		t.Fatal("a name collision must fail the sync so it is retried")
	}
	got, _ := cs.AppsV1().StatefulSets("default").Get(ctx, "db", metav1.GetOptions{})
	if got.Status.CollisionCount == nil || *got.Status.CollisionCount != 1 {
		t.Fatalf("collisionCount = %v", got.Status.CollisionCount)
	}
	ctrltest.Eventually(t, "status in cache", func() bool {
		s, _ := c.setLister.StatefulSets("default").Get("db")
		return s.Status.CollisionCount != nil
	})
	if err := c.sync(ctx, "default/db"); err != nil {
		t.Fatal(err)
	}
	revs, _ := cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{})
	if len(revs.Items) != 2 {
		t.Errorf("revisions = %d, want the taken one and a new one", len(revs.Items))
	}
}

func TestSyncScalesDownWithEvent(t *testing.T) {
	set := testSet(1)
	rev, _ := NewRevision(set, 1, 0)
	p0, p1 := podAt(set, rev, 0, ready), podAt(set, rev, 1, ready)
	set.Status.CurrentRevision = rev.Name
	c, cs, rec, ctx := newTestController(t, set, rev, p0, p1)
	ctrltest.Eventually(t, "pods cached", func() bool {
		pods, _ := c.podLister.List(labels.Everything())
		return len(pods) == 2
	})
	if err := c.sync(ctx, "default/db"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "db-1", metav1.GetOptions{}); err == nil {
		t.Error("db-1 should be deleted")
	}
	want := []string{"Normal SuccessfulDelete Delete Pod db-1 in StatefulSet db successful"}
	if got := ctrltest.Drain(rec.Events); !equalStrings(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestSyncAdoptsOrphanPodByName(t *testing.T) {
	set := testSet(1)
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "default", Labels: map[string]string{"app": "db"}}}
	stranger := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default", Labels: map[string]string{"app": "db"}}}
	c, cs, _, ctx := newTestController(t, set, orphan, stranger)
	ctrltest.Eventually(t, "pods cached", func() bool {
		pods, _ := c.podLister.List(labels.Everything())
		return len(pods) == 2
	})
	if err := c.sync(ctx, "default/db"); err != nil {
		t.Fatal(err)
	}
	got, _ := cs.CoreV1().Pods("default").Get(ctx, "db-0", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(got); ref == nil || ref.UID != set.UID {
		t.Errorf("db-0 not adopted: %+v", got.OwnerReferences)
	}
	other, _ := cs.CoreV1().Pods("default").Get(ctx, "web-0", metav1.GetOptions{})
	if len(other.OwnerReferences) != 0 {
		t.Error("a pod not named after the set must not be adopted")
	}
}
