// Package endpointslice is the EndpointSlice controller: it publishes the
// pods behind every Service with a selector as discovery.k8s.io/v1
// EndpointSlices, the objects proxies and DNS read.
//
//	Service + Pods + Nodes (informers) ──► Reconcile ──► create / update / delete slices
//	                                          ▲
//	          tracker: wait while the slice cache lags our own writes
//
// Each slice (generateName "<service>-", addressType IPv4, owned by the
// Service with controller=true) holds at most 100 endpoints that resolve
// to the same ports; a Service without endpoints keeps one empty
// placeholder slice. Endpoints stay in the slice that holds them, new ones
// fill free room first, and a slice to delete is reused for one to create.
//
// An endpoint is a pod's IPv4 address with conditions ready (Ready and
// not terminating, or the Service publishes not-ready addresses), serving
// (Ready) and terminating (deletionTimestamp set), plus nodeName, zone
// (the node's topology.kubernetes.io/zone), hostname and a targetRef to
// the pod. Terminating pods stay listed so proxies can drain them.
//
// Labels as upstream: the Service's labels, kubernetes.io/service-name,
// endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io,
// and service.kubernetes.io/headless for headless Services. Created and
// updated slices carry endpoints.kubernetes.io/last-change-trigger-time.
// Write failures other than conflicts with a newer slice (a stale cache)
// become a Warning event FailedToUpdateEndpointSlices on the Service
// (source "endpoint-slice-controller").
package endpointslice
