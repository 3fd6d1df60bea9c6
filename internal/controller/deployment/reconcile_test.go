package deployment

import (
	"fmt"
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

func deploy(replicas int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "d-uid", Generation: 1,
			Annotations: map[string]string{"team": "blue", lastAppliedAnnotation: "{}"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromString("25%")),
			}},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
}

// rsFor is a ReplicaSet the controller would have made for d's template,
// running `replicas` available pods.
func rsFor(d *appsv1.Deployment, rev int, replicas int32, age time.Duration) *appsv1.ReplicaSet {
	p := &planner{d: d.DeepCopy(), written: map[*appsv1.ReplicaSet]*Write{}}
	rs := p.newReplicaSet(nil, int64(rev))
	rs.UID = types.UID("uid-" + rs.Name)
	rs.CreationTimestamp = metav1.NewTime(t0.Add(-age))
	setReplicas(rs, replicas)
	setReplicasAnnotations(rs, specReplicas(d), specReplicas(d)+MaxSurge(d))
	rs.Status = appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas}
	return rs
}

func events(p Plan) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.Reason+": "+e.Message)
	}
	if p.Create != nil {
		for _, e := range p.Create.Events {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	for _, w := range p.Updates {
		for _, e := range w.Events {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}

func cond(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) string {
	c := condition(st, t)
	if c == nil {
		return ""
	}
	return fmt.Sprintf("%s/%s/%s", c.Status, c.Reason, c.Message)
}

func TestTemplateHash(t *testing.T) {
	a := deploy(1, "nginx:1").Spec.Template
	b := deploy(1, "nginx:2").Spec.Template
	if TemplateHash(&a, nil) != TemplateHash(a.DeepCopy(), nil) {
		t.Error("hash must be stable")
	}
	if TemplateHash(&a, nil) == TemplateHash(&b, nil) {
		t.Error("different templates must hash differently")
	}
	if TemplateHash(&a, nil) == TemplateHash(&a, ptr.To[int32](1)) {
		t.Error("collisionCount must change the hash")
	}
	h := TemplateHash(&a, nil)
	if strings.Trim(h, "bcdfghjklmnpqrstvwxz2456789") != "" || len(h) < 6 {
		t.Errorf("hash %q is not in SafeEncodeString's alphabet", h)
	}
}

func TestFenceposts(t *testing.T) {
	tests := []struct {
		replicas           int32
		strategy           appsv1.DeploymentStrategyType
		surge, unavailable *intstr.IntOrString
		wantSurge, wantMax int32
		wantUnavailable    int32
	}{
		{3, appsv1.RollingUpdateDeploymentStrategyType, nil, nil, 1, 4, 0},
		{10, appsv1.RollingUpdateDeploymentStrategyType, nil, nil, 3, 13, 2},
		{1, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(intstr.FromInt32(0)), ptr.To(intstr.FromInt32(0)), 0, 1, 1},
		{4, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(intstr.FromString("50%")), ptr.To(intstr.FromInt32(1)), 2, 6, 1},
		{2, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(intstr.FromInt32(0)), ptr.To(intstr.FromInt32(5)), 0, 2, 2},
		{0, appsv1.RollingUpdateDeploymentStrategyType, nil, nil, 0, 0, 0},
		{5, appsv1.RecreateDeploymentStrategyType, nil, nil, 0, 5, 0},
	}
	for _, tt := range tests {
		d := deploy(tt.replicas, "x")
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: tt.strategy}
		if tt.strategy == appsv1.RollingUpdateDeploymentStrategyType {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: tt.surge, MaxUnavailable: tt.unavailable}
		}
		if s, u := MaxSurge(d), MaxUnavailable(d); s != tt.wantSurge || u != tt.wantUnavailable || specReplicas(d)+s != tt.wantMax {
			t.Errorf("%d replicas %s %v/%v: surge %d unavailable %d, want %d %d", tt.replicas, tt.strategy, tt.surge, tt.unavailable, s, u, tt.wantSurge, tt.wantUnavailable)
		}
	}
}

func TestReconcileNewDeployment(t *testing.T) {
	d := deploy(3, "nginx:1")
	plan := Reconcile(Input{Deployment: d, Now: t0})
	if plan.Create == nil {
		t.Fatal("want a new ReplicaSet")
	}
	rs := plan.Create.ReplicaSet
	hash := TemplateHash(&d.Spec.Template, nil)
	if rs.Name != "web-"+hash || rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("name/labels/selector: %s %v %v %v", rs.Name, rs.Labels, rs.Spec.Selector, rs.Spec.Template.Labels)
	}
	if d.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != "" {
		t.Error("the input Deployment must not be modified")
	}
	if *rs.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", *rs.Spec.Replicas)
	}
	wantAnn := map[string]string{"team": "blue", RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"}
	if !reflect.DeepEqual(rs.Annotations, wantAnn) {
		t.Errorf("annotations = %v, want %v", rs.Annotations, wantAnn)
	}
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.Kind != "Deployment" || ref.UID != "d-uid" || !*ref.BlockOwnerDeletion {
		t.Errorf("owner = %+v", rs.OwnerReferences)
	}
	if got := events(plan); !reflect.DeepEqual(got, []string{"ScalingReplicaSet: Scaled up replica set " + rs.Name + " to 3"}) {
		t.Errorf("events = %q", got)
	}
	if plan.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment annotations = %v", plan.Annotations)
	}
	st := plan.Status
	if st == nil || st.ObservedGeneration != 1 {
		t.Fatalf("status = %+v", st)
	}
	if got := cond(st, appsv1.DeploymentProgressing); got != fmt.Sprintf("True/NewReplicaSetCreated/Created new replica set %q", rs.Name) {
		t.Errorf("Progressing = %s", got)
	}
	if got := cond(st, appsv1.DeploymentAvailable); got != "False/MinimumReplicasUnavailable/Deployment does not have minimum availability." {
		t.Errorf("Available = %s", got)
	}
}

func TestReconcileScalesWithEvent(t *testing.T) {
	d := deploy(3, "nginx:1")
	rs := rsFor(d, 1, 3, time.Hour)
	d.Spec.Replicas = ptr.To[int32](5)
	d.Generation = 2
	plan := Reconcile(Input{Deployment: d, ReplicaSets: []*appsv1.ReplicaSet{rs}, Now: t0})
	if len(plan.Updates) != 1 || *plan.Updates[0].ReplicaSet.Spec.Replicas != 5 {
		t.Fatalf("updates = %+v", plan.Updates)
	}
	ann := plan.Updates[0].ReplicaSet.Annotations
	if ann[DesiredReplicasAnnotation] != "5" || ann[MaxReplicasAnnotation] != "7" {
		t.Errorf("annotations = %v", ann)
	}
	if got := events(plan); !reflect.DeepEqual(got, []string{"ScalingReplicaSet: Scaled up replica set " + rs.Name + " to 5 from 3"}) {
		t.Errorf("events = %q", got)
	}
	if rs.Spec.Replicas == nil || *rs.Spec.Replicas != 3 {
		t.Error("input ReplicaSets must not be modified")
	}
}

func TestReconcileStartsRollingUpdate(t *testing.T) {
	d := deploy(4, "nginx:1")
	old := rsFor(d, 1, 4, time.Hour)
	d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	d.Generation = 2
	plan := Reconcile(Input{Deployment: d, ReplicaSets: []*appsv1.ReplicaSet{old}, Now: t0})
	if plan.Create == nil || *plan.Create.ReplicaSet.Spec.Replicas != 1 {
		t.Fatalf("want a new ReplicaSet of 1 (maxSurge), got %+v", plan.Create)
	}
	if plan.Create.ReplicaSet.Annotations[RevisionAnnotation] != "2" {
		t.Errorf("revision = %v", plan.Create.ReplicaSet.Annotations)
	}
	// maxUnavailable is 1 of 4: one old pod may go at once.
	if len(plan.Updates) != 1 || *plan.Updates[0].ReplicaSet.Spec.Replicas != 3 {
		t.Fatalf("updates = %+v", plan.Updates)
	}
	want := []string{
		"ScalingReplicaSet: Scaled up replica set " + plan.Create.ReplicaSet.Name + " to 1",
		"ScalingReplicaSet: Scaled down replica set " + old.Name + " to 3 from 4",
	}
	if got := events(plan); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestReconcileRecreate(t *testing.T) {
	d := deploy(2, "nginx:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	old := rsFor(d, 1, 2, time.Hour)
	d.Spec.Template.Spec.Containers[0].Image = "nginx:2"

	// Step 1: scale the old ReplicaSet to zero, create nothing yet.
	plan := Reconcile(Input{Deployment: d, ReplicaSets: []*appsv1.ReplicaSet{old}, Now: t0})
	if plan.Create != nil || len(plan.Updates) != 1 || *plan.Updates[0].ReplicaSet.Spec.Replicas != 0 {
		t.Fatalf("step 1: create %+v updates %+v", plan.Create, plan.Updates)
	}

	// Step 2: scaled down but a pod is still terminating: wait.
	setReplicas(old, 0)
	old.Status = appsv1.ReplicaSetStatus{}
	pods := map[types.UID][]*corev1.Pod{old.UID: {{Status: corev1.PodStatus{Phase: corev1.PodRunning}}}}
	plan = Reconcile(Input{Deployment: d, ReplicaSets: []*appsv1.ReplicaSet{old}, PodsByRS: pods, Now: t0})
	if plan.Create != nil {
		t.Fatal("step 2: must wait for old pods to go")
	}

	// Step 3: old pods gone: create the new ReplicaSet at full size.
	plan = Reconcile(Input{Deployment: d, ReplicaSets: []*appsv1.ReplicaSet{old}, Now: t0})
	if plan.Create == nil || *plan.Create.ReplicaSet.Spec.Replicas != 2 {
		t.Fatalf("step 3: create %+v", plan.Create)
	}
}

func TestReconcileProgressConditions(t *testing.T) {
	done := deploy(3, "nginx:1")
	rs := rsFor(done, 1, 3, time.Hour)
	done.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 2, ReadyReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, "x", t0.Add(-time.Minute))}}

	stuck := deploy(3, "nginx:1")
	stuckRS := rsFor(stuck, 1, 3, time.Hour)
	stuckRS.Status = appsv1.ReplicaSetStatus{Replicas: 3}
	stuck.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, UnavailableReplicas: 3,
		Conditions: []appsv1.DeploymentCondition{
			newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinimumUnavailable, msgMinimumUnavailable, t0.Add(-time.Hour)),
			newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, "x", t0.Add(-11*time.Minute)),
		}}

	waiting := stuck.DeepCopy()
	waiting.Status.Conditions[1].LastUpdateTime = metav1.NewTime(t0.Add(-9 * time.Minute))

	tests := []struct {
		name        string
		d           *appsv1.Deployment
		rs          *appsv1.ReplicaSet
		want        string
		wantAvail   string
		wantRequeue time.Duration
	}{
		{"complete rollout", done, rs, fmt.Sprintf("True/NewReplicaSetAvailable/ReplicaSet %q has successfully progressed.", rs.Name),
			"True/MinimumReplicasAvailable/Deployment has minimum availability.", 0},
		{"deadline exceeded", stuck, stuckRS, fmt.Sprintf("False/ProgressDeadlineExceeded/ReplicaSet %q has timed out progressing.", stuckRS.Name),
			"False/MinimumReplicasUnavailable/Deployment does not have minimum availability.", 0},
		{"no progress yet, deadline ahead", waiting, stuckRS, "True/ReplicaSetUpdated/x",
			"False/MinimumReplicasUnavailable/Deployment does not have minimum availability.", time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Reconcile(Input{Deployment: tt.d, ReplicaSets: []*appsv1.ReplicaSet{tt.rs}, Now: t0})
			st := &tt.d.Status
			if plan.Status != nil {
				st = plan.Status
			}
			if got := cond(st, appsv1.DeploymentProgressing); got != tt.want {
				t.Errorf("Progressing = %s, want %s", got, tt.want)
			}
			if got := cond(st, appsv1.DeploymentAvailable); got != tt.wantAvail {
				t.Errorf("Available = %s, want %s", got, tt.wantAvail)
			}
			if plan.RequeueAfter != tt.wantRequeue {
				t.Errorf("RequeueAfter = %v, want %v", plan.RequeueAfter, tt.wantRequeue)
			}
		})
	}
}

func TestReconcileCleansUpOldReplicaSets(t *testing.T) {
	d := deploy(2, "v3")
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	var rss []*appsv1.ReplicaSet
	for i, img := range []string{"v0", "v1", "v2"} {
		x := deploy(2, img)
		rss = append(rss, rsFor(x, i+1, 0, time.Duration(10-i)*time.Hour))
	}
	cur := rsFor(d, 4, 2, time.Minute)
	rss = append(rss, cur)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, ReadyReplicas: 2}
	plan := Reconcile(Input{Deployment: d, ReplicaSets: rss, Now: t0})
	var deleted []string
	for _, rs := range plan.Deletes {
		deleted = append(deleted, rs.Name)
	}
	if want := []string{rss[0].Name, rss[1].Name}; !reflect.DeepEqual(deleted, want) {
		t.Errorf("deleted = %v, want %v (oldest revisions first, keep 1)", deleted, want)
	}
}

func TestReconcileSelectingAll(t *testing.T) {
	d := deploy(1, "x")
	d.Spec.Selector = &metav1.LabelSelector{}
	d.Generation = 3
	plan := Reconcile(Input{Deployment: d, Now: t0})
	if got := events(plan); !reflect.DeepEqual(got, []string{"SelectingAll: This deployment is selecting all pods. A non-empty selector is required."}) {
		t.Errorf("events = %q", got)
	}
	if plan.Create != nil || plan.Status == nil || plan.Status.ObservedGeneration != 3 {
		t.Errorf("plan = %+v", plan)
	}
}

func TestReconcilePausedCondition(t *testing.T) {
	d := deploy(1, "x")
	rs := rsFor(d, 1, 1, time.Hour)
	d.Spec.Paused = true
	plan := Reconcile(Input{Deployment: d, ReplicaSets: []*appsv1.ReplicaSet{rs}, Now: t0})
	if plan.Status == nil || cond(plan.Status, appsv1.DeploymentProgressing) != "Unknown/DeploymentPaused/Deployment is paused" {
		t.Fatalf("status = %+v", plan.Status)
	}
	d.Status = *plan.Status
	d.Spec.Paused = false
	plan = Reconcile(Input{Deployment: d, ReplicaSets: []*appsv1.ReplicaSet{rs}, Now: t0})
	if got := cond(plan.Status, appsv1.DeploymentProgressing); !strings.HasPrefix(got, "True/NewReplicaSetAvailable/") {
		// Resumed then immediately complete within the same sync.
		t.Errorf("Progressing after resume = %s", got)
	}
}

func TestProportionalScaling(t *testing.T) {
	// Mid-rollout (old 8 + new 5 of 10, surge 3) the user scales to 20:
	// the 10 extra replicas are shared by size, larger first.
	d := deploy(10, "v1")
	old := rsFor(d, 1, 8, time.Hour)
	d.Spec.Template.Spec.Containers[0].Image = "v2"
	newRS := rsFor(d, 2, 5, time.Minute)
	d.Spec.Replicas = ptr.To[int32](20)
	plan := Reconcile(Input{Deployment: d, ReplicaSets: []*appsv1.ReplicaSet{old, newRS}, Now: t0})
	sizes := map[string]int32{}
	for _, w := range plan.Updates {
		sizes[w.ReplicaSet.Name] = *w.ReplicaSet.Spec.Replicas
	}
	// allowed = 20 + 5 = 25, to add = 12: old 8*25/13 ≈ 15 (+7), new 5*25/13 ≈ 10 (+5).
	if sizes[old.Name] != 15 || sizes[newRS.Name] != 10 {
		t.Errorf("sizes = %v", sizes)
	}
}

// TestRolloutConverges drives plans against a simulated cluster in which
// pods become available at once, and checks the rollout bounds and the
// status `kubectl rollout status` waits for.
func TestRolloutConverges(t *testing.T) {
	for _, tc := range []struct {
		replicas int32
		surge    intstr.IntOrString
		unavail  intstr.IntOrString
	}{
		{4, intstr.FromString("25%"), intstr.FromString("25%")},
		{10, intstr.FromInt32(0), intstr.FromInt32(1)},
		{3, intstr.FromInt32(1), intstr.FromInt32(0)},
		{1, intstr.FromString("25%"), intstr.FromString("25%")},
	} {
		t.Run(fmt.Sprintf("%d-%s-%s", tc.replicas, tc.surge.String(), tc.unavail.String()), func(t *testing.T) {
			d := deploy(tc.replicas, "v1")
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &tc.surge, MaxUnavailable: &tc.unavail}
			c := &cluster{t: t, d: d}
			c.run()
			d.Spec.Template.Spec.Containers[0].Image = "v2"
			d.Generation++
			c.run()
			if len(c.rss) != 2 {
				t.Fatalf("want old and new ReplicaSets, have %d", len(c.rss))
			}
			st := c.d.Status
			if st.UpdatedReplicas != tc.replicas || st.Replicas != tc.replicas || st.AvailableReplicas != tc.replicas || st.ObservedGeneration != d.Generation {
				t.Errorf("final status = %+v", st)
			}
			if got := cond(&st, appsv1.DeploymentProgressing); !strings.HasPrefix(got, "True/NewReplicaSetAvailable/") {
				t.Errorf("Progressing = %s", got)
			}
		})
	}
}

type cluster struct {
	t   *testing.T
	d   *appsv1.Deployment
	rss []*appsv1.ReplicaSet
	n   int
}

// run syncs until nothing changes, settling ReplicaSet status between
// syncs, and checks maxSurge/maxUnavailable after every step.
func (c *cluster) run() {
	c.t.Helper()
	for step := 0; step < 50; step++ {
		plan := Reconcile(Input{Deployment: c.d, ReplicaSets: c.rss, Now: t0})
		changed := false
		if plan.Create != nil {
			rs := plan.Create.ReplicaSet.DeepCopy()
			c.n++
			rs.UID = types.UID(fmt.Sprintf("rs-%d", c.n))
			rs.CreationTimestamp = metav1.NewTime(t0.Add(time.Duration(c.n) * time.Second))
			c.rss = append(c.rss, rs)
			changed = true
		}
		for _, w := range plan.Updates {
			for i, rs := range c.rss {
				if rs.Name == w.ReplicaSet.Name {
					st := rs.Status
					c.rss[i] = w.ReplicaSet.DeepCopy()
					c.rss[i].Status = st
					changed = true
				}
			}
		}
		if plan.Annotations != nil {
			c.d.Annotations = plan.Annotations
		}
		if plan.Status != nil {
			c.d.Status = *plan.Status
			changed = true
		}
		var total, available int32
		for _, rs := range c.rss {
			total += *rs.Spec.Replicas
			available += rs.Status.AvailableReplicas
		}
		if total > specReplicas(c.d)+MaxSurge(c.d) {
			c.t.Fatalf("step %d: %d replicas exceed maxSurge", step, total)
		}
		if step > 2 && available < specReplicas(c.d)-MaxUnavailable(c.d) {
			c.t.Fatalf("step %d: only %d available", step, available)
		}
		// The ReplicaSet controller and kubelets catch up.
		for _, rs := range c.rss {
			n := *rs.Spec.Replicas
			if rs.Status.Replicas != n || rs.Status.AvailableReplicas != n {
				rs.Status = appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n, ObservedGeneration: rs.Generation}
				changed = true
			}
		}
		if !changed {
			return
		}
	}
	c.t.Fatal("rollout did not converge")
}
