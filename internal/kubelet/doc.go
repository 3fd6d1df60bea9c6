// Package kubelet registers a node and runs the pods bound to it through
// CRI.
//
//	API server ──(informer: pods with spec.nodeName=<node>)──► queue of pod UIDs
//	runtime ──(relist every 1 s: the PLEG)───────────────────► queue
//	queue ─► syncPod: runtime state (podRuntime) + pod
//	             ─► volume.Manager.SetUp (containers wait until every
//	                volume is set up; FailedMount events)
//	             ─► computePodActions (pure) ─► CRI calls, events
//	             ─► computePodStatus  (pure) ─► pods/status
//	node loop: Node registration, status (conditions, capacity, nodeInfo),
//	           CNI config once node.spec.podCIDR is set; Lease every 10 s
//
// Words used:
//   - sandbox: the CRI pod sandbox (pause container, network namespace,
//     pod cgroup parent); a new one gets the next metadata attempt.
//   - adoption: the runtime is the only record of what runs. Sandboxes
//     and containers carry upstream's io.kubernetes.* labels and
//     annotations (pod UID, container name, restart count, spec hash), so
//     a restarted kubelet finds and keeps them instead of starting copies.
//   - teardown: a pod with a deletionTimestamp is stopped with its grace
//     period, its sandbox and cgroup removed and its object deleted with
//     grace 0; runtime pods whose object is gone are torn down too.
//   - back-off: container restarts and image pulls wait 10 s, doubling to
//     5 min; the first restart is immediate.
//   - volumes: package volume sets them up (emptyDir, hostPath, configMap,
//     secret, downwardAPI, projected with ServiceAccount tokens) under
//     <DataDir>/pods/<uid>/volumes; a ConfigMap or Secret change queues
//     the pods that project it, whose next sync rewrites the files.
//
// Behaviour users see (condition reasons, event reasons and messages,
// waiting reasons, labels) follows upstream's kubelet. Not here yet:
// probes, lifecycle hooks, persistent and CSI volumes, the
// kubelet API on :10250 (logs, exec), image pull secrets, eviction.
package kubelet
