// Package ctrlutil holds the small pieces every kedge controller shares:
// the rate-limited work queue and its worker loop, pod readiness and
// availability as upstream defines them, controllerRef claiming
// (adopt/release) as a pure function plus the writes that carry a claim
// out, the expectations that keep a lagging cache from doubling pod
// writes, slow-start batching of those writes, and how a Service port
// resolves to a pod port.
//
// Nothing here talks to the API server on its own: the few helpers that
// write (Claim.Write, ClaimPods, ClaimRevisions, CanAdopt) use the client
// or functions their caller passes in.
package ctrlutil
