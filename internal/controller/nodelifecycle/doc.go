// Package nodelifecycle is the node lifecycle controller: it notices
// kubelets that stopped heartbeating and says so in the API, and keeps the
// condition-driven taints of every node current.
//
//	Nodes + Leases (kube-node-lease) ──► Health: local time of the last
//	                                     renewTime / Ready heartbeat change
//	silent > 40 s (60 s for a node that never posted Ready)
//	   ──► Ready, MemoryPressure, DiskPressure, PIDPressure = Unknown
//	       reason NodeStatusUnknown, "Kubelet stopped posting node status."
//	       (NodeStatusNeverUpdated, "Kubelet never posted node status." when absent)
//	conditions ──► taints node.kubernetes.io/...
//	       Ready False   → not-ready:NoSchedule + not-ready:NoExecute
//	       Ready Unknown → unreachable:NoSchedule + unreachable:NoExecute
//	       pressure / network-unavailable / spec.unschedulable → NoSchedule
//	Ready not True ──► pods on the node get Ready=False
//
// Taints come off again when the kubelet reports Ready=True (including
// node.kubernetes.io/not-ready, which kubelets register with).
//
// Events, worded as upstream (source "node-controller"): RegisteredNode
// "Node <n> event: Registered Node <n> in Controller", RemovingNode
// "Node <n> event: Removing Node <n> from Controller", NodeNotReady
// "Node <n> status is now: NodeNotReady" on the node, and a Warning
// NodeNotReady "Node is not ready" on each pod marked not ready.
//
// Not done here: evicting pods from tainted nodes (upstream's taint
// eviction controller honouring tolerationSeconds) and deleting pods of
// deleted nodes (pod GC). NoExecute taints are applied, so the scheduler
// avoids the node, but running pods stay bound.
package nodelifecycle
