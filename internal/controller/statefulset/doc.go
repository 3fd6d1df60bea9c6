// Package statefulset is the StatefulSet controller: it gives every
// StatefulSet pods with stable names and storage, created, updated and
// removed in ordinal order, and rolls them between ControllerRevisions
// the way `kubectl rollout status|history|undo sts/<name>` expects.
//
//	StatefulSet + its Pods, ControllerRevisions (+ the namespace's claims)
//	   │ claim: adopt orphans named <set>-<ordinal> that match, release the rest
//	   ▼
//	Reconcile (pure) ──► Plan: update revision (create or renumber),
//	   │                       phases of pod/claim actions, status,
//	   │                       revisions to delete
//	   ▼
//	apply: revision → phases (stop at first failure) → status → history
//
// Words. Pod <set>-<ordinal> is a replica when its ordinal is within
// [start, start+replicas) (start is spec.ordinals.start, default 0), and
// condemned above that. Each pod has hostname <pod>, subdomain
// spec.serviceName, the labels statefulset.kubernetes.io/pod-name,
// apps.kubernetes.io/pod-index and controller-revision-hash (the name of
// its revision), and for every volume claim template a volume backed by
// claim <template>-<set>-<ordinal>, created before the pod (labelled with
// the selector's matchLabels; nothing binds it to a volume here).
//
// A revision is a ControllerRevision named <set>-<hash> holding the pod
// template as a strategic merge patch (see internal/controller/internal/
// history); its number grows by one per new template, and a template that
// comes back (rollout undo) renumbers its old revision. The update revision
// matches spec.template; the current revision is the one the replicas had
// when the last rolling update completed.
//
// One sync, in phases:
//  1. replicas in ordinal order: create missing pods (below the partition
//     from the current revision, otherwise the update revision) with their
//     claims; replace Succeeded/Failed pods; restore identity and storage.
//     OrderedReady stops at the first pod not Running, Ready and available
//     (minReadySeconds); Parallel goes on.
//  2. claims of condemned pods get the pod as owner when
//     persistentVolumeClaimRetentionPolicy.whenScaled is Delete (claims of
//     replicas get the set as owner when whenDeleted is Delete), so the
//     garbage collector removes them with their owner.
//  3. condemned pods are deleted from the highest ordinal; OrderedReady
//     one at a time, waiting for it to be gone and for the others to be
//     healthy.
//  4. RollingUpdate deletes outdated replicas at or above the partition,
//     highest ordinal first, while fewer than maxUnavailable (default 1)
//     replicas are unhealthy; phase 1 then recreates them at the update
//     revision. OnDelete waits for the user to delete pods.
//
// Status: replicas, readyReplicas, availableReplicas, currentReplicas,
// updatedReplicas, currentRevision, updateRevision, collisionCount,
// observedGeneration; when every replica is updated and ready the update
// revision becomes current. Revisions no pod uses beyond
// revisionHistoryLimit are deleted, oldest first.
//
// Events on the StatefulSet (source "statefulset-controller"), worded as
// upstream 1.37 prints them: SuccessfulCreate "Create Pod <pod> in
// StatefulSet <set> successful", SuccessfulDelete "Delete Pod ...",
// SuccessfulUpdate "Update Pod ...", FailedCreate/FailedDelete/FailedUpdate
// "<Verb> Pod <pod> in StatefulSet <set> failed error: <err>", and for
// claims SuccessfulCreate "Create Claim <claim> Pod <pod> in StatefulSet
// <set> success" / FailedCreate "Create Claim <claim> for Pod <pod> in
// StatefulSet <set> failed error: <err>".
package statefulset
