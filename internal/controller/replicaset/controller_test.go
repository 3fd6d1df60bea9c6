package replicaset

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
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
	ctx := ctrltest.StartInformers(t, f)
	return c, cs, rec, ctx
}

func countPods(t *testing.T, c *Controller) int {
	pods, err := c.podLister.List(labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	return len(pods)
}

func TestSyncCreatesPodsWithEventsAndHonoursExpectations(t *testing.T) {
	rs := testRS(3)
	c, cs, rec, ctx := newTestController(t, rs)

	if err := c.sync(ctx, "default/web-abc"); err != nil {
		t.Fatal(err)
	}
	pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 3 {
		t.Fatalf("created %d pods, want 3", len(pods.Items))
	}
	for _, p := range pods.Items {
		if !strings.HasPrefix(p.Name, "web-abc-") || p.OwnerReferences[0].UID != rs.UID {
			t.Errorf("pod %s: bad name or owner %+v", p.Name, p.OwnerReferences)
		}
	}
	events := ctrltest.Drain(rec.Events)
	if len(events) != 3 || !strings.HasPrefix(events[0], "Normal SuccessfulCreate Created pod: web-abc-") {
		t.Errorf("events = %q", events)
	}

	// Until the informer has shown the three creations, a second sync must
	// not create more. Block observation by checking right away, then for
	// real once the cache caught up.
	c.expectations.Expect("default/web-abc", 3, nil)
	if err := c.sync(ctx, "default/web-abc"); err != nil {
		t.Fatal(err)
	}
	pods, _ = cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 3 {
		t.Fatalf("over-created while expectations were pending: %d pods", len(pods.Items))
	}
}

func TestSyncDeletesExtraPodsAndAdoptsOrphans(t *testing.T) {
	rs := testRS(1)
	orphan := pod("orphan", readyAt(-time.Hour))
	ownedNotReady := pod("owned-notready")
	ownedNotReady.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)}
	other := pod("other-app", labelsOf(map[string]string{"app": "db"}))
	c, cs, rec, ctx := newTestController(t, rs, orphan, ownedNotReady, other)
	ctrltest.Eventually(t, "pods in cache", func() bool { return countPods(t, c) == 3 })

	if err := c.sync(ctx, "default/web-abc"); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Pods("default").Get(ctx, "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(got); ref == nil || ref.Name != "web-abc" {
		t.Errorf("orphan not adopted: %+v", got.OwnerReferences)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "owned-notready", metav1.GetOptions{}); err == nil {
		t.Error("the not-ready pod should have been deleted first")
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "other-app", metav1.GetOptions{}); err != nil {
		t.Error("a pod not matching the selector must be left alone")
	}
	events := ctrltest.Drain(rec.Events)
	if len(events) != 1 || events[0] != "Normal SuccessfulDelete Deleted pod: owned-notready" {
		t.Errorf("events = %q", events)
	}
	st, _ := cs.AppsV1().ReplicaSets("default").Get(ctx, "web-abc", metav1.GetOptions{})
	if st.Status.ObservedGeneration != 2 || st.Status.Replicas != 2 {
		t.Errorf("status = %+v", st.Status)
	}
}

func TestSyncReportsCreateFailure(t *testing.T) {
	rs := testRS(2)
	c, cs, rec, ctx := newTestController(t, rs)
	cs.PrependReactor("create", "pods", func(ktAction) (bool, runtime.Object, error) {
		return true, nil, errForbidden
	})
	if err := c.sync(ctx, "default/web-abc"); err == nil {
		t.Fatal("want an error so the key is retried")
	}
	events := ctrltest.Drain(rec.Events)
	if len(events) != 1 || !strings.HasPrefix(events[0], "Warning FailedCreate Error creating: ") {
		t.Errorf("events = %q (slow start must stop after the first failure)", events)
	}
	st, _ := cs.AppsV1().ReplicaSets("default").Get(ctx, "web-abc", metav1.GetOptions{})
	if c := replicaFailure(&st.Status); c == nil || c.Reason != "FailedCreate" {
		t.Errorf("conditions = %+v", st.Status.Conditions)
	}
	if !c.expectations.Satisfied("default/web-abc") {
		t.Error("failed and skipped creations must not leave expectations behind")
	}
}

type ktAction = k8stesting.Action

var errForbidden = apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("exceeded quota"))
