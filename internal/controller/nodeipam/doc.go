// Package nodeipam is the node IPAM controller (range allocator): it gives
// every node without one a pod CIDR — spec.podCIDR and spec.podCIDRs — cut
// from the cluster CIDR (10.42.0.0/16 in /24s by default). The CNI setup
// on each node reads it.
//
//	Nodes (informer) ──► at start: mark every CIDR nodes hold as taken
//	                 └─► node without CIDR ──► Allocator ──► update node spec
//	node deleted     ──► its CIDR is free again
//
// A CIDR held by an existing node is never handed out twice, also across
// restarts, because the allocation map is rebuilt from the nodes before the
// first assignment. Failures are reported as upstream does, with Normal
// events on the node from source "cidrAllocator": CIDRNotAvailable (range
// exhausted) and CIDRAssignmentFailed (the update failed), each worded
// "Node <name> status is now: <reason>".
package nodeipam
