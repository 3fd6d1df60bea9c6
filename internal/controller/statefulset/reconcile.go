package statefulset

import (
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
	"github.com/kedge-dev/kedge/internal/controller/internal/history"
)

// Input is what one sync of a StatefulSet observes.
type Input struct {
	Set       *appsv1.StatefulSet
	Pods      []*corev1.Pod                            // the set's pods (owned, named <set>-<ordinal>)
	Revisions []*appsv1.ControllerRevision             // the set's ControllerRevisions
	Claims    map[string]*corev1.PersistentVolumeClaim // claims of the namespace by name
	Now       time.Time
}

// ActionKind says what an Action does.
type ActionKind int

const (
	// CreatePod creates the missing Claims, then Pod.
	CreatePod ActionKind = iota
	// DeletePod deletes Pod.
	DeletePod
	// UpdatePod writes Pod, a copy of a live pod with its identity or
	// storage fixed, after creating the missing Claims.
	UpdatePod
	// CreateClaims creates the missing Claims of an existing Pod.
	CreateClaims
	// UpdateClaim writes Claims[0] with owner references that follow the
	// retention policy.
	UpdateClaim
)

// Action is one write of a sync on the set's pods or claims.
type Action struct {
	Kind   ActionKind
	Pod    *corev1.Pod
	Claims []*corev1.PersistentVolumeClaim
	// Err, on a CreatePod, is why the pod cannot be created yet (one of its
	// claims is being deleted): reported as FailedCreate and retried.
	Err error
}

// Plan is what one sync must write, in this order: the update revision,
// then the phases of pod and claim actions, the status, and the deletion
// of revisions beyond the history limit.
type Plan struct {
	CreateRevision *appsv1.ControllerRevision // the update revision, new
	BumpRevision   *appsv1.ControllerRevision // an older revision back as the update revision, renumbered
	// UpdateRevision names the revision the set's template is at; new pods
	// beyond the partition carry it.
	UpdateRevision string
	// Phases run one after another and stop at the first failed write.
	// With OrderedReady (Monotonic) the actions of a phase run in order;
	// with Parallel, concurrently.
	Monotonic       bool
	Phases          [][]Action
	Status          *appsv1.StatefulSetStatus // nil: unchanged
	DeleteRevisions []*appsv1.ControllerRevision
	RequeueAfter    time.Duration // >0: sync again (minReadySeconds)
}

// NewRevision builds the ControllerRevision of the set's current template:
// data as upstream stores it, labels of the template plus the data hash,
// the set's annotations, the controller reference, and the name
// <set>-<hash of data and collision count>.
func NewRevision(set *appsv1.StatefulSet, revision int64, collisionCount int32) (*appsv1.ControllerRevision, error) {
	data, err := history.Patch(&set.Spec.Template)
	if err != nil {
		return nil, err
	}
	hash := history.Hash(data, &collisionCount)
	labels := copyMap(set.Spec.Template.Labels)
	labels[history.HashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            history.Name(set.Name, hash),
			Namespace:       set.Namespace,
			Labels:          labels,
			Annotations:     copyMap(set.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, controllerKind)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}, nil
}

// planner carries one Reconcile.
type planner struct {
	in        Input
	set       *appsv1.StatefulSet
	monotonic bool
	current   *corev1.PodTemplateSpec
	update    *corev1.PodTemplateSpec
	curName   string
	updName   string
	replicas  []*corev1.Pod // index = ordinal - start
	created   []bool        // whether replicas[i] exists
	condemned []*corev1.Pod // existing pods beyond the range, highest ordinal first
	acted     map[string]bool
	plan      Plan
}

// Reconcile decides what a sync of in.Set must do.
func Reconcile(in Input) (Plan, error) {
	set := in.Set
	p := &planner{in: in, set: set, monotonic: set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement, acted: map[string]bool{}}
	p.plan.Monotonic = p.monotonic

	revs := append([]*appsv1.ControllerRevision(nil), in.Revisions...)
	history.Sort(revs)
	cur, upd, err := p.revisions(revs)
	if err != nil {
		return Plan{}, err
	}
	p.curName, p.updName = cur.Name, upd.Name
	p.plan.UpdateRevision = upd.Name
	p.update = &set.Spec.Template
	p.current = p.update
	if cur != upd {
		if p.current, err = history.Template(cur); err != nil {
			return Plan{}, err
		}
	}

	p.partition()
	if set.DeletionTimestamp == nil && p.replicaPhase() && p.condemnedClaimPhase() && p.condemnedPhase() {
		p.updatePhase()
	}
	p.status()
	p.truncateHistory(revs, cur, upd)
	return p.plan, nil
}

// revisions finds (or plans) the update revision, the one matching the
// set's template, and the current revision, named by status.currentRevision
// (the update revision when there is none yet).
func (p *planner) revisions(revs []*appsv1.ControllerRevision) (cur, upd *appsv1.ControllerRevision, err error) {
	set := p.set
	var collisions int32
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	upd, err = NewRevision(set, history.Next(revs), collisions)
	if err != nil {
		return nil, nil, err
	}
	var equal *appsv1.ControllerRevision
	for _, r := range revs {
		if history.EqualData(r.Data.Raw, upd.Data.Raw) {
			equal = r
		}
	}
	switch {
	case equal != nil && equal == revs[len(revs)-1]:
		upd = equal
	case equal != nil:
		// An older template is back (rollback): renumber its revision.
		bumped := equal.DeepCopy()
		bumped.Revision = upd.Revision
		p.plan.BumpRevision = bumped
		upd = bumped
	default:
		p.plan.CreateRevision = upd
	}
	cur = upd
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision && r.Name != upd.Name {
			cur = r
		}
	}
	return cur, upd, nil
}

// partition sorts the set's pods into replicas (ordinals in range, missing
// ones built from the right revision) and condemned pods.
func (p *planner) partition() {
	set := p.set
	n, start := replicasOf(set), startOrdinal(set)
	p.replicas = make([]*corev1.Pod, n)
	p.created = make([]bool, n)
	for _, pod := range p.in.Pods {
		ord := ordinalOf(pod)
		switch {
		case inRange(set, ord):
			p.replicas[ord-start] = pod
			p.created[ord-start] = true
		case ord >= 0:
			p.condemned = append(p.condemned, pod)
		}
	}
	for i := range p.replicas {
		if p.replicas[i] == nil {
			p.replicas[i] = p.newPod(start + i)
		}
	}
	sort.Slice(p.condemned, func(i, j int) bool { return ordinalOf(p.condemned[i]) > ordinalOf(p.condemned[j]) })
}

// newPod builds a missing pod: below the partition from the current
// revision, otherwise from the update revision.
func (p *planner) newPod(ordinal int) *corev1.Pod {
	set := p.set
	us := set.Spec.UpdateStrategy
	if us.Type == appsv1.RollingUpdateStatefulSetStrategyType || us.Type == "" {
		start := startOrdinal(set)
		if (us.RollingUpdate == nil && ordinal < start+int(set.Status.CurrentReplicas)) ||
			(us.RollingUpdate != nil && us.RollingUpdate.Partition != nil && ordinal < start+int(*us.RollingUpdate.Partition)) {
			return NewPod(set, p.current, ordinal, p.curName)
		}
	}
	return NewPod(set, p.update, ordinal, p.updName)
}

// firstUnhealthy is the lowest missing or unhealthy replica, else the
// lowest unhealthy condemned pod.
func (p *planner) firstUnhealthy() *corev1.Pod {
	for i, pod := range p.replicas {
		if !p.created[i] || !isHealthy(pod) {
			return pod
		}
	}
	for i := len(p.condemned) - 1; i >= 0; i-- {
		if !isHealthy(p.condemned[i]) {
			return p.condemned[i]
		}
	}
	return nil
}

func (p *planner) available(pod *corev1.Pod) bool {
	return ctrlutil.IsPodAvailable(pod, p.set.Spec.MinReadySeconds, p.in.Now)
}

// missingClaims returns the claims of the pod that do not exist yet, with
// the owners the retention policy gives a replica's claims, and an error
// when one of them is still being deleted.
func (p *planner) missingClaims(pod *corev1.Pod) ([]*corev1.PersistentVolumeClaim, error) {
	var missing []*corev1.PersistentVolumeClaim
	var err error
	for _, c := range Claims(p.set, ordinalOf(pod)) {
		live, ok := p.in.Claims[c.Name]
		switch {
		case !ok:
			c.OwnerReferences = claimOwners(c, p.set, pod, false)
			missing = append(missing, c)
		case live.DeletionTimestamp != nil && err == nil:
			err = fmt.Errorf("pvc %s is being deleted", c.Name)
		}
	}
	return missing, err
}

// staleClaims reports whether, with claims deleted on scale down, one of
// the claims of a pod about to be created still belongs to an earlier pod
// of that name: the garbage collector has yet to remove it.
func (p *planner) staleClaims(pod *corev1.Pod) bool {
	if retention(p.set).WhenScaled != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		return false
	}
	for _, c := range Claims(p.set, ordinalOf(pod)) {
		if live, ok := p.in.Claims[c.Name]; ok && staleRef(live, podOwner(pod)) {
			return true
		}
	}
	return false
}

// claimUpdates returns the pod's existing claims whose owner references
// must change to follow the retention policy.
func (p *planner) claimUpdates(pod *corev1.Pod, condemned bool) []Action {
	var out []Action
	for _, c := range Claims(p.set, ordinalOf(pod)) {
		live, ok := p.in.Claims[c.Name]
		if !ok || claimOwnersUpToDate(live, p.set, pod, condemned) {
			continue
		}
		fixed := live.DeepCopy()
		fixed.OwnerReferences = claimOwners(live, p.set, pod, condemned)
		out = append(out, Action{Kind: UpdateClaim, Pod: pod, Claims: []*corev1.PersistentVolumeClaim{fixed}})
	}
	return out
}

func (p *planner) add(phase *[]Action, a Action) {
	*phase = append(*phase, a)
	if a.Kind == DeletePod {
		p.acted[a.Pod.Name] = true
	}
}

// replicaPhase creates missing replicas, replaces finished ones and
// restores identity and storage. OrderedReady waits at the first replica
// that is not Running, Ready and available; the result says whether the
// sync may go on to scale down and update.
func (p *planner) replicaPhase() bool {
	var phase []Action
	defer func() { p.plan.Phases = appendPhase(p.plan.Phases, phase) }()
	for i, pod := range p.replicas {
		if !p.created[i] {
			if p.staleClaims(pod) {
				if p.monotonic {
					return false
				}
				continue
			}
			claims, err := p.missingClaims(pod)
			p.add(&phase, Action{Kind: CreatePod, Pod: pod, Claims: claims, Err: err})
			if p.monotonic {
				return false
			}
			continue
		}
		if ctrlutil.IsPodTerminal(pod) {
			// A finished pod is replaced; the new one is created once this
			// one is gone.
			if pod.DeletionTimestamp == nil {
				p.add(&phase, Action{Kind: DeletePod, Pod: pod})
			}
			if p.monotonic {
				return false
			}
			continue
		}
		if pod.Status.Phase == corev1.PodPending {
			if claims, _ := p.missingClaims(pod); len(claims) > 0 {
				p.add(&phase, Action{Kind: CreateClaims, Pod: pod, Claims: claims})
			}
		}
		if p.monotonic && (pod.DeletionTimestamp != nil || !isRunningAndReady(pod) || !p.available(pod)) {
			return false
		}
		if !identityMatches(p.set, pod) || !storageMatches(p.set, pod) {
			fixed := pod.DeepCopy()
			setIdentity(p.set, fixed)
			var claims []*corev1.PersistentVolumeClaim
			if !storageMatches(p.set, fixed) {
				setStorage(p.set, fixed)
				claims, _ = p.missingClaims(fixed)
			}
			p.add(&phase, Action{Kind: UpdatePod, Pod: fixed, Claims: claims})
		}
		for _, a := range p.claimUpdates(pod, false) {
			p.add(&phase, a)
		}
	}
	return true
}

// condemnedClaimPhase hands the claims of pods being scaled away to the
// pods when the policy deletes claims on scale down.
func (p *planner) condemnedClaimPhase() bool {
	var phase []Action
	for _, pod := range p.condemned {
		for _, a := range p.claimUpdates(pod, true) {
			p.add(&phase, a)
		}
	}
	p.plan.Phases = appendPhase(p.plan.Phases, phase)
	return true
}

// condemnedPhase deletes pods beyond the replicas, highest ordinal first.
// OrderedReady deletes one at a time, waits for it to be gone, and waits
// while another pod is unhealthy.
func (p *planner) condemnedPhase() bool {
	var phase []Action
	defer func() { p.plan.Phases = appendPhase(p.plan.Phases, phase) }()
	first := p.firstUnhealthy()
	for _, pod := range p.condemned {
		if pod.DeletionTimestamp != nil {
			if p.monotonic {
				return false
			}
			continue
		}
		if p.monotonic && pod != first && (!isRunningAndReady(pod) || !p.available(pod)) {
			return false
		}
		p.add(&phase, Action{Kind: DeletePod, Pod: pod})
		if p.monotonic {
			return false
		}
	}
	return true
}

// updatePhase rolls replicas at or above the partition to the update
// revision, highest ordinal first, deleting as many outdated pods as
// maxUnavailable allows beside those already unhealthy. OnDelete leaves
// that to the user.
func (p *planner) updatePhase() {
	set := p.set
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return
	}
	minIndex, maxUnavailable := 0, 1
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.Partition != nil {
			minIndex = int(*ru.Partition)
		}
		maxUnavailable = MaxUnavailable(ru.MaxUnavailable, len(p.replicas))
	}
	unavailable := 0
	for i, pod := range p.replicas {
		if !p.created[i] || !isHealthy(pod) {
			unavailable++
		}
	}
	var phase []Action
	for i := len(p.replicas) - 1; i >= minIndex && unavailable < maxUnavailable; i-- {
		pod := p.replicas[i]
		if p.created[i] && !p.acted[pod.Name] && revisionOf(pod) != p.updName && pod.DeletionTimestamp == nil {
			p.add(&phase, Action{Kind: DeletePod, Pod: pod})
			unavailable++
		}
	}
	p.plan.Phases = appendPhase(p.plan.Phases, phase)
}

// MaxUnavailable resolves a rolling update's maxUnavailable against the
// replicas: percentages round down, and at least one pod may always be
// unavailable.
func MaxUnavailable(v *intstr.IntOrString, replicas int) int {
	val := intstr.FromInt32(1)
	if v != nil {
		val = *v
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&val, replicas, false)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func appendPhase(phases [][]Action, phase []Action) [][]Action {
	if len(phase) == 0 {
		return phases
	}
	return append(phases, phase)
}

// status counts the set's pods as the sync found them.
func (p *planner) status() {
	set := p.set
	var collisions int32
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    p.curName,
		UpdateRevision:     p.updName,
		CollisionCount:     &collisions,
	}
	var wait time.Duration
	for _, pod := range p.in.Pods {
		if pod.Status.Phase != "" {
			st.Replicas++
		}
		if isRunningAndReady(pod) {
			st.ReadyReplicas++
			if p.available(pod) {
				st.AvailableReplicas++
			} else if d := readyFor(pod, set.Spec.MinReadySeconds, p.in.Now); d > 0 && (wait == 0 || d < wait) {
				wait = d
			}
		}
		if pod.Status.Phase != "" && pod.DeletionTimestamp == nil {
			if revisionOf(pod) == p.curName {
				st.CurrentReplicas++
			}
			if revisionOf(pod) == p.updName {
				st.UpdatedReplicas++
			}
		}
	}
	// A rolling update is complete once every replica is updated and
	// ready: the update revision becomes the current one.
	want := int32(replicasOf(set))
	if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		st.UpdatedReplicas == want && st.ReadyReplicas == want && st.Replicas == want {
		st.CurrentReplicas = st.UpdatedReplicas
		st.CurrentRevision = st.UpdateRevision
	}
	if !statusEqual(set.Status, st) {
		p.plan.Status = &st
	}
	p.plan.RequeueAfter = wait
}

// readyFor is how long until a ready pod becomes available.
func readyFor(pod *corev1.Pod, minReadySeconds int32, now time.Time) time.Duration {
	c := ctrlutil.PodCondition(&pod.Status, corev1.PodReady)
	if c == nil || minReadySeconds <= 0 {
		return 0
	}
	return c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Sub(now) + time.Second
}

// statusEqual compares what the controller writes (it keeps no conditions).
func statusEqual(a, b appsv1.StatefulSetStatus) bool {
	a.Conditions, b.Conditions = nil, nil
	return equality.Semantic.DeepEqual(a, b)
}

// truncateHistory deletes the oldest revisions no pod uses and that are
// neither current nor update, beyond revisionHistoryLimit.
func (p *planner) truncateHistory(revs []*appsv1.ControllerRevision, cur, upd *appsv1.ControllerRevision) {
	live := map[string]bool{cur.Name: true, upd.Name: true}
	for _, pod := range p.in.Pods {
		live[revisionOf(pod)] = true
	}
	var old []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	limit := 10
	if l := p.set.Spec.RevisionHistoryLimit; l != nil {
		limit = int(*l)
	}
	if len(old) > limit {
		p.plan.DeleteRevisions = old[:len(old)-limit]
	}
}
