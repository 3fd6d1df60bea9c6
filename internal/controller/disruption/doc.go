// Package disruption is the disruption controller: it keeps the status of
// every PodDisruptionBudget (expected, healthy and desired pod counts, the
// disruptions it allows, the DisruptionAllowed condition) from the pods its
// selector matches and the scale of their controllers. The API server's
// pods/eviction subresource spends the allowed disruptions and records the
// evicted pods in status.disruptedPods; this controller forgets them once
// they are gone or after two minutes.
//
// In: PodDisruptionBudgets, Pods, ReplicaSets, Deployments, StatefulSets,
// ReplicationControllers (informers). Out: PDB status writes, Events.
package disruption
