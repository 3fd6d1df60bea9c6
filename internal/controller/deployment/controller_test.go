package deployment

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

func TestSyncCreatesReplicaSetAndReportsStatus(t *testing.T) {
	d := deploy(3, "nginx:1")
	c, cs, rec, ctx := newTestController(t, d)

	if err := c.sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	rss, _ := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if len(rss.Items) != 1 {
		t.Fatalf("replicasets = %d", len(rss.Items))
	}
	rs := rss.Items[0]
	if !strings.HasPrefix(rs.Name, "web-") || *rs.Spec.Replicas != 3 {
		t.Errorf("replicaset %s replicas %d", rs.Name, *rs.Spec.Replicas)
	}
	got, _ := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if got.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment annotations = %v", got.Annotations)
	}
	if got.Status.ObservedGeneration != 1 || condition(&got.Status, appsv1.DeploymentProgressing).Reason != ReasonNewRSCreated {
		t.Errorf("status = %+v", got.Status)
	}
	events := ctrltest.Drain(rec.Events)
	if len(events) != 1 || events[0] != "Normal ScalingReplicaSet Scaled up replica set "+rs.Name+" to 3" {
		t.Errorf("events = %q", events)
	}

	// Informer lag: the deployment syncs again before the new ReplicaSet
	// is cached. It must not create a second one.
	if err := c.sync(ctx, "default/web"); err != nil && err != errRSNotCached {
		t.Fatal(err)
	}
	rss, _ = cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if len(rss.Items) != 1 {
		t.Fatalf("replicasets after resync = %d", len(rss.Items))
	}
}

func TestSyncAdoptsOrphanReplicaSet(t *testing.T) {
	d := deploy(2, "nginx:1")
	orphan := rsFor(d, 1, 2, time.Hour)
	orphan.OwnerReferences = nil
	orphan.UID = ""
	c, cs, _, ctx := newTestController(t, d, orphan)
	ctrltest.Eventually(t, "replicaset cached", func() bool {
		_, err := c.rsLister.ReplicaSets("default").Get(orphan.Name)
		return err == nil
	})
	if err := c.sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	got, _ := cs.AppsV1().ReplicaSets("default").Get(ctx, orphan.Name, metav1.GetOptions{})
	if ref := metav1.GetControllerOf(got); ref == nil || ref.UID != d.UID {
		t.Errorf("not adopted: %+v", got.OwnerReferences)
	}
	rss, _ := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if len(rss.Items) != 1 {
		t.Errorf("the adopted ReplicaSet is the new one; got %d ReplicaSets", len(rss.Items))
	}
}
