package job

import (
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
	"github.com/kedge-dev/kedge/internal/controller/replicaset"
)

// BurstPods caps how many pods one sync creates.
const BurstPods = 500

// Condition reasons and messages, worded as upstream.
const (
	MessageCompletionsReached = "Reached expected number of succeeded pods"
	MessageBackoffLimit       = "Job has reached the specified backoff limit"
	MessageDeadline           = "Job was active longer than specified deadline"
	ReasonSuspended           = "JobSuspended"
	MessageSuspended          = "Job suspended"
	ReasonResumed             = "JobResumed"
	MessageResumed            = "Job resumed"
)

// Event is an event to record on the Job.
type Event struct {
	Type, Reason, Message string
}

// Input is what one sync observes.
type Input struct {
	Job  *batchv1.Job
	Pods []*corev1.Pod // the pods the Job controls, in any phase
	Now  time.Time
	// CanManage is false while pod creations or deletions of an earlier
	// sync have not shown up in the informer: no pods are created or
	// deleted for scaling then, and the Job is not declared finished.
	CanManage bool
	// Removing holds pods whose tracking finalizer is being removed but
	// whose update the informer has not shown: they are already counted.
	Removing map[types.UID]bool
	// Backoff is what earlier syncs counted of the Job's failures; it
	// outlives failed pods that are deleted.
	Backoff BackoffRecord
}

// Plan is what one sync does, in order: delete pods (removing their
// tracking finalizer first when Uncount, so they are not failures),
// create pods, write Status (with the newly finished pods recorded in
// uncountedTerminatedPods), remove the tracking finalizer of
// RemoveFinalizers, then Flush.
type Plan struct {
	Delete           []*corev1.Pod
	Uncount          bool
	Create           []*corev1.Pod
	Status           batchv1.JobStatus
	RemoveFinalizers []*corev1.Pod
	Events           []Event
	RequeueAfter     time.Duration // 0: none
	Backoff          BackoffRecord // to keep once Status is written
}

// Reconcile decides a sync of a Job that is not finished yet; for a
// finished one it only releases the pods still holding the tracking
// finalizer.
func Reconcile(in Input) Plan {
	job, now := in.Job, in.Now
	st := job.Status.DeepCopy()
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	var plan Plan
	tracked := func(p *corev1.Pod) bool { return hasTrackingFinalizer(p) && !in.Removing[p.UID] }
	if IsFinished(job) {
		for _, p := range in.Pods {
			if tracked(p) {
				plan.RemoveFinalizers = append(plan.RemoveFinalizers, p)
			}
		}
		plan.Status = *st
		return plan
	}

	indexed := isIndexed(job)
	completions := -1
	if job.Spec.Completions != nil {
		completions = int(*job.Spec.Completions)
	}
	validIndex := func(ix int) bool { return ix >= 0 && ix < completions }
	uncounted := map[types.UID]bool{}
	for _, uid := range st.UncountedTerminatedPods.Succeeded {
		uncounted[uid] = true
	}
	for _, uid := range st.UncountedTerminatedPods.Failed {
		uncounted[uid] = true
	}
	onlyFailed := ptr.Deref(job.Spec.PodReplacementPolicy, batchv1.TerminatingOrFailed) == batchv1.Failed ||
		job.Spec.PodFailurePolicy != nil
	countsAsFailed := func(p *corev1.Pod) bool {
		if p.Status.Phase == corev1.PodFailed {
			return true
		}
		// A pod deleted before it finished never gets another chance.
		return !onlyFailed && p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
	}

	// Observe: active pods, and the pods that finished since last counted.
	var (
		active                  []*corev1.Pod
		terminating             int32
		succeededPods, failed   []*corev1.Pod // terminal pods that count, for the back-off
		ignored                 = map[types.UID]bool{}
		newSucceeded, newFailed int
		freshOK, freshFailed    []*corev1.Pod // finished since last counted, for the back-off record
		prevIndexes             indexSet
		newIndexes              = indexSet{}
		failJob                 *batchv1.JobCondition
	)
	if indexed {
		prevIndexes = parseIndexes(st.CompletedIndexes, completions)
	}
	for _, p := range in.Pods {
		fresh := tracked(p) && !uncounted[p.UID]
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			succeededPods = append(succeededPods, p)
			if !fresh {
				continue
			}
			freshOK = append(freshOK, p)
			if !indexed {
				newSucceeded++
			} else if ix := completionIndex(p); validIndex(ix) && !prevIndexes[ix] {
				newIndexes[ix] = true
			}
			continue
		case p.Status.Phase == corev1.PodFailed:
			m := matchPodFailurePolicy(job, p)
			if m.action == batchv1.PodFailurePolicyActionIgnore {
				ignored[p.UID] = true
				continue
			}
			failed = append(failed, p)
			if fresh && m.action == batchv1.PodFailurePolicyActionFailJob && failJob == nil {
				c := newCondition(batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy, m.message, now)
				failJob = &c
			}
		case p.DeletionTimestamp != nil:
			terminating++
			if countsAsFailed(p) {
				failed = append(failed, p)
			}
		default:
			active = append(active, p)
		}
		if fresh && countsAsFailed(p) && (!indexed || validIndex(completionIndex(p))) {
			newFailed++
			freshFailed = append(freshFailed, p)
		}
	}
	plan.Backoff = in.Backoff.update(freshOK, freshFailed)
	failedCount := int(st.Failed) + len(st.UncountedTerminatedPods.Failed) + newFailed
	succeeded := int(st.Succeeded) + len(st.UncountedTerminatedPods.Succeeded) + newSucceeded
	if indexed {
		succeeded = len(prevIndexes) + len(newIndexes)
	}

	// Decide whether the Job is done.
	suspended := ptr.Deref(job.Spec.Suspend, false)
	resuming := !suspended && conditionTrue(st.Conditions, batchv1.JobSuspended)
	cond := interimCondition(st)
	if cond == nil {
		var c *batchv1.JobCondition
		deadline, hasDeadline := activeDeadline(job, st)
		switch {
		case failJob != nil:
			c = failJob
		case failedCount > int(backoffLimit(job)) || pastBackoffLimitOnFailure(job, active):
			c = ptr.To(newCondition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, MessageBackoffLimit, now))
		case hasDeadline && !suspended && !resuming && !now.Before(deadline):
			c = ptr.To(newCondition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, MessageDeadline, now))
		case completions >= 0 && succeeded >= completions,
			completions < 0 && succeeded > 0 && len(active) == 0:
			c = ptr.To(newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, MessageCompletionsReached, now))
		case hasDeadline && !suspended && !resuming:
			plan.RequeueAfter = deadline.Sub(now)
		}
		if c != nil {
			st.Conditions = append(st.Conditions, *c)
			cond = c
		}
	}
	failing := cond != nil && cond.Type == batchv1.JobFailureTarget

	// Act on pods.
	switch {
	case cond != nil:
		// Finishing: nothing may keep running.
		plan.Delete = active
	case suspended:
		if setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, ReasonSuspended, MessageSuspended, now) {
			plan.Events = append(plan.Events, Event{corev1.EventTypeNormal, "Suspended", MessageSuspended})
			st.StartTime = nil
		}
		if in.CanManage && job.DeletionTimestamp == nil {
			plan.Delete, plan.Uncount = active, true
		}
	default:
		if resuming {
			setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, ReasonResumed, MessageResumed, now)
			plan.Events = append(plan.Events, Event{corev1.EventTypeNormal, "Resumed", MessageResumed})
			st.StartTime = nil
		}
		if st.StartTime == nil {
			st.StartTime = ptr.To(metav1.NewTime(now))
			if d, ok := activeDeadline(job, st); ok {
				plan.RequeueAfter = d.Sub(now)
			}
		}
		if in.CanManage && job.DeletionTimestamp == nil {
			m := manage(job, active, terminatingPods(in.Pods), succeeded, prevIndexes, newIndexes, onlyFailed, now)
			plan.Delete, plan.Uncount, plan.Create = m.delete, true, m.create
			wait := max(plan.Backoff.remaining(now), backoffRemaining(failed, succeededPods, now))
			if len(plan.Create) > 0 && wait > 0 {
				plan.Create = nil
				plan.RequeueAfter = minPositive(plan.RequeueAfter, wait)
			}
		}
	}

	// Record the pods that finished, and release the pods that are done
	// with: the tracking finalizer goes once a pod is counted.
	deleted := map[types.UID]bool{}
	for _, p := range plan.Delete {
		deleted[p.UID] = true
	}
	for _, p := range in.Pods {
		if !tracked(p) || (plan.Uncount && deleted[p.UID]) {
			continue
		}
		release := true
		switch {
		case uncounted[p.UID]:
		case p.Status.Phase == corev1.PodSucceeded:
			if !indexed {
				st.UncountedTerminatedPods.Succeeded = append(st.UncountedTerminatedPods.Succeeded, p.UID)
			}
		case ignored[p.UID]:
		case countsAsFailed(p) || failing:
			if !indexed || validIndex(completionIndex(p)) {
				st.UncountedTerminatedPods.Failed = append(st.UncountedTerminatedPods.Failed, p.UID)
			}
		default:
			release = cond != nil || job.DeletionTimestamp != nil
		}
		if release {
			plan.RemoveFinalizers = append(plan.RemoveFinalizers, p)
		}
	}
	if indexed {
		for ix := range newIndexes {
			prevIndexes[ix] = true
		}
		st.CompletedIndexes = prevIndexes.String()
		st.Succeeded = int32(len(prevIndexes))
	}

	var ready int32
	for _, p := range active {
		if ctrlutil.IsPodReady(p) {
			ready++
		}
	}
	for _, p := range plan.Delete {
		if ctrlutil.IsPodReady(p) {
			ready--
		}
	}
	st.Active = int32(len(active) - len(plan.Delete) + len(plan.Create))
	st.Ready = ptr.To(ready)
	st.Terminating = ptr.To(terminating + int32(len(plan.Delete)))
	plan.Status = *st
	return plan
}

// Account corrects the planned status for pod writes that failed: pods
// not created are not active, pods not deleted still are.
func (p *Plan) Account(failedCreates, failedDeletes int) {
	p.Status.Active += int32(failedDeletes - failedCreates)
	if p.Status.Terminating != nil {
		p.Status.Terminating = ptr.To(*p.Status.Terminating - int32(failedDeletes))
	}
}

// Flush counts the uncounted pods whose tracking finalizer is gone
// (hasFinalizer says which still carry it) and, once nothing is
// uncounted or terminating and settled (no pod writes outstanding),
// turns the interim SuccessCriteriaMet/FailureTarget condition into the
// terminal Complete/Failed one, with the events upstream records.
func Flush(st batchv1.JobStatus, hasFinalizer func(types.UID) bool, settled bool, now time.Time) (batchv1.JobStatus, []Event) {
	out := *st.DeepCopy()
	u := out.UncountedTerminatedPods
	if u == nil {
		u = &batchv1.UncountedTerminatedPods{}
		out.UncountedTerminatedPods = u
	}
	keep := func(uids []types.UID, counter *int32) []types.UID {
		var left []types.UID
		for _, uid := range uids {
			if hasFinalizer(uid) {
				left = append(left, uid)
			} else {
				*counter++
			}
		}
		return left
	}
	u.Succeeded = keep(u.Succeeded, &out.Succeeded)
	u.Failed = keep(u.Failed, &out.Failed)

	cond := interimCondition(&out)
	done := conditionTrue(out.Conditions, batchv1.JobComplete) || conditionTrue(out.Conditions, batchv1.JobFailed)
	if cond == nil || done || !settled || len(u.Succeeded)+len(u.Failed) > 0 || ptr.Deref(out.Terminating, 0) > 0 {
		return out, nil
	}
	if cond.Type == batchv1.JobSuccessCriteriaMet {
		out.Conditions = append(out.Conditions, newCondition(batchv1.JobComplete, cond.Reason, cond.Message, now))
		out.CompletionTime = ptr.To(metav1.NewTime(now))
		return out, []Event{{corev1.EventTypeNormal, "Completed", "Job completed"}}
	}
	out.Conditions = append(out.Conditions, newCondition(batchv1.JobFailed, cond.Reason, cond.Message, now))
	return out, []Event{{corev1.EventTypeWarning, cond.Reason, cond.Message}}
}

// StatusEqual reports whether writing b over a would change nothing.
func StatusEqual(a, b batchv1.JobStatus) bool {
	norm := func(s batchv1.JobStatus) batchv1.JobStatus {
		if s.UncountedTerminatedPods == nil {
			s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
		}
		return s
	}
	return equality.Semantic.DeepEqual(norm(a), norm(b))
}

type managePlan struct {
	delete []*corev1.Pod
	create []*corev1.Pod
}

// manage brings the active pods of a running Job to what it still needs:
// NonIndexed, min(parallelism, completions - succeeded), or parallelism
// until one pod succeeds when completions is unset; Indexed, one pod per
// index not yet succeeded, lowest first, at most parallelism.
func manage(job *batchv1.Job, active, terminating []*corev1.Pod, succeeded int, prevIndexes, newIndexes indexSet, onlyFailed bool, now time.Time) managePlan {
	var m managePlan
	parallelism := int(ptr.Deref(job.Spec.Parallelism, 1))
	want := parallelism
	switch {
	case job.Spec.Completions != nil:
		want = max(min(int(*job.Spec.Completions)-succeeded, parallelism), 0)
	case succeeded > 0:
		want = len(active) // the work is done: let the others finish
	}

	keep := active
	if isIndexed(job) {
		keep, m.delete = dropSurplusIndexes(job, active, prevIndexes, newIndexes, now)
	}
	if n := len(keep) - want; n > 0 {
		m.delete = append(m.delete, replicaset.PodsToDelete(keep, keep, n, now)...)
		return m
	}
	n := want - len(keep)
	if onlyFailed {
		n -= len(terminating)
	}
	n = min(n, BurstPods)
	if n <= 0 {
		return m
	}
	if !isIndexed(job) {
		for range n {
			m.create = append(m.create, NewPod(job, -1))
		}
		return m
	}
	busy := indexSet{}
	held := keep
	if onlyFailed {
		held = append(slices.Clone(keep), terminating...)
	}
	for _, p := range held {
		busy[completionIndex(p)] = true
	}
	for ix := 0; ix < int(*job.Spec.Completions) && len(m.create) < n; ix++ {
		if !busy[ix] && !prevIndexes[ix] && !newIndexes[ix] {
			m.create = append(m.create, NewPod(job, ix))
		}
	}
	return m
}

// dropSurplusIndexes splits the active pods of an Indexed Job into those
// to keep and those to delete: pods without a valid index, pods of an
// index that already succeeded, and all but the best pod of an index.
func dropSurplusIndexes(job *batchv1.Job, active []*corev1.Pod, prev, fresh indexSet, now time.Time) (keep, drop []*corev1.Pod) {
	completions := int(ptr.Deref(job.Spec.Completions, 0))
	byIndex := map[int][]*corev1.Pod{}
	for _, p := range active {
		ix := completionIndex(p)
		if ix < 0 || ix >= completions || prev[ix] || fresh[ix] {
			drop = append(drop, p)
			continue
		}
		byIndex[ix] = append(byIndex[ix], p)
	}
	for _, p := range active {
		group := byIndex[completionIndex(p)]
		if len(group) == 0 {
			continue
		}
		delete(byIndex, completionIndex(p))
		// The last pod in deletion order is the one worth keeping.
		order := replicaset.PodsToDelete(group, group, len(group), now)
		keep = append(keep, order[len(order)-1])
		drop = append(drop, order[:len(order)-1]...)
	}
	return keep, drop
}

func terminatingPods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && !ctrlutil.IsPodTerminal(p) {
			out = append(out, p)
		}
	}
	return out
}

// activeDeadline returns when a Job with activeDeadlineSeconds runs out
// of time, counted from status.startTime.
func activeDeadline(job *batchv1.Job, st *batchv1.JobStatus) (time.Time, bool) {
	if job.Spec.ActiveDeadlineSeconds == nil || st.StartTime == nil {
		return time.Time{}, false
	}
	return st.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second), true
}

func minPositive(a, b time.Duration) time.Duration {
	if a <= 0 {
		return b
	}
	return min(a, b)
}

func hasTrackingFinalizer(p *corev1.Pod) bool {
	return slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer)
}

// IsFinished reports whether a Job has its terminal condition, Complete
// or Failed.
func IsFinished(job *batchv1.Job) bool {
	return conditionTrue(job.Status.Conditions, batchv1.JobComplete) || conditionTrue(job.Status.Conditions, batchv1.JobFailed)
}

func conditionTrue(conds []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// interimCondition returns the True SuccessCriteriaMet or FailureTarget
// condition of a Job on its way to finishing, or nil.
func interimCondition(st *batchv1.JobStatus) *batchv1.JobCondition {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if (c.Type == batchv1.JobFailureTarget || c.Type == batchv1.JobSuccessCriteriaMet) && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

func newCondition(t batchv1.JobConditionType, reason, message string, now time.Time) batchv1.JobCondition {
	return batchv1.JobCondition{
		Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
	}
}

// setCondition makes the condition of type t have the given status,
// adding it when missing (only for True: a condition that never was True
// is not written as False). It reports whether anything changed.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) bool {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status == status {
			return false
		}
		c.Status, c.Reason, c.Message = status, reason, message
		c.LastProbeTime, c.LastTransitionTime = metav1.NewTime(now), metav1.NewTime(now)
		return true
	}
	if status != corev1.ConditionTrue {
		return false
	}
	c := newCondition(t, reason, message, now)
	st.Conditions = append(st.Conditions, c)
	return true
}
