package garbagecollector

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	metafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

var (
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	replicasetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

type staticDiscovery []*metav1.APIResourceList

func (d staticDiscovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) { return d, nil }

var discoveryDoc = staticDiscovery{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: metav1.Verbs{"get", "list", "watch", "delete"}},
		{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: metav1.Verbs{"get", "update"}},
		{Name: "events", Kind: "Event", Namespaced: true, Verbs: metav1.Verbs{"get", "list", "watch", "delete"}},
	}},
	{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
		{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: metav1.Verbs{"get", "list", "watch", "delete"}},
		{Name: "replicasets", Kind: "ReplicaSet", Namespaced: true, Verbs: metav1.Verbs{"get", "list", "watch", "delete"}},
	}},
}

func obj(apiVersion, kind, name string, owners ...*metav1.PartialObjectMetadata) *metav1.PartialObjectMetadata {
	o := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(kind + "-" + name)},
	}
	for _, ow := range owners {
		o.OwnerReferences = append(o.OwnerReferences, metav1.OwnerReference{
			APIVersion: ow.APIVersion, Kind: ow.Kind, Name: ow.Name, UID: ow.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		})
	}
	return o
}

// newFakeServer returns a metadata client whose deletes and patches follow
// the API server's finalizer rules: Foreground/Orphan deletion sets
// deletionTimestamp and adds foregroundDeletion/orphan, and an object with
// deletionTimestamp goes away when its last finalizer is removed.
func newFakeServer(t *testing.T, objs ...runtime.Object) *metafake.FakeMetadataClient {
	t.Helper()
	scheme := runtime.NewScheme()
	metav1.AddMetaToScheme(scheme)
	client := metafake.NewSimpleMetadataClient(scheme, objs...)
	tracker := client.Tracker()
	react := k8stesting.ObjectReaction(tracker)
	client.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteActionImpl)
		got, err := tracker.Get(da.Resource, da.Namespace, da.Name)
		if err != nil {
			return true, nil, err
		}
		m := got.(*metav1.PartialObjectMetadata).DeepCopy()
		if pre := da.DeleteOptions.Preconditions; pre != nil && pre.UID != nil && *pre.UID != m.UID {
			return true, nil, apierrors.NewConflict(da.Resource.GroupResource(), da.Name, nil)
		}
		fin := ""
		if p := da.DeleteOptions.PropagationPolicy; p != nil {
			switch *p {
			case metav1.DeletePropagationForeground:
				fin = FinalizerForeground
			case metav1.DeletePropagationOrphan:
				fin = FinalizerOrphan
			}
		}
		if fin == "" && len(m.Finalizers) == 0 {
			return true, nil, tracker.Delete(da.Resource, da.Namespace, da.Name)
		}
		if m.DeletionTimestamp == nil {
			m.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		}
		if fin != "" && !hasFinalizer(m, fin) {
			m.Finalizers = append(m.Finalizers, fin)
		}
		return true, nil, tracker.Update(da.Resource, m, da.Namespace)
	})
	client.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		_, ret, err := react(a)
		if err != nil {
			return true, nil, err
		}
		pa := a.(k8stesting.PatchActionImpl)
		if m := ret.(*metav1.PartialObjectMetadata); m.DeletionTimestamp != nil && len(m.Finalizers) == 0 {
			return true, ret, tracker.Delete(pa.Resource, pa.Namespace, pa.Name)
		}
		return true, ret, nil
	})
	return client
}

func startCollector(t *testing.T, client *metafake.FakeMetadataClient) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := New(Options{Metadata: client, Discovery: discoveryDoc, Workers: 2, SweepPeriod: 200 * time.Millisecond})
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ctx
}

func exists(ctx context.Context, client *metafake.FakeMetadataClient, gvr schema.GroupVersionResource, name string) bool {
	_, err := client.Resource(gvr).Namespace("default").Get(ctx, name, metav1.GetOptions{})
	return err == nil
}

func TestStartupSweepDeletesOrphanedDependents(t *testing.T) {
	rs := obj("apps/v1", "ReplicaSet", "web")
	gone := obj("apps/v1", "ReplicaSet", "gone")
	replaced := obj("apps/v1", "ReplicaSet", "web")
	replaced.UID = "old-uid"
	keep := obj("v1", "Pod", "keep", rs)
	orphaned := obj("v1", "Pod", "orphaned", gone)
	stale := obj("v1", "Pod", "stale", replaced)
	twoOwners := obj("v1", "Pod", "two-owners", rs, gone)
	client := newFakeServer(t, rs, keep, orphaned, stale, twoOwners)
	ctx := startCollector(t, client)

	ctrltest.Eventually(t, "dependents of missing owners deleted", func() bool {
		return !exists(ctx, client, podsGVR, "orphaned") && !exists(ctx, client, podsGVR, "stale")
	})
	ctrltest.Eventually(t, "the reference to the missing owner dropped", func() bool {
		p, err := client.Resource(podsGVR).Namespace("default").Get(ctx, "two-owners", metav1.GetOptions{})
		return err == nil && len(p.OwnerReferences) == 1 && p.OwnerReferences[0].UID == rs.UID
	})
	if !exists(ctx, client, podsGVR, "keep") {
		t.Error("a pod with a live owner was deleted")
	}
}

func TestBackgroundDeletion(t *testing.T) {
	rs := obj("apps/v1", "ReplicaSet", "web")
	client := newFakeServer(t, rs, obj("v1", "Pod", "a", rs), obj("v1", "Pod", "b", rs))
	ctx := startCollector(t, client)
	time.Sleep(100 * time.Millisecond)
	if err := client.Resource(replicasetsGVR).Namespace("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "pods deleted after their owner", func() bool {
		return !exists(ctx, client, podsGVR, "a") && !exists(ctx, client, podsGVR, "b")
	})
}

func TestForegroundDeletion(t *testing.T) {
	d := obj("apps/v1", "Deployment", "web")
	rs := obj("apps/v1", "ReplicaSet", "web-abc", d)
	client := newFakeServer(t, d, rs, obj("v1", "Pod", "p1", rs), obj("v1", "Pod", "p2", rs))
	ctx := startCollector(t, client)
	time.Sleep(100 * time.Millisecond)
	fg := metav1.DeletePropagationForeground
	if err := client.Resource(deploymentsGVR).Namespace("default").Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	if !exists(ctx, client, deploymentsGVR, "web") {
		t.Fatal("a foreground-deleted owner must wait for its dependents")
	}
	ctrltest.Eventually(t, "the whole tree deleted, owner last", func() bool {
		return !exists(ctx, client, podsGVR, "p1") && !exists(ctx, client, podsGVR, "p2") &&
			!exists(ctx, client, replicasetsGVR, "web-abc") && !exists(ctx, client, deploymentsGVR, "web")
	})
}

func TestOrphanDeletion(t *testing.T) {
	rs := obj("apps/v1", "ReplicaSet", "web")
	other := obj("apps/v1", "ReplicaSet", "other")
	client := newFakeServer(t, rs, other, obj("v1", "Pod", "a", rs), obj("v1", "Pod", "b", rs, other))
	ctx := startCollector(t, client)
	time.Sleep(100 * time.Millisecond)
	orphan := metav1.DeletePropagationOrphan
	if err := client.Resource(replicasetsGVR).Namespace("default").Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "owner gone after orphaning", func() bool { return !exists(ctx, client, replicasetsGVR, "web") })
	a, err := client.Resource(podsGVR).Namespace("default").Get(ctx, "a", metav1.GetOptions{})
	if err != nil || len(a.OwnerReferences) != 0 {
		t.Errorf("pod a: %v refs %v", err, a)
	}
	b, err := client.Resource(podsGVR).Namespace("default").Get(ctx, "b", metav1.GetOptions{})
	if err != nil || len(b.OwnerReferences) != 1 || b.OwnerReferences[0].UID != other.UID {
		t.Errorf("pod b keeps its other owner: %v %v", err, b)
	}
	time.Sleep(300 * time.Millisecond) // a sweep must not collect orphans
	if !exists(ctx, client, podsGVR, "a") {
		t.Error("orphaned pod was deleted")
	}
}
