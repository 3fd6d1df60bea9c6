// Package daemonset is the DaemonSet controller: it keeps one pod of each
// DaemonSet on every node that should run it, rolls those pods between
// ControllerRevisions, and reports the counts `kubectl get ds` and
// `kubectl rollout status ds/<name>` read.
//
//	DaemonSet + Nodes + its Pods and ControllerRevisions (informers)
//	   │ claim: adopt matching orphans, release owned objects that stopped matching
//	   ▼
//	PlanHistory ──► current revision <ds>-<hash> (create, renumber, dedup)
//	   ▼
//	Manage ──► create on nodes missing a pod, delete misplaced, extra and
//	   │       finished pods            (then, when nothing was written)
//	RollingUpdate ──► delete outdated pods within maxUnavailable, or surge
//	   │              new pods beside them within maxSurge
//	   ▼
//	HistoryToDelete, Status ──► old revisions beyond the limit; status counts
//
// Words. A node should run the DaemonSet's pod when the template's
// nodeName (if any), nodeSelector and required node affinity match it and
// every NoSchedule/NoExecute taint is tolerated; a pod already there may
// keep running unless a NoExecute taint is untolerated. Daemon pods get
// upstream's automatic tolerations (not-ready and unreachable NoExecute;
// disk-pressure, memory-pressure, pid-pressure, unschedulable NoSchedule;
// network-unavailable NoSchedule with hostNetwork), a required node
// affinity term matchFields metadata.name In [<node>] (the scheduler binds
// them), generateName "<ds>-", and the labels controller-revision-hash
// (the hash of the current revision, the pod-template-hash scheme) and
// pod-template-generation (the deprecated.daemonset.template.generation
// annotation). A pod is updated when either label matches.
//
// Expectations remember creations and deletions the informer has not shown
// yet; until they are seen a sync only refreshes status (without raising
// observedGeneration).
//
// Status: desiredNumberScheduled, currentNumberScheduled,
// numberMisscheduled, numberReady, updatedNumberScheduled,
// numberAvailable, numberUnavailable (the oldest pod on a node stands for
// it), observedGeneration.
//
// Events on the DaemonSet (source "daemonset-controller"), worded as
// upstream: SuccessfulCreate "Created pod: <name>", SuccessfulDelete
// "Deleted pod: <name>", FailedCreate "Error creating: <err>", FailedDelete
// "Error deleting: <err>", FailedDaemonPod "Found failed daemon pod
// <ns>/<pod> on node <node>, will try to kill it", SucceededDaemonPod,
// SelectingAll.
package daemonset
