package statefulset

import (
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type setOpt func(*appsv1.StatefulSet)

func image(img string) setOpt {
	return func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = img }
}
func parallel(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
func onDelete(s *appsv1.StatefulSet) {
	s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
}
func partitionAt(n int32) setOpt {
	return func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(n) }
}
func maxUnavailable(v intstr.IntOrString) setOpt {
	return func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &v }
}
func claimTemplate(name string) setOpt {
	return func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = append(s.Spec.VolumeClaimTemplates, corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"tier": "storage"}},
			Spec:       corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
		})
	}
}
func retain(deleted, scaled appsv1.PersistentVolumeClaimRetentionPolicyType) setOpt {
	return func(s *appsv1.StatefulSet) {
		s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: deleted, WhenScaled: scaled}
	}
}
func historyLimit(n int32) setOpt {
	return func(s *appsv1.StatefulSet) { s.Spec.RevisionHistoryLimit = ptr.To(n) }
}

func testSet(replicas int32, opts ...setOpt) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", UID: "sts-uid", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			ServiceName:         "db",
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(0)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
			RevisionHistoryLimit: ptr.To(int32(10)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "busybox:1"}}},
			},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func revisionOfSet(t *testing.T, s *appsv1.StatefulSet, n int64) *appsv1.ControllerRevision {
	t.Helper()
	r, err := NewRevision(s, n, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type podOpt func(*corev1.Pod)

func ready(p *corev1.Pod) {
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))}}
}
func pending(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }
func failed(p *corev1.Pod)  { p.Status.Phase = corev1.PodFailed }
func terminating(p *corev1.Pod) {
	ready(p)
	p.DeletionTimestamp = &metav1.Time{Time: t0}
}

// podAt builds the pod a set at the given revision has at ordinal.
func podAt(s *appsv1.StatefulSet, rev *appsv1.ControllerRevision, ord int, opts ...podOpt) *corev1.Pod {
	p := NewPod(s, &s.Spec.Template, ord, rev.Name)
	p.UID = types.UID("pod-uid-" + p.Name)
	p.Status.Phase = corev1.PodPending
	for _, o := range opts {
		o(p)
	}
	return p
}

// actions renders a plan's phases as "kind pod" strings, one slice per phase.
func actions(p Plan) [][]string {
	kinds := map[ActionKind]string{CreatePod: "create", DeletePod: "delete", UpdatePod: "update", CreateClaims: "claims", UpdateClaim: "claim-owner"}
	out := [][]string{}
	for _, ph := range p.Phases {
		var s []string
		for _, a := range ph {
			s = append(s, kinds[a.Kind]+" "+a.Pod.Name)
		}
		out = append(out, s)
	}
	return out
}

func TestReconcilePods(t *testing.T) {
	v1 := testSet(3)
	r1 := revisionOfSet(t, v1, 1)
	v2 := testSet(3, image("busybox:2"))
	withStatus := func(s *appsv1.StatefulSet, cur string) *appsv1.StatefulSet {
		s = s.DeepCopy()
		s.Status.CurrentRevision = cur
		return s
	}
	tests := []struct {
		name string
		set  *appsv1.StatefulSet
		revs []*appsv1.ControllerRevision
		pods []*corev1.Pod
		want [][]string
	}{
		{"ordered: only the first pod", v1, nil, nil, [][]string{{"create db-0"}}},
		{"parallel: every missing pod", testSet(3, parallel), nil, nil, [][]string{{"create db-0", "create db-1", "create db-2"}}},
		{"ordered: waits for a pending pod", v1, []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, pending)}, [][]string{}},
		{"ordered: next once the previous is ready", v1, []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, ready)}, [][]string{{"create db-1"}}},
		{"ordered: recreates a lower pod first", v1, []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 1, ready), podAt(v1, r1, 2, ready)}, [][]string{{"create db-0"}}},
		{"finished pod is replaced", v1, []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, failed)}, [][]string{{"delete db-0"}}},
		{"scale down: highest ordinal, one at a time", testSet(1), []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v1, r1, 1, ready), podAt(v1, r1, 2, ready)}, [][]string{{"delete db-2"}}},
		{"scale down waits for the terminating pod", testSet(1), []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v1, r1, 1, ready), podAt(v1, r1, 2, terminating)}, [][]string{}},
		{"parallel scale down: all at once", testSet(1, parallel), []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v1, r1, 1, ready), podAt(v1, r1, 2, pending)}, [][]string{{"delete db-2", "delete db-1"}}},
		{"rolling update: highest outdated pod first", withStatus(v2, r1.Name), []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v1, r1, 1, ready), podAt(v1, r1, 2, ready)}, [][]string{{"delete db-2"}}},
		{"rolling update: maxUnavailable 2", withStatus(testSet(3, image("busybox:2"), maxUnavailable(intstr.FromInt32(2))), r1.Name), []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v1, r1, 1, ready), podAt(v1, r1, 2, ready)}, [][]string{{"delete db-2", "delete db-1"}}},
		{"rolling update: partition keeps lower ordinals", withStatus(testSet(3, image("busybox:2"), partitionAt(2)), r1.Name), []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v1, r1, 1, ready), podAt(v1, r1, 2, ready)}, [][]string{{"delete db-2"}}},
		{"on delete: outdated pods stay", withStatus(testSet(3, image("busybox:2"), onDelete), r1.Name), []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v1, r1, 1, ready), podAt(v1, r1, 2, ready)}, [][]string{}},
		{"identity is restored", v1, []*appsv1.ControllerRevision{r1},
			[]*corev1.Pod{func() *corev1.Pod { p := podAt(v1, r1, 0, ready); delete(p.Labels, appsv1.PodIndexLabel); return p }()},
			[][]string{{"update db-0", "create db-1"}}},
		{"being deleted: nothing but status", func() *appsv1.StatefulSet {
			s := v1.DeepCopy()
			s.DeletionTimestamp = &metav1.Time{Time: t0}
			return s
		}(), []*appsv1.ControllerRevision{r1}, nil, [][]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Reconcile(Input{Set: tt.set, Pods: tt.pods, Revisions: tt.revs, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(plan); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("actions = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReconcileNewPodsTakeTheirRevision(t *testing.T) {
	v1 := testSet(3)
	r1 := revisionOfSet(t, v1, 1)
	v2 := testSet(3, image("busybox:2"), partitionAt(2), parallel)
	v2.Status.CurrentRevision = r1.Name
	plan, err := Reconcile(Input{Set: v2, Revisions: []*appsv1.ControllerRevision{r1}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if plan.CreateRevision == nil || plan.CreateRevision.Revision != 2 {
		t.Fatalf("create revision = %+v", plan.CreateRevision)
	}
	r2 := plan.CreateRevision.Name
	want := map[string]string{"db-0": r1.Name, "db-1": r1.Name, "db-2": r2}
	images := map[string]string{"db-0": "busybox:1", "db-1": "busybox:1", "db-2": "busybox:2"}
	for _, a := range plan.Phases[0] {
		if got := revisionOf(a.Pod); got != want[a.Pod.Name] {
			t.Errorf("%s revision = %s, want %s", a.Pod.Name, got, want[a.Pod.Name])
		}
		if got := a.Pod.Spec.Containers[0].Image; got != images[a.Pod.Name] {
			t.Errorf("%s image = %s, want %s", a.Pod.Name, got, images[a.Pod.Name])
		}
	}
}

func TestReconcileRevisions(t *testing.T) {
	a := testSet(1)
	b := testSet(1, image("busybox:2"))
	ra := revisionOfSet(t, a, 1)
	rb := revisionOfSet(t, b, 2)

	t.Run("unchanged template reuses the latest revision", func(t *testing.T) {
		plan, _ := Reconcile(Input{Set: b, Revisions: []*appsv1.ControllerRevision{ra, rb}, Now: t0})
		if plan.CreateRevision != nil || plan.BumpRevision != nil || plan.UpdateRevision != rb.Name {
			t.Errorf("plan = %+v", plan)
		}
	})
	t.Run("rollback renumbers the old revision", func(t *testing.T) {
		plan, _ := Reconcile(Input{Set: a, Revisions: []*appsv1.ControllerRevision{rb, ra}, Now: t0})
		if plan.CreateRevision != nil || plan.BumpRevision == nil || plan.BumpRevision.Name != ra.Name || plan.BumpRevision.Revision != 3 {
			t.Errorf("plan = create %v bump %+v", plan.CreateRevision, plan.BumpRevision)
		}
	})
	t.Run("new template gets the next number and a new name", func(t *testing.T) {
		c := testSet(1, image("busybox:3"))
		plan, _ := Reconcile(Input{Set: c, Revisions: []*appsv1.ControllerRevision{ra, rb}, Now: t0})
		r := plan.CreateRevision
		if r == nil || r.Revision != 3 || r.Name == ra.Name || r.Name == rb.Name || !strings.HasPrefix(r.Name, "db-") {
			t.Fatalf("create revision = %+v", r)
		}
		if r.Labels["app"] != "db" || r.Labels["controller.kubernetes.io/hash"] != strings.TrimPrefix(r.Name, "db-") {
			t.Errorf("labels = %v", r.Labels)
		}
		if ref := metav1.GetControllerOf(r); ref == nil || ref.UID != "sts-uid" || ref.Kind != "StatefulSet" {
			t.Errorf("owner = %+v", r.OwnerReferences)
		}
	})
	t.Run("a collision count changes the name", func(t *testing.T) {
		r0, _ := NewRevision(a, 1, 0)
		r1, _ := NewRevision(a, 1, 1)
		if r0.Name == r1.Name || string(r0.Data.Raw) != string(r1.Data.Raw) {
			t.Errorf("names %s %s", r0.Name, r1.Name)
		}
	})
	t.Run("history beyond the limit goes, oldest first, except what is live", func(t *testing.T) {
		s := testSet(1, image("busybox:5"), historyLimit(1))
		var revs []*appsv1.ControllerRevision
		for i := 1; i <= 5; i++ {
			revs = append(revs, revisionOfSet(t, testSet(1, image("busybox:"+string(rune('0'+i)))), int64(i)))
		}
		pods := []*corev1.Pod{podAt(s, revs[1], 0, ready)} // a pod still at revision 2
		plan, _ := Reconcile(Input{Set: s, Revisions: revs, Pods: pods, Now: t0})
		var gone []int64
		for _, r := range plan.DeleteRevisions {
			gone = append(gone, r.Revision)
		}
		if !reflect.DeepEqual(gone, []int64{1, 3}) {
			t.Errorf("deleted revisions %v, want [1 3]", gone)
		}
	})
}

func TestReconcileStatus(t *testing.T) {
	v1 := testSet(2)
	r1 := revisionOfSet(t, v1, 1)
	v2 := testSet(2, image("busybox:2"))
	r2 := revisionOfSet(t, v2, 2)
	v2.Status.CurrentRevision = r1.Name

	tests := []struct {
		name string
		set  *appsv1.StatefulSet
		pods []*corev1.Pod
		want appsv1.StatefulSetStatus
	}{
		{"counts pods", v1, []*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v1, r1, 1, pending)},
			appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, CurrentReplicas: 2, UpdatedReplicas: 2}},
		{"mid rollout", v2, []*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v2, r2, 1, ready)},
			appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, CurrentReplicas: 1, UpdatedReplicas: 1}},
		{"rollout complete: update becomes current", v2, []*corev1.Pod{podAt(v2, r2, 0, ready), podAt(v2, r2, 1, ready)},
			appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, CurrentReplicas: 2, UpdatedReplicas: 2}},
		{"terminating pods count as replicas, not revisions", v1, []*corev1.Pod{podAt(v1, r1, 0, ready), podAt(v1, r1, 1, terminating)},
			appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, CurrentReplicas: 1, UpdatedReplicas: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Reconcile(Input{Set: tt.set, Pods: tt.pods, Revisions: []*appsv1.ControllerRevision{r1, r2}, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			got := plan.Status
			if got == nil {
				t.Fatal("no status")
			}
			if got.ObservedGeneration != 1 || got.CollisionCount == nil || *got.CollisionCount != 0 {
				t.Errorf("observedGeneration %d collisionCount %v", got.ObservedGeneration, got.CollisionCount)
			}
			wantCur := tt.set.Status.CurrentRevision
			if wantCur == "" || tt.name == "rollout complete: update becomes current" {
				wantCur = plan.UpdateRevision
			}
			if got.CurrentRevision != wantCur || got.UpdateRevision != plan.UpdateRevision {
				t.Errorf("revisions current %s update %s, want %s %s", got.CurrentRevision, got.UpdateRevision, wantCur, plan.UpdateRevision)
			}
			counts := appsv1.StatefulSetStatus{Replicas: got.Replicas, ReadyReplicas: got.ReadyReplicas, AvailableReplicas: got.AvailableReplicas,
				CurrentReplicas: got.CurrentReplicas, UpdatedReplicas: got.UpdatedReplicas}
			if !reflect.DeepEqual(counts, tt.want) {
				t.Errorf("counts = %+v, want %+v", counts, tt.want)
			}
		})
	}
}

func TestReconcileMinReadySeconds(t *testing.T) {
	s := testSet(2)
	s.Spec.MinReadySeconds = 30
	r1 := revisionOfSet(t, s, 1)
	fresh := podAt(s, r1, 0, ready)
	fresh.Status.Conditions[0].LastTransitionTime = metav1.NewTime(t0.Add(-10 * time.Second))
	plan, _ := Reconcile(Input{Set: s, Pods: []*corev1.Pod{fresh}, Revisions: []*appsv1.ControllerRevision{r1}, Now: t0})
	if len(plan.Phases) != 0 {
		t.Errorf("ordered sets wait for availability: %q", actions(plan))
	}
	if plan.Status.AvailableReplicas != 0 || plan.RequeueAfter != 21*time.Second {
		t.Errorf("available %d requeue %v", plan.Status.AvailableReplicas, plan.RequeueAfter)
	}
}

func TestReconcileClaims(t *testing.T) {
	const del, keep = appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	t.Run("claims are created with the pod", func(t *testing.T) {
		s := testSet(1, claimTemplate("data"), retain(del, keep))
		plan, _ := Reconcile(Input{Set: s, Now: t0})
		a := plan.Phases[0][0]
		if a.Kind != CreatePod || len(a.Claims) != 1 {
			t.Fatalf("action = %+v", a)
		}
		c := a.Claims[0]
		if c.Name != "data-db-0" || c.Namespace != "default" || !reflect.DeepEqual(c.Labels, map[string]string{"app": "db", "tier": "storage"}) {
			t.Errorf("claim = %s/%s %v", c.Namespace, c.Name, c.Labels)
		}
		if ref := metav1.GetControllerOf(c); ref == nil || ref.UID != "sts-uid" {
			t.Errorf("whenDeleted=Delete: claim owners = %+v", c.OwnerReferences)
		}
		vol := a.Pod.Spec.Volumes[0]
		if vol.Name != "data" || vol.PersistentVolumeClaim.ClaimName != "data-db-0" {
			t.Errorf("volume = %+v", vol)
		}
	})
	t.Run("retained claims have no owner", func(t *testing.T) {
		s := testSet(1, claimTemplate("data"))
		plan, _ := Reconcile(Input{Set: s, Now: t0})
		if refs := plan.Phases[0][0].Claims[0].OwnerReferences; len(refs) != 0 {
			t.Errorf("owners = %+v", refs)
		}
	})
	t.Run("existing claims are not created again", func(t *testing.T) {
		s := testSet(1, claimTemplate("data"))
		live := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Namespace: "default"}}
		plan, _ := Reconcile(Input{Set: s, Claims: map[string]*corev1.PersistentVolumeClaim{"data-db-0": live}, Now: t0})
		if a := plan.Phases[0][0]; len(a.Claims) != 0 || a.Err != nil {
			t.Errorf("action = %+v", a)
		}
	})
	t.Run("a claim being deleted blocks the pod", func(t *testing.T) {
		s := testSet(1, claimTemplate("data"))
		live := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Namespace: "default", DeletionTimestamp: &metav1.Time{Time: t0}}}
		plan, _ := Reconcile(Input{Set: s, Claims: map[string]*corev1.PersistentVolumeClaim{"data-db-0": live}, Now: t0})
		if a := plan.Phases[0][0]; a.Err == nil || a.Err.Error() != "pvc data-db-0 is being deleted" {
			t.Errorf("err = %v", a.Err)
		}
	})
	t.Run("a stale claim of an earlier pod blocks creation", func(t *testing.T) {
		s := testSet(1, claimTemplate("data"), retain(keep, del))
		live := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Namespace: "default",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "db-0", UID: "old-pod", Controller: ptr.To(true)}}}}
		plan, _ := Reconcile(Input{Set: s, Claims: map[string]*corev1.PersistentVolumeClaim{"data-db-0": live}, Now: t0})
		if len(plan.Phases) != 0 {
			t.Errorf("actions = %q", actions(plan))
		}
	})
	t.Run("scale down hands claims to the condemned pod", func(t *testing.T) {
		s := testSet(1, claimTemplate("data"), retain(del, del))
		r1 := revisionOfSet(t, s, 1)
		claims := map[string]*corev1.PersistentVolumeClaim{}
		for _, n := range []string{"data-db-0", "data-db-1"} {
			claims[n] = &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "default",
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(s, controllerKind)}}}
		}
		pods := []*corev1.Pod{podAt(s, r1, 0, ready), podAt(s, r1, 1, ready)}
		plan, _ := Reconcile(Input{Set: s, Pods: pods, Revisions: []*appsv1.ControllerRevision{r1}, Claims: claims, Now: t0})
		want := [][]string{{"claim-owner db-1"}, {"delete db-1"}}
		if got := actions(plan); !reflect.DeepEqual(got, want) {
			t.Fatalf("actions = %q, want %q", got, want)
		}
		refs := plan.Phases[0][0].Claims[0].OwnerReferences
		if len(refs) != 1 || refs[0].Kind != "Pod" || refs[0].UID != "pod-uid-db-1" || !*refs[0].Controller {
			t.Errorf("owners = %+v", refs)
		}
	})
}

func TestNewPod(t *testing.T) {
	s := testSet(3, claimTemplate("data"))
	s.Spec.Template.Annotations = map[string]string{"a": "b"}
	s.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data"}, {Name: "scratch"}}
	p := NewPod(s, &s.Spec.Template, 2, "db-abc")
	wantLabels := map[string]string{"app": "db", "statefulset.kubernetes.io/pod-name": "db-2", "apps.kubernetes.io/pod-index": "2", "controller-revision-hash": "db-abc"}
	if p.Name != "db-2" || p.GenerateName != "db-" || p.Namespace != "default" || !reflect.DeepEqual(p.Labels, wantLabels) || p.Annotations["a"] != "b" {
		t.Errorf("meta = %s %s %s %v %v", p.Name, p.GenerateName, p.Namespace, p.Labels, p.Annotations)
	}
	if p.Spec.Hostname != "db-2" || p.Spec.Subdomain != "db" {
		t.Errorf("hostname %q subdomain %q", p.Spec.Hostname, p.Spec.Subdomain)
	}
	if len(p.Spec.Volumes) != 2 || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-db-2" || p.Spec.Volumes[1].Name != "scratch" {
		t.Errorf("volumes = %+v", p.Spec.Volumes)
	}
	want := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", UID: "sts-uid", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	if len(p.OwnerReferences) != 1 || !reflect.DeepEqual(p.OwnerReferences[0], want) {
		t.Errorf("owners = %+v", p.OwnerReferences)
	}
	if s.Spec.Template.Labels["statefulset.kubernetes.io/pod-name"] != "" {
		t.Error("the template must not be modified")
	}
}

func TestParentAndOrdinal(t *testing.T) {
	tests := []struct {
		name   string
		parent string
		ord    int
	}{
		{"db-0", "db", 0}, {"my-db-12", "my-db", 12}, {"db", "", -1}, {"db-", "", -1}, {"db-x1", "", -1}, {"-3", "", 3},
	}
	for _, tt := range tests {
		if p, o := parentAndOrdinal(tt.name); p != tt.parent || o != tt.ord {
			t.Errorf("%s = %q %d, want %q %d", tt.name, p, o, tt.parent, tt.ord)
		}
	}
}

func TestMaxUnavailable(t *testing.T) {
	tests := []struct {
		v    *intstr.IntOrString
		n    int
		want int
	}{
		{nil, 5, 1}, {ptr.To(intstr.FromInt32(3)), 5, 3}, {ptr.To(intstr.FromString("50%")), 5, 2}, {ptr.To(intstr.FromString("10%")), 5, 1},
	}
	for _, tt := range tests {
		if got := MaxUnavailable(tt.v, tt.n); got != tt.want {
			t.Errorf("MaxUnavailable(%v, %d) = %d, want %d", tt.v, tt.n, got, tt.want)
		}
	}
}
