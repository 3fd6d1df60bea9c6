package ctrlutil

import (
	"context"
	"errors"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

var dsKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

func testOwner() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "default", UID: "owner"}}
}

func TestCanAdopt(t *testing.T) {
	deleting := testOwner()
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	replaced := testOwner()
	replaced.UID = "other"
	tests := []struct {
		name   string
		server []runtime.Object
		want   bool
	}{
		{"owner exists", []runtime.Object{testOwner()}, true},
		{"owner gone", nil, false},
		{"owner being deleted", []runtime.Object{deleting}, false},
		{"name taken by a new object", []runtime.Object{replaced}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(tt.server...)
			if got := CanAdopt(testOwner(), cs.AppsV1().DaemonSets("default").Get)(context.Background()); got != tt.want {
				t.Errorf("CanAdopt = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClaimPodsAndRevisions(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	ref := *metav1.NewControllerRef(testOwner(), dsKind)
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "cm", UID: "cm"}
	pod := func(name string, lbl string, refs ...metav1.OwnerReference) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": lbl}, OwnerReferences: refs}}
	}
	rev := func(name string, refs ...metav1.OwnerReference) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}, OwnerReferences: refs}}
	}
	tests := []struct {
		name      string
		pods      []*corev1.Pod
		canAdopt  bool
		failWrite bool
		wantOwned []string
		wantRefs  map[string][]metav1.OwnerReference // on the server afterwards
		wantErr   string
	}{
		{
			name:      "adopts orphans and keeps owned",
			pods:      []*corev1.Pod{pod("mine", "web", ref), pod("orphan", "web", other)},
			canAdopt:  true,
			wantOwned: []string{"mine", "orphan"},
			wantRefs:  map[string][]metav1.OwnerReference{"mine": {ref}, "orphan": {other, ref}},
		},
		{
			name:      "releases owned pods that stopped matching",
			pods:      []*corev1.Pod{pod("moved", "db", other, ref)},
			canAdopt:  true,
			wantOwned: nil,
			wantRefs:  map[string][]metav1.OwnerReference{"moved": {other}},
		},
		{
			name:      "no adoption when the owner cannot adopt",
			pods:      []*corev1.Pod{pod("orphan", "web")},
			canAdopt:  false,
			wantOwned: nil,
			wantRefs:  map[string][]metav1.OwnerReference{"orphan": nil},
		},
		{
			name:      "failed writes are reported with the owner",
			pods:      []*corev1.Pod{pod("orphan", "web")},
			canAdopt:  true,
			failWrite: true,
			wantErr:   "claim pods of daemonset default/ds: adopt default/orphan: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			cs := fake.NewClientset(objs...)
			if tt.failWrite {
				cs.PrependReactor("update", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, errors.New("boom")
				})
			}
			owned, err := ClaimPods(context.Background(), cs, testOwner(), dsKind, sel, tt.pods, func(context.Context) bool { return tt.canAdopt })
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || owned != nil {
					t.Fatalf("ClaimPods = %v, %v; want error %q", owned, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range owned {
				names = append(names, p.Name)
			}
			if !reflect.DeepEqual(names, tt.wantOwned) {
				t.Errorf("owned = %v, want %v", names, tt.wantOwned)
			}
			for name, want := range tt.wantRefs {
				got, err := cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.OwnerReferences, want) {
					t.Errorf("%s ownerReferences = %+v, want %+v", name, got.OwnerReferences, want)
				}
			}
		})
	}

	t.Run("revisions", func(t *testing.T) {
		orphan := rev("orphan")
		cs := fake.NewClientset(orphan)
		owned, err := ClaimRevisions(context.Background(), cs, testOwner(), dsKind, sel, []*appsv1.ControllerRevision{orphan}, func(context.Context) bool { return true })
		if err != nil || len(owned) != 1 || !reflect.DeepEqual(owned[0].OwnerReferences, []metav1.OwnerReference{ref}) {
			t.Fatalf("ClaimRevisions = %v, %v", owned, err)
		}
		if ref.Controller == nil || !*ref.Controller || !ptr.Deref(ref.BlockOwnerDeletion, false) {
			t.Errorf("controller reference = %+v", ref)
		}
		cs.PrependReactor("update", "controllerrevisions", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewNotFound(appsv1.Resource("controllerrevisions"), "orphan")
		})
		if owned, err := ClaimRevisions(context.Background(), cs, testOwner(), dsKind, sel, []*appsv1.ControllerRevision{orphan}, func(context.Context) bool { return true }); err != nil || len(owned) != 0 {
			t.Errorf("a revision gone meanwhile = %v, %v; want neither owned nor an error", owned, err)
		}
	})
}

func TestResolveControllerRef(t *testing.T) {
	cached := map[string]*appsv1.DaemonSet{"ds": testOwner()}
	get := func(name string) (*appsv1.DaemonSet, error) {
		if ds, ok := cached[name]; ok {
			return ds, nil
		}
		return nil, apierrors.NewNotFound(appsv1.Resource("daemonsets"), name)
	}
	ref := *metav1.NewControllerRef(testOwner(), dsKind)
	with := func(mut func(r *metav1.OwnerReference)) []metav1.OwnerReference {
		r := ref
		mut(&r)
		return []metav1.OwnerReference{r}
	}
	tests := []struct {
		name string
		refs []metav1.OwnerReference
		want bool
	}{
		{"controller in the cache", []metav1.OwnerReference{ref}, true},
		{"no references", nil, false},
		{"owner but not controller", with(func(r *metav1.OwnerReference) { r.Controller = nil }), false},
		{"another kind", with(func(r *metav1.OwnerReference) { r.Kind = "StatefulSet" }), false},
		{"another group version", with(func(r *metav1.OwnerReference) { r.APIVersion = "extensions/v1beta1" }), false},
		{"not in the cache", with(func(r *metav1.OwnerReference) { r.Name = "gone" }), false},
		{"name reused by a new object", with(func(r *metav1.OwnerReference) { r.UID = "old" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", OwnerReferences: tt.refs}}
			got, ok := ResolveControllerRef(pod, dsKind, get)
			if ok != tt.want || (got != nil) != tt.want {
				t.Errorf("ResolveControllerRef = %v, %v; want found %v", got, ok, tt.want)
			}
		})
	}
}
