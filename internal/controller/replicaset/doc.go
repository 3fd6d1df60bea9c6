// Package replicaset is the ReplicaSet controller: it keeps the number of
// active pods a ReplicaSet owns equal to spec.replicas.
//
//	ReplicaSet + Pods (informers)
//	   │ claim: adopt matching orphans, release owned pods that stopped matching
//	   ▼
//	PlanReplicas ──► create from template (generateName "<rs>-", slow-start batches)
//	   │          └─► delete, best candidates first (PodsToDelete)
//	   ▼
//	Status ──► replicas, fullyLabeledReplicas, readyReplicas,
//	           availableReplicas (minReadySeconds), observedGeneration,
//	           ReplicaFailure condition
//
// Words: an active pod is neither Succeeded/Failed nor being deleted; a
// pod is available once it has been Ready for minReadySeconds.
// Expectations remember creations and deletions the informer has not shown
// yet, so a lagging cache never makes the controller over-create.
//
// Events (on the ReplicaSet, source "replicaset-controller"), worded as
// upstream: SuccessfulCreate "Created pod: <name>", SuccessfulDelete
// "Deleted pod: <name>", FailedCreate "Error creating: <err>",
// FailedDelete "Error deleting: <err>".
package replicaset
