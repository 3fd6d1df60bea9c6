// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets and reports progress in the
// Deployment's status, the way `kubectl rollout status` expects.
//
//	Deployment + its ReplicaSets (+ their pods, for Recreate)
//	   │ claim: adopt matching orphan ReplicaSets, release non-matching ones
//	   ▼
//	Reconcile (pure) ──► Plan: create new RS, scale/annotate RSes, delete
//	   │                       old RSes, Deployment annotations + status, events
//	   ▼
//	apply: create → updates → deletes → Deployment annotations → status
//
// Words. The new ReplicaSet is the one whose template equals the
// Deployment's (ignoring the pod-template-hash label); the others are old.
// It is named <deployment>-<pod-template-hash>, where the hash is
// TemplateHash of the template and status.collisionCount, and the hash is
// added as label pod-template-hash to its labels, selector and template.
// A sync does one of:
//   - scaling (spec.replicas differs from the desired-replicas annotation
//     of an active ReplicaSet, or the Deployment is paused): resize,
//     proportionally across ReplicaSets in the middle of a rollout;
//   - RollingUpdate: grow the new ReplicaSet within maxSurge (rounded up,
//     default 25%), shrink old ones while at least replicas-maxUnavailable
//     (rounded down, default 25%) stay available, unavailable ones first;
//   - Recreate: scale old ReplicaSets to zero, wait for their pods to be
//     gone, then create/scale the new one.
//
// Once complete, old ReplicaSets at zero beyond revisionHistoryLimit are
// deleted, lowest revision first.
//
// Annotations as upstream: deployment.kubernetes.io/revision (Deployment
// and ReplicaSets; revision-history when an old template comes back),
// deployment.kubernetes.io/desired-replicas and max-replicas on
// ReplicaSets; the Deployment's other annotations are copied to its new
// ReplicaSet except kubectl's last-applied-configuration.
//
// Status: observedGeneration, replicas, updatedReplicas, readyReplicas,
// availableReplicas, unavailableReplicas, terminatingReplicas,
// collisionCount and the conditions, worded exactly as upstream:
//
//	Available   True  MinimumReplicasAvailable    Deployment has minimum availability.
//	Available   False MinimumReplicasUnavailable  Deployment does not have minimum availability.
//	Progressing True  NewReplicaSetCreated        Created new replica set "<rs>"
//	Progressing True  FoundNewReplicaSet          Found new replica set "<rs>"
//	Progressing True  ReplicaSetUpdated           ReplicaSet "<rs>" is progressing.
//	Progressing True  NewReplicaSetAvailable      ReplicaSet "<rs>" has successfully progressed.
//	Progressing False ProgressDeadlineExceeded    ReplicaSet "<rs>" has timed out progressing.
//	Progressing False ReplicaSetCreateError       Failed to create new replica set "<rs>": <err>
//	Progressing Unknown DeploymentPaused / DeploymentResumed  Deployment is paused / resumed
//	ReplicaFailure  copied from a ReplicaSet's ReplicaFailure condition
//
// Events on the Deployment (source "deployment-controller"):
// ScalingReplicaSet "Scaled up replica set <rs> to <n>" when a new
// ReplicaSet is created with replicas, "Scaled up|down replica set <rs> to
// <n> from <m>" when one is resized; Warning ReplicaSetCreateError; Warning
// SelectingAll "This deployment is selecting all pods. A non-empty selector
// is required."
package deployment
