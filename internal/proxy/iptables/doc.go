// Package iptables is the iptables mode of the service proxy: it turns a
// snapshot.Snapshot into nat and filter rules, as kube-proxy does.
//
// In:  a snapshot (service port → endpoints) at every sync.
// Out: one `iptables-restore --noflush` per sync that rewrites only the
// KUBE-* chains below (everything else in the tables is left alone), the
// jumps into them from the built-in chains, and best-effort `conntrack -D`
// for UDP flows whose backend went away.
//
//	nat PREROUTING, OUTPUT ─▶ KUBE-SERVICES
//	  cluster IP:port ─────────────▶ KUBE-SVC-<hash>  (or KUBE-SVL-<hash>, internalTrafficPolicy Local)
//	  external / LB IP:port ───────▶ KUBE-EXT-<hash>
//	  dst-type LOCAL (last rule) ──▶ KUBE-NODEPORTS ─ nodePort ─▶ KUBE-EXT-<hash>
//	KUBE-EXT  ─ mark for masquerade ─▶ KUBE-SVC (or KUBE-SVL for externalTrafficPolicy Local)
//	KUBE-SVC  ─ -m statistic --probability 1/n, 1/(n-1) … ─▶ KUBE-SEP-<hash> (one per endpoint)
//	KUBE-SEP  ─ DNAT --to-destination ip:port
//	nat POSTROUTING ─▶ KUBE-POSTROUTING: MASQUERADE packets marked 0x4000 (KUBE-MARK-MASQ)
//	filter KUBE-SERVICES / KUBE-EXTERNAL-SERVICES: REJECT ports with no endpoints
//	filter KUBE-FORWARD: accept marked and established forwarded traffic
//	filter KUBE-FIREWALL: drop martian 127.0.0.0/8 traffic route_localnet would let in
//
// Chain names hash "namespace/name:port" + protocol exactly as kube-proxy
// does, and comments read like its ("default/web cluster IP"), so rules
// look familiar in iptables-save. Per-service chains the snapshot no
// longer needs are deleted in the same restore. Rules stay in place when
// the proxy stops.
//
// render is pure (snapshot in, restore text out); Proxier does the I/O
// through an Exec so the same code runs on the host or, in tests, inside a
// network namespace.
package iptables
