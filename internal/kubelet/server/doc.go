// Package server is the kubelet's HTTPS API (port 10250): what the API
// server reaches for pods/log, pods/exec, pods/attach, pods/portforward and
// nodes/proxy, and what metrics collectors scrape.
//
//	client ──TLS (client cert or bearer token)──► authenticate, authorize
//	   /healthz, /pods                  ◄── Host: the node's pods
//	   /containerLogs/<ns>/<pod>/<c>     ◄── CRI log files (logs.go)
//	   /exec, /attach, /portForward      ──► CRI Exec/Attach/PortForward:
//	                                         a URL on the runtime's streaming
//	                                         server, proxied (streaming.go)
//	   /stats/summary, /metrics/resource ◄── CRI stats, cgroups, /proc (stats.go)
//	   /metrics                          ◄── kubelet_* gauges, Go runtime
//
// Words used:
//   - streaming server: containerd's own HTTP server for exec, attach and
//     port-forward sessions (127.0.0.1, a random port, plain HTTP). The
//     kubelet asks CRI for a one-time URL on it and proxies the upgraded
//     connection there.
//   - SPDY and WebSocket: the two ways a client upgrades a streaming
//     request. SPDY requests and the WebSocket protocols containerd 1.6
//     speaks (v4.channel.k8s.io and older) go through unchanged.
//   - translation: kubectl ≥ 1.30 asks for v5.channel.k8s.io (WebSocket
//     with stream half-close), which containerd 1.6 lacks; the kubelet ends
//     the WebSocket itself and drives the session as a SPDY client, as
//     upstream's API server does.
//   - tunnelling: kubectl ≥ 1.31 port-forwards over a WebSocket whose
//     binary messages carry a SPDY connection (subprotocol
//     SPDY/3.1+portforward.k8s.io); the kubelet unwraps it onto a SPDY
//     connection to the streaming server.
//
// Authentication is a client certificate chaining to the cluster CA or a
// bearer token (TokenReview); authorization is a SubjectAccessReview on
// nodes/<subresource>, skipped for system:masters, as upstream's kubelet
// does with its webhook authorizer.
package server
