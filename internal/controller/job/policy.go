package job

import (
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Back-off between failed pods and their replacements: 10 s after the
// first failure, doubling with each consecutive one, at most 6 minutes.
const (
	DefaultBackoff = 10 * time.Second
	MaxBackoff     = 6 * time.Minute
)

// policyMatch is the outcome of a pod failure policy for one failed pod.
type policyMatch struct {
	action  batchv1.PodFailurePolicyAction // "" when no rule matched
	message string                         // for FailJob, the condition message
}

// matchPodFailurePolicy returns the action of the first rule matching a
// failed pod. Rules on exit codes look at terminated containers with a
// non-zero exit code; rules on conditions at the pod's conditions.
func matchPodFailurePolicy(job *batchv1.Job, p *corev1.Pod) policyMatch {
	policy := job.Spec.PodFailurePolicy
	if policy == nil {
		return policyMatch{}
	}
	for i, r := range policy.Rules {
		if r.OnExitCodes != nil {
			if c := matchExitCodes(r.OnExitCodes, p); c != nil {
				return policyMatch{r.Action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
					c.Name, p.Namespace, p.Name, c.State.Terminated.ExitCode, r.Action, i)}
			}
			continue
		}
		for _, pat := range r.OnPodConditions {
			for _, c := range p.Status.Conditions {
				if c.Type == pat.Type && c.Status == pat.Status {
					return policyMatch{r.Action, fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d",
						p.Namespace, p.Name, pat.Type, r.Action, i)}
				}
			}
		}
	}
	return policyMatch{}
}

func matchExitCodes(req *batchv1.PodFailurePolicyOnExitCodesRequirement, p *corev1.Pod) *corev1.ContainerStatus {
	statuses := append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
	for i := range statuses {
		s := &statuses[i]
		t := s.State.Terminated
		if t == nil || t.ExitCode == 0 {
			continue // successful containers never match
		}
		if req.ContainerName != nil && *req.ContainerName != s.Name {
			continue
		}
		in := slices.Contains(req.Values, t.ExitCode)
		if in == (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
			return s
		}
	}
	return nil
}

// finishTime is when a pod stopped: its last container's exit, else when
// it was deleted, else when it was created.
func finishTime(p *corev1.Pod) time.Time {
	var t time.Time
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, s := range list {
			if s.State.Terminated != nil && s.State.Terminated.FinishedAt.After(t) {
				t = s.State.Terminated.FinishedAt.Time
			}
		}
	}
	if t.IsZero() && p.DeletionTimestamp != nil {
		t = p.DeletionTimestamp.Time
	}
	if t.IsZero() {
		t = p.CreationTimestamp.Time
	}
	return t
}

// backoffRemaining is how long the Job must still wait before it replaces
// failed pods: failures are the pods that failed (and count) after the
// last success, and the delay grows with their number.
func backoffRemaining(failures, successes []*corev1.Pod, now time.Time) time.Duration {
	var lastSuccess time.Time
	for _, p := range successes {
		if t := finishTime(p); t.After(lastSuccess) {
			lastSuccess = t
		}
	}
	n := 0
	var lastFailure time.Time
	for _, p := range failures {
		t := finishTime(p)
		if !t.After(lastSuccess) && !lastSuccess.IsZero() {
			continue
		}
		n++
		if t.After(lastFailure) {
			lastFailure = t
		}
	}
	if n == 0 {
		return 0
	}
	return max(lastFailure.Add(backoffDelay(n)).Sub(now), 0)
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure failures are
// container restarts in running pods; they count towards backoffLimit.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, s := range p.Status.InitContainerStatuses {
			restarts += s.RestartCount
		}
		for _, s := range p.Status.ContainerStatuses {
			restarts += s.RestartCount
		}
	}
	limit := backoffLimit(job)
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

func backoffLimit(job *batchv1.Job) int32 {
	if job.Spec.BackoffLimit == nil {
		return 6
	}
	return *job.Spec.BackoffLimit
}

// BackoffRecord is what the back-off remembers of a Job's failures: how
// many pods failed since the last success and when the latest did.
type BackoffRecord struct {
	Failures    int
	LastFailure time.Time
}

// update adds pods counted for the first time: a success clears the
// failures that finished before it.
func (r BackoffRecord) update(succeeded, failed []*corev1.Pod) BackoffRecord {
	var lastSuccess time.Time
	for _, p := range succeeded {
		if t := finishTime(p); t.After(lastSuccess) {
			lastSuccess = t
		}
	}
	if !lastSuccess.IsZero() {
		r = BackoffRecord{}
	}
	for _, p := range failed {
		t := finishTime(p)
		if !lastSuccess.IsZero() && !t.After(lastSuccess) {
			continue
		}
		r.Failures++
		if t.After(r.LastFailure) {
			r.LastFailure = t
		}
	}
	return r
}

// remaining is how long replacements must still wait at now.
func (r BackoffRecord) remaining(now time.Time) time.Duration {
	if r.Failures == 0 {
		return 0
	}
	return max(r.LastFailure.Add(backoffDelay(r.Failures)).Sub(now), 0)
}

// backoffDelay is the wait after n consecutive failures.
func backoffDelay(n int) time.Duration {
	delay := DefaultBackoff
	for i := 1; i < n && delay < MaxBackoff; i++ {
		delay *= 2
	}
	return min(delay, MaxBackoff)
}
