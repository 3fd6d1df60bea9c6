package deployment

import (
	"fmt"
	"math"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Input is what one sync of a Deployment observes.
type Input struct {
	Deployment  *appsv1.Deployment
	ReplicaSets []*appsv1.ReplicaSet        // the ReplicaSets the Deployment owns
	PodsByRS    map[types.UID][]*corev1.Pod // pods controlled by each of them (Recreate waits on these)
	Now         time.Time
}

// Event is a core/v1 Event to record on the Deployment.
type Event struct {
	Type, Reason, Message string
}

// Write is a ReplicaSet write and the events to record once it succeeded.
type Write struct {
	ReplicaSet *appsv1.ReplicaSet
	Events     []Event
}

// Plan is what one sync must write, in this order: create the new
// ReplicaSet, update (scale/annotate) existing ones, delete old ones past
// the revision history limit, then the Deployment's annotations and status.
type Plan struct {
	Create       *Write
	Updates      []Write
	Deletes      []*appsv1.ReplicaSet
	Annotations  map[string]string        // nil: unchanged
	Status       *appsv1.DeploymentStatus // nil: unchanged
	Events       []Event                  // recorded regardless of writes
	RequeueAfter time.Duration            // >0: sync again after this long
}

// planner works on copies: each step changes them as the API calls would,
// so later steps see the effect of earlier ones, as in upstream's sync.
type planner struct {
	orig    *appsv1.Deployment
	d       *appsv1.Deployment
	rss     []*appsv1.ReplicaSet
	written map[*appsv1.ReplicaSet]*Write
	order   []*appsv1.ReplicaSet
	created *appsv1.ReplicaSet
	pods    map[types.UID][]*corev1.Pod
	now     time.Time
	plan    Plan
	status  *appsv1.DeploymentStatus
}

// Reconcile decides what a sync of in.Deployment must do.
func Reconcile(in Input) Plan {
	p := &planner{
		orig:    in.Deployment,
		d:       in.Deployment.DeepCopy(),
		written: map[*appsv1.ReplicaSet]*Write{},
		pods:    in.PodsByRS,
		now:     in.Now,
	}
	for _, rs := range in.ReplicaSets {
		p.rss = append(p.rss, rs.DeepCopy())
	}
	d := p.d
	if d.Spec.Selector == nil || (len(d.Spec.Selector.MatchLabels) == 0 && len(d.Spec.Selector.MatchExpressions) == 0) {
		p.plan.Events = append(p.plan.Events, Event{corev1.EventTypeWarning, "SelectingAll",
			"This deployment is selecting all pods. A non-empty selector is required."})
		if d.Status.ObservedGeneration < d.Generation {
			st := d.Status
			st.ObservedGeneration = d.Generation
			p.plan.Status = &st
		}
		return p.plan
	}
	switch {
	case d.DeletionTimestamp != nil:
		newRS, old := p.newAndOld(false)
		p.syncStatus(nonNil(append(old, newRS)...), newRS)
	default:
		p.checkPaused()
		if d.Spec.Paused || p.isScalingEvent() {
			p.scaleOnly()
		} else if isRollingUpdate(d) {
			p.rolloutRolling()
		} else {
			p.rolloutRecreate()
		}
	}
	return p.finish()
}

func (p *planner) finish() Plan {
	for _, rs := range p.order {
		if rs != p.created {
			p.plan.Updates = append(p.plan.Updates, *p.written[rs])
		}
	}
	if p.created != nil {
		p.plan.Create = p.written[p.created]
	}
	if !equality.Semantic.DeepEqual(p.orig.Annotations, p.d.Annotations) {
		p.plan.Annotations = p.d.Annotations
	}
	st := p.status
	if st == nil {
		st = &p.d.Status
	}
	if !statusEqual(p.orig.Status, *st) {
		p.plan.Status = st
	}
	return p.plan
}

// touch records that rs must be written, with optional events.
func (p *planner) touch(rs *appsv1.ReplicaSet, events ...Event) {
	w, ok := p.written[rs]
	if !ok {
		w = &Write{ReplicaSet: rs}
		p.written[rs] = w
		p.order = append(p.order, rs)
	}
	w.Events = append(w.Events, events...)
}

func (p *planner) event(typ, reason, format string, args ...any) Event {
	return Event{typ, reason, fmt.Sprintf(format, args...)}
}

// newAndOld finds the new ReplicaSet and brings its revision and
// annotations up to date; with create it makes the new ReplicaSet when
// there is none.
func (p *planner) newAndOld(create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	d := p.d
	newRS, old := findNewAndOld(d, p.rss)
	newRevision := maxRevision(old) + 1
	if newRS != nil {
		changed := setNewRSAnnotations(d, newRS, newRevision, true)
		if newRS.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			newRS.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			changed = true
		}
		if changed && newRS != p.created {
			p.touch(newRS)
		}
		setAnnotation(&d.Annotations, RevisionAnnotation, newRS.Annotations[RevisionAnnotation])
		if hasProgressDeadline(d) && condition(&d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue,
				ReasonFoundNewRS, fmt.Sprintf("Found new replica set %q", newRS.Name), p.now))
		}
		return newRS, old
	}
	if !create {
		return nil, old
	}
	newRS = p.newReplicaSet(old, newRevision)
	p.rss = append(p.rss, newRS)
	p.created = newRS
	p.touch(newRS)
	if n := rsReplicas(newRS); n > 0 {
		p.written[newRS].Events = append(p.written[newRS].Events,
			p.event(corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s to %d", newRS.Name, n))
	}
	setAnnotation(&d.Annotations, RevisionAnnotation, newRS.Annotations[RevisionAnnotation])
	if hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue,
			ReasonNewRSCreated, fmt.Sprintf("Created new replica set %q", newRS.Name), p.now))
	}
	return newRS, old
}

// newReplicaSet builds the ReplicaSet for the Deployment's current
// template: named <deployment>-<pod-template-hash>, the hash label added to
// its labels, selector and template.
func (p *planner) newReplicaSet(old []*appsv1.ReplicaSet, revision int64) *appsv1.ReplicaSet {
	d := p.d
	hash := TemplateHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels = withLabel(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = withLabel(sel.MatchLabels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          withLabel(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)},
		},
		Spec: appsv1.ReplicaSetSpec{
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        tmpl,
		},
	}
	setReplicas(rs, 0)
	setReplicas(rs, p.newRSReplicas(append(nonNil(old...), rs), rs))
	setNewRSAnnotations(d, rs, revision, false)
	return rs
}

// withLabel returns a copy of m with key=value set.
func withLabel(m map[string]string, key, value string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[key] = value
	return out
}

// newRSReplicas is how far the new ReplicaSet may grow now: to the full
// count for Recreate, within maxSurge of the total for a rolling update.
func (p *planner) newRSReplicas(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	d := p.d
	if !isRollingUpdate(d) {
		return specReplicas(d)
	}
	current := sumSpecReplicas(all)
	maxTotal := specReplicas(d) + MaxSurge(d)
	if current >= maxTotal {
		return rsReplicas(newRS)
	}
	up := min(maxTotal-current, specReplicas(d)-rsReplicas(newRS))
	return rsReplicas(newRS) + up
}

// scale sets rs's size and its desired/max-replicas annotations; it
// reports whether the size changed.
func (p *planner) scale(rs *appsv1.ReplicaSet, to int32) bool {
	d := p.d
	from := rsReplicas(rs)
	annotated := setReplicasAnnotations(rs, specReplicas(d), specReplicas(d)+MaxSurge(d))
	if from == to && !annotated {
		return false
	}
	setReplicas(rs, to)
	if from == to {
		if rs != p.created {
			p.touch(rs)
		}
		return false
	}
	dir := "up"
	if to < from {
		dir = "down"
	}
	ev := p.event(corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s to %d from %d", dir, rs.Name, to, from)
	p.touch(rs, ev)
	return true
}

// scaleIfNeeded scales only when the size differs (annotations alone do not
// cause a write), like upstream's scaleReplicaSetAndRecordEvent.
func (p *planner) scaleIfNeeded(rs *appsv1.ReplicaSet, to int32) bool {
	if rsReplicas(rs) == to {
		return false
	}
	return p.scale(rs, to)
}

func (p *planner) isScalingEvent() bool {
	newRS, old := findNewAndOld(p.d, p.rss)
	for _, rs := range active(nonNil(append(old, newRS)...)) {
		if desired, ok := desiredAnnotation(rs); ok && desired != specReplicas(p.d) {
			return true
		}
	}
	return false
}

// checkPaused keeps the Progressing condition honest across pause/resume
// so a long pause is not mistaken for a stalled rollout.
func (p *planner) checkPaused() {
	d := p.d
	if !hasProgressDeadline(d) {
		return
	}
	c := condition(&d.Status, appsv1.DeploymentProgressing)
	if c != nil && c.Reason == ReasonTimedOut {
		return
	}
	pausedShown := c != nil && c.Reason == ReasonPaused
	switch {
	case d.Spec.Paused && !pausedShown:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonPaused, msgPaused, p.now))
	case !d.Spec.Paused && pausedShown:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonResumed, msgResumed, p.now))
	}
}

// scaleOnly handles a paused Deployment or a change of spec.replicas
// without a template change: resize, proportionally during a rollout.
func (p *planner) scaleOnly() {
	newRS, old := p.newAndOld(false)
	p.proportionalScale(newRS, old)
	if p.d.Spec.Paused {
		p.cleanup(old)
	}
	p.syncStatus(nonNil(append(old, newRS)...), newRS)
}

func (p *planner) proportionalScale(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) {
	d := p.d
	spec := specReplicas(d)
	if rs := activeOrLatest(newRS, old); rs != nil {
		p.scaleIfNeeded(rs, spec)
		return
	}
	if isSaturated(d, newRS) {
		for _, rs := range active(old) {
			p.scaleIfNeeded(rs, 0)
		}
		return
	}
	if !isRollingUpdate(d) {
		return
	}
	all := active(nonNil(append(old, newRS)...))
	var allowed int32
	if spec > 0 {
		allowed = spec + MaxSurge(d)
	}
	toAdd := allowed - sumSpecReplicas(all)
	// Larger ReplicaSets take the bigger share; ties go to the newer when
	// growing and the older when shrinking.
	sort.SliceStable(all, func(i, j int) bool {
		ri, rj := rsReplicas(all[i]), rsReplicas(all[j])
		if ri != rj {
			return ri > rj
		}
		ti, tj := all[i].CreationTimestamp, all[j].CreationTimestamp
		if toAdd > 0 {
			return tj.Before(&ti)
		}
		return ti.Before(&tj)
	})
	sizes := make([]int32, len(all))
	var added int32
	for i, rs := range all {
		sizes[i] = rsReplicas(rs)
		if toAdd != 0 {
			share := proportion(d, rs, toAdd, added)
			sizes[i] += share
			added += share
		}
	}
	if toAdd != 0 && len(all) > 0 {
		sizes[0] = max(sizes[0]+toAdd-added, 0)
	}
	for i, rs := range all {
		p.scale(rs, sizes[i])
	}
}

// proportion is rs's share of toAdd replicas: its size scaled by how the
// Deployment's max size changed since rs was last annotated, bounded by
// what is left to hand out.
func proportion(d *appsv1.Deployment, rs *appsv1.ReplicaSet, toAdd, added int32) int32 {
	if rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	frac := fraction(d, rs)
	left := toAdd - added
	if toAdd > 0 {
		return min(frac, left)
	}
	return max(frac, left)
}

func fraction(d *appsv1.Deployment, rs *appsv1.ReplicaSet) int32 {
	if specReplicas(d) == 0 {
		return -rsReplicas(rs)
	}
	target := specReplicas(d) + MaxSurge(d)
	annotated, ok := int32Annotation(rs, MaxReplicasAnnotation)
	if !ok {
		annotated = d.Status.Replicas
	}
	if annotated == 0 {
		return 0
	}
	size := float64(rsReplicas(rs)) * float64(target) / float64(annotated)
	return int32(math.Round(size)) - rsReplicas(rs)
}

// activeOrLatest returns the only ReplicaSet with replicas, or the newest
// one when none has any; nil when several are active.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	sorted := append([]*appsv1.ReplicaSet(nil), old...)
	sortByCreation(sorted)
	act := active(nonNil(append(sorted, newRS)...))
	switch len(act) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return sorted[len(sorted)-1]
	case 1:
		return act[0]
	}
	return nil
}

func (p *planner) rolloutRolling() {
	newRS, old := p.newAndOld(true)
	all := nonNil(append(old, newRS)...)
	if p.reconcileNewRS(all, newRS) {
		p.syncRolloutStatus(all, newRS)
		return
	}
	if p.reconcileOldRSs(all, active(old), newRS) {
		p.syncRolloutStatus(all, newRS)
		return
	}
	if complete(p.d, &p.d.Status) {
		p.cleanup(old)
	}
	p.syncRolloutStatus(all, newRS)
}

func (p *planner) reconcileNewRS(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) bool {
	spec := specReplicas(p.d)
	switch {
	case rsReplicas(newRS) == spec:
		return false
	case rsReplicas(newRS) > spec:
		return p.scaleIfNeeded(newRS, spec)
	}
	return p.scaleIfNeeded(newRS, p.newRSReplicas(all, newRS))
}

// reconcileOldRSs scales old ReplicaSets down as far as maxUnavailable
// allows, unhealthy replicas first.
func (p *planner) reconcileOldRSs(all, oldActive []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) bool {
	d := p.d
	if sumSpecReplicas(oldActive) == 0 {
		return false
	}
	minAvailable := specReplicas(d) - MaxUnavailable(d)
	newUnavailable := rsReplicas(newRS) - newRS.Status.AvailableReplicas
	maxScaledDown := sumSpecReplicas(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false
	}
	cleaned := p.cleanupUnhealthy(oldActive, maxScaledDown)
	scaled := p.scaleDownOld(append(append([]*appsv1.ReplicaSet(nil), oldActive...), newRS), oldActive)
	return cleaned+scaled > 0
}

// cleanupUnhealthy removes old replicas that are not available anyway.
func (p *planner) cleanupUnhealthy(old []*appsv1.ReplicaSet, limit int32) int32 {
	sortByCreation(old)
	var total int32
	for _, rs := range old {
		if total >= limit {
			break
		}
		n := rsReplicas(rs)
		if n == 0 || n == rs.Status.AvailableReplicas {
			continue
		}
		down := min(limit-total, n-rs.Status.AvailableReplicas)
		p.scaleIfNeeded(rs, n-down)
		total += down
	}
	return total
}

// scaleDownOld scales old ReplicaSets down, oldest first, while the
// available pods stay above the minimum.
func (p *planner) scaleDownOld(all, old []*appsv1.ReplicaSet) int32 {
	d := p.d
	minAvailable := specReplicas(d) - MaxUnavailable(d)
	var available int32
	for _, rs := range all {
		available += rs.Status.AvailableReplicas
	}
	if available <= minAvailable {
		return 0
	}
	budget := available - minAvailable
	sortByCreation(old)
	var total int32
	for _, rs := range old {
		if total >= budget {
			break
		}
		n := rsReplicas(rs)
		if n == 0 {
			continue
		}
		down := min(n, budget-total)
		p.scaleIfNeeded(rs, n-down)
		total += down
	}
	return total
}

func (p *planner) rolloutRecreate() {
	newRS, old := p.newAndOld(false)
	all := nonNil(append(old, newRS)...)
	scaledDown := false
	for _, rs := range active(old) {
		if p.scaleIfNeeded(rs, 0) {
			scaledDown = true
		}
	}
	if scaledDown || p.oldPodsRunning(newRS, old) {
		p.syncRolloutStatus(all, newRS)
		return
	}
	if newRS == nil {
		newRS, old = p.newAndOld(true)
		all = nonNil(append(old, newRS)...)
	}
	if p.scaleIfNeeded(newRS, specReplicas(p.d)) {
		p.syncRolloutStatus(all, newRS)
		return
	}
	if complete(p.d, &p.d.Status) {
		p.cleanup(old)
	}
	p.syncRolloutStatus(all, newRS)
}

// oldPodsRunning reports whether any pod of an old ReplicaSet may still be
// running (Recreate must not start new pods before they are gone).
func (p *planner) oldPodsRunning(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) bool {
	for _, rs := range old {
		if rs.Status.Replicas > 0 {
			return true
		}
	}
	for uid, pods := range p.pods {
		if newRS != nil && newRS.UID == uid {
			continue
		}
		for _, pod := range pods {
			if pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}

// cleanup deletes the oldest fully scaled-down ReplicaSets beyond
// revisionHistoryLimit.
func (p *planner) cleanup(old []*appsv1.ReplicaSet) {
	limit := p.d.Spec.RevisionHistoryLimit
	if limit == nil {
		return
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(*limit)
	if diff <= 0 {
		return
	}
	sortByCreation(alive)
	sort.SliceStable(alive, func(i, j int) bool { return revision(alive[i]) < revision(alive[j]) })
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		p.plan.Deletes = append(p.plan.Deletes, rs)
	}
}

// calculateStatus derives counts and the Available condition from the
// ReplicaSets.
func (p *planner) calculateStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) appsv1.DeploymentStatus {
	d := p.d
	st := appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		CollisionCount:     d.Status.CollisionCount,
		Conditions:         append([]appsv1.DeploymentCondition(nil), d.Status.Conditions...),
	}
	for _, rs := range all {
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
		if t := rs.Status.TerminatingReplicas; t != nil {
			if st.TerminatingReplicas == nil {
				st.TerminatingReplicas = new(int32)
			}
			*st.TerminatingReplicas += *t
		}
	}
	if newRS != nil {
		st.UpdatedReplicas = newRS.Status.Replicas
	}
	st.UnavailableReplicas = max(sumSpecReplicas(all)-st.AvailableReplicas, 0)
	if st.AvailableReplicas >= specReplicas(d)-MaxUnavailable(d) {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, ReasonMinimumAvailable, msgMinimumAvailable, p.now))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinimumUnavailable, msgMinimumUnavailable, p.now))
	}
	return st
}

// syncStatus is the status update of scaling and paused syncs: counts and
// Available only.
func (p *planner) syncStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) {
	st := p.calculateStatus(all, newRS)
	p.status = &st
}

// syncRolloutStatus also maintains the Progressing condition and the
// ReplicaFailure condition mirrored from the ReplicaSets.
func (p *planner) syncRolloutStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) {
	d := p.d
	st := p.calculateStatus(all, newRS)
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := condition(&d.Status, appsv1.DeploymentProgressing)
	done := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewRSAvailable
	subject := fmt.Sprintf("Deployment %q", d.Name)
	if newRS != nil {
		subject = fmt.Sprintf("ReplicaSet %q", newRS.Name)
	}
	if hasProgressDeadline(d) && !done {
		switch {
		case complete(d, &st):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSAvailable,
				subject+" has successfully progressed.", p.now))
		case progressing(d, &st):
			c := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, subject+" is progressing.", p.now)
			if cur != nil {
				if cur.Status == corev1.ConditionTrue {
					c.LastTransitionTime = cur.LastTransitionTime
				}
				removeCondition(&st, appsv1.DeploymentProgressing)
			}
			setCondition(&st, c)
		case timedOut(d, &st, p.now):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut,
				subject+" has timed out progressing.", p.now))
		}
	}
	if f := replicaFailure(newRS, all); f != nil {
		setCondition(&st, *f)
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	p.status = &st
	if statusEqual(p.orig.Status, st) {
		p.plan.RequeueAfter = p.untilDeadline(&st)
	}
}

// untilDeadline is when a rollout that shows no progress must be checked
// for ProgressDeadlineExceeded (no informer event will say so).
func (p *planner) untilDeadline(st *appsv1.DeploymentStatus) time.Duration {
	d := p.d
	cur := condition(&d.Status, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || cur == nil || complete(d, st) || cur.Reason == ReasonTimedOut {
		return 0
	}
	after := cur.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(p.now)
	return max(after, time.Second)
}

// replicaFailure mirrors a ReplicaSet's ReplicaFailure condition (the new
// ReplicaSet's first) onto the Deployment.
func replicaFailure(newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet) *appsv1.DeploymentCondition {
	for _, rs := range append([]*appsv1.ReplicaSet{newRS}, all...) {
		if rs == nil {
			continue
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure {
				return &appsv1.DeploymentCondition{
					Type:               appsv1.DeploymentReplicaFailure,
					Status:             c.Status,
					Reason:             c.Reason,
					Message:            c.Message,
					LastUpdateTime:     c.LastTransitionTime,
					LastTransitionTime: c.LastTransitionTime,
				}
			}
		}
	}
	return nil
}

// statusEqual compares statuses, treating an unset terminatingReplicas as
// zero: a server without that field must not make every sync a write.
func statusEqual(a, b appsv1.DeploymentStatus) bool {
	zero := int32(0)
	if a.TerminatingReplicas == nil {
		a.TerminatingReplicas = &zero
	}
	if b.TerminatingReplicas == nil {
		b.TerminatingReplicas = &zero
	}
	return equality.Semantic.DeepEqual(a, b)
}
