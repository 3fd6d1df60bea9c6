// Package network prepares a node's pod network and keeps cluster traffic
// on the machine.
//
// In: the node's pod CIDR (node.spec.podCIDR, assigned by the
// controller-manager's node IPAM), the cluster and service CIDRs.
// Out: a CNI conflist that containerd's CRI plugin loads from its conf_dir
// (the standard bridge, host-local and portmap plugins), and the "guard":
//
//	service CIDR   -> route to the device kedge-svc (dummy, or ifb where the
//	                  kernel lacks the dummy driver), so locally
//	                  originated packets reach the OUTPUT NAT hook where the
//	                  proxy DNATs them, and die there when nothing does
//	cluster CIDR   -> an unreachable route; the node's own pod CIDR is more
//	                  specific (connected route on the bridge kedge0)
//	nftables table "ip kedge_guard": at postrouting, drop anything for the
//	                  cluster or service CIDR leaving through any device other
//	                  than lo, kedge0 or kedge-svc (the uplinks); and
//	                  masquerade pod traffic for addresses outside the
//	                  cluster CIDR (one rule, not the bridge plugin's
//	                  per-pod ipMasq chains)
//
// A packet for a pod or Service address therefore never leaves through the
// machine's default route. Everything here is idempotent: call it again to
// repair drift.
package network
