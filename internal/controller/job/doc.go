// Package job is the Job controller: it runs a Job's pods to completion,
// counts them, and declares the Job Complete or Failed the way
// `kubectl wait --for=condition=Complete` and `kubectl describe job`
// expect.
//
//	Job + its pods (informers; orphans matching the selector are adopted)
//	   │
//	   ▼
//	Reconcile (pure) ──► finishing? FailureTarget (PodFailurePolicy,
//	   │                 BackoffLimitExceeded, DeadlineExceeded) or
//	   │                 SuccessCriteriaMet (CompletionsReached): delete
//	   │                 the active pods
//	   │             ──► suspended: delete active pods, Suspended condition
//	   │             ──► running: create/delete pods towards
//	   │                 min(parallelism, completions - succeeded), after the
//	   │                 failure back-off (10 s doubling, at most 6 min)
//	   ▼
//	status with the newly finished pods in uncountedTerminatedPods
//	   ──► remove their tracking finalizer ──► Flush: count them in
//	   succeeded/failed; once nothing is uncounted or terminating, add
//	   Complete (+ completionTime) or Failed
//
// Words. Every pod the controller creates carries the finalizer
// batch.kubernetes.io/job-tracking, so it cannot vanish before it is
// counted; the finalizer goes once the pod's UID is recorded in
// status.uncountedTerminatedPods (or, for Indexed Jobs, its index in
// completedIndexes), and the UID moves into succeeded/failed once the
// finalizer is gone. A pod counts as failed when it is Failed, or when it
// is deleted before it finished (podReplacementPolicy TerminatingOrFailed),
// or when the Job is failing. Pods deleted because the Job is suspended
// or scaled down lose the finalizer first and are not failures. The
// interim conditions (SuccessCriteriaMet, FailureTarget) become the
// terminal ones (Complete, Failed) with the same reason and message once
// all pods are gone or finished.
//
// Pods: generated name "<job>-" ("<job>-<index>-" when Indexed), the
// template's labels (the API server put batch.kubernetes.io/controller-uid,
// batch.kubernetes.io/job-name, controller-uid and job-name there), a
// controller reference to the Job; Indexed pods also get the annotation
// and label batch.kubernetes.io/job-completion-index, hostname
// "<job>-<index>" and JOB_COMPLETION_INDEX in every container.
//
// Events on the Job (source "job-controller"), worded as upstream:
// SuccessfulCreate "Created pod: <name>", SuccessfulDelete "Deleted pod:
// <name>", FailedCreate "Error creating: <err>", FailedDelete "Error
// deleting: <err>", Completed "Job completed", Warning BackoffLimitExceeded
// "Job has reached the specified backoff limit", Warning DeadlineExceeded
// "Job was active longer than specified deadline", Warning PodFailurePolicy
// "Container <c> for pod <ns>/<pod> failed with exit code <n> matching
// FailJob rule at index <i>", Suspended "Job suspended", Resumed "Job
// resumed".
//
// Not here: backoffLimitPerIndex/maxFailedIndexes (failedIndexes) and
// successPolicy; Jobs with spec.managedBy other than
// kubernetes.io/job-controller are left to their manager.
package job
