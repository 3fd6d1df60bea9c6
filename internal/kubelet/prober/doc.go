// Package prober runs the kubelet's container probes and lifecycle hooks
// as upstream's kubelet does.
//
//	kubelet sync ──Update(pod, podIP, running containers)──► Manager
//	    Manager: one worker goroutine per probe per container instance
//	    worker: wait initialDelaySeconds, then every periodSeconds:
//	            handler (exec | httpGet | tcpSocket | grpc, timeoutSeconds)
//	            ─► state (thresholds) ─► published result
//	            ─► Event (Unhealthy, ProbeWarning) ─► Changed(pod UID)
//	kubelet status ◄── Status(uid, container, id): started, ready
//	kubelet sync   ◄── Failed(uid, id): liveness/startup failure → kill
//	kubelet start/stop ──RunHook(postStart | preStop)──► exec | httpGet | sleep
//
// Words used:
//   - instance: one run of a container (one runtime container ID). Its
//     workers and results live as long as it runs: a restarted container
//     starts over (not ready, not started).
//   - published result: what a probe says after its thresholds:
//     readiness starts at Failure, liveness at Success, startup at Unknown;
//     failureThreshold consecutive failures (successThreshold successes)
//     are needed to change it.
//   - gating: liveness and readiness probes wait until the startup probe
//     (if any) has succeeded; the startup probe stops once it has.
//   - errored probe: the handler could not run (an unresolvable port, a
//     runtime error); it is reported and does not count.
//
// The kubelet owns every side effect on containers: the manager only
// reports. Upstream's wording of events and messages is kept:
// "Liveness probe failed: HTTP probe failed with statuscode: 500",
// "Readiness probe errored and resulted in unknown state: ...",
// "Exec lifecycle hook ([...]) for Container ... failed - error: ...".
package prober
