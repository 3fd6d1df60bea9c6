// Package endpoints is the Endpoints controller: for every Service with a
// selector it keeps an Endpoints object of the same name listing the pods
// behind it.
//
//	Service + Pods (informers) ──► Subsets ──► Build ──► create/update Endpoints
//	Service gone                ──────────────────────► delete Endpoints
//
// A pod is published when it has an IP, is not finished for good and is
// not terminating (unless the Service publishes not-ready addresses).
// Ready pods go to subsets[].addresses, the others to notReadyAddresses,
// each with ip, nodeName and a targetRef to the pod. Ports come from each
// Service port's targetPort: a number, or a named container port of the
// pod. Addresses sharing the same resolved ports share a subset.
//
// Metadata as upstream: the Service's labels plus
// service.kubernetes.io/headless for headless Services; annotation
// endpoints.kubernetes.io/last-change-trigger-time (RFC 3339, nanoseconds)
// computed as upstream (ctrlutil.TriggerTimes); endpoints.kubernetes.io/over-capacity: truncated past
// 1000 addresses. Services without a selector and ExternalName Services
// are left alone. Failed writes are reported as events
// FailedToCreateEndpoint / FailedToUpdateEndpoint (source
// "endpoint-controller").
package endpoints
