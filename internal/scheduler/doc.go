// Package scheduler is kedge's kube-scheduler: it binds pods that have no
// node to a node, through the API server only.
//
// In:  pods (spec.nodeName empty, spec.schedulerName ours), nodes and
// services, through shared informers.
// Out: pods/binding (POST), a PodScheduled=False condition on pods that
// do not fit (pods/status), core/v1 events "Scheduled", "FailedScheduling"
// and "Preempted", and deletion of preemption victims.
//
// The pipeline, its vocabulary, and where each piece lives are described
// in README.md. Pure logic (plugins, the framework that runs them, the
// failure message) lives in the framework and plugins sub-packages and is
// tested without a server; this package holds the edges: informers, the
// scheduling queue, the cache of nodes and placed pods, and the client.
package scheduler
