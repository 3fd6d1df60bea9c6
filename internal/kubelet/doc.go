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
//   - security (security.go, containerconfig.go): securityContext maps to
//     the CRI's, pod-level values default the containers'; runAsNonRoot
//     is checked against runAsUser or the image's user (CRI ImageStatus)
//     and refused with CreateContainerConfigError; fsGroup owns volumes
//     (package volume).
//   - resources: cpu shares from requests, CFS quota and memory limit
//     from limits, oom_score_adj by QoS class; pod cgroups under
//     kubepods[/burstable|/besteffort] (cgroups.go). containerd reports
//     OOM kills as reason OOMKilled.
//   - sidecars (sidecar.go): init containers with restartPolicy Always
//     start in order, count as initialized once running, are restarted
//     whenever they exit and stopped with the pod.
//   - eviction (eviction.go, eviction_node.go): hard thresholds
//     (Config.EvictionHard, upstream's flag syntax and defaults:
//     memory.available<100Mi, nodefs.available<10%, imagefs.available<15%,
//     nodefs.inodesFree<5%; pid.available may be set) raise the
//     Memory/Disk/PIDPressure conditions, which stay true for the
//     transition period (5 min) after recovery. Every 10 s one pod is
//     evicted (reported Failed/Evicted, then stopped without grace by its
//     worker): a pod over an emptyDir sizeLimit or its ephemeral-storage
//     limits; under memory pressure the pod using most beyond its request;
//     under disk pressure, once image GC could not free enough, the pod
//     using most local storage (writable layers, logs, emptyDirs). A
//     finished pod's volumes are removed.
//   - probes and hooks: package prober runs liveness, readiness and
//     startup probes (one worker per probe per running container) and
//     postStart/preStop hooks (probes.go ties them in): readiness makes
//     containers ready, a liveness or startup failure kills the container
//     ("Container c failed liveness probe, will be restarted"); postStart
//     runs before a container counts as running, preStop before SIGTERM
//     within the grace period.
//   - images: pulled per imagePullPolicy with the credentials of the
//     pod's imagePullSecrets (or registries.yaml); <DataDir>/registries.yaml
//     becomes containerd's certs.d hosts.toml files (mirrors, plain HTTP,
//     TLS); image GC frees disk above 85 % (package images).
//   - static pods (staticpods.go): manifests in StaticPodPath
//     (<DataDir>/pod-manifests, read every 5 s) run as pods named
//     <name>-<node> whose UID hashes the manifest and node; each gets a
//     mirror pod in the API (kubernetes.io/config.mirror, owned by the
//     Node) that carries its status and is re-created when deleted. The
//     kubelet never runs mirror pods; a removed or changed manifest stops
//     its pod and deletes the mirror.
//
// Behaviour users see (condition reasons, event reasons and messages,
// waiting reasons, labels) follows upstream's kubelet. Not here yet:
// persistent and CSI volumes, soft eviction thresholds, eviction by PID
// use.
//
// The kubelet API on :10250 (logs, exec, attach, port-forward, stats,
// metrics) is package server, run by serveAPI (kubeletapi.go) with the
// informer's pods and the CRI client.
package kubelet
