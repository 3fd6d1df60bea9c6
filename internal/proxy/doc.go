// Package proxy is kedge's kube-proxy: it makes Service virtual IPs,
// NodePorts, external IPs and load-balancer IPs reach the endpoints of
// their Services on this node.
//
//	API server ──watch──▶ Services, EndpointSlices (client-go informers)
//	                          │ any add/update/delete
//	                          ▼
//	                 sync runner (coalesces; ≤ 1 sync per MinSyncPeriod,
//	                          │   ≥ 1 per SyncPeriod, retries on failure)
//	                          ▼
//	       snapshot.Build: service port → endpoints (ready, serving,
//	                          │   terminating, local or not)
//	                          ▼
//	       mode backend: iptables (ipvs, nftables, userspace later)
//	                          ▼
//	                    kernel (nat/filter tables, conntrack)
//
// In: the API server (read-only: Services and discovery.k8s.io/v1
// EndpointSlices, tied together by the kubernetes.io/service-name label).
// Out: the node's packet rules; nothing is written to the API.
//
// Words: a "service port" is one spec.ports entry of one Service
// ("namespace/name:port"); a "snapshot" is the whole service port →
// endpoints table at one moment (package snapshot); a "sync" programs one
// snapshot into the kernel, all of it, in one atomic step. The first sync
// waits for the informer caches, so a restart never programs a partial
// table; stopping leaves the rules in place.
//
// Mode-independent parts live here and in proxy/snapshot (Categorize picks
// endpoints by traffic policy and readiness; Changes says which UDP
// conntrack entries a sync made stale). Each mode is a sub-package with a
// Setup and a Sync method.
package proxy
