// Package controller is kedge's controller manager: it runs the control
// loops of kube-controller-manager over one shared informer factory, one
// core/v1 event broadcaster and clients speaking JSON to the API server.
//
//	Config ──► NewManager ──► clientset, metadata client, discovery
//	                          shared informers (pods, replicasets, ...)
//	Run(ctx) ──► deployment      Deployments → ReplicaSets (rolling/recreate)
//	             replicaset      ReplicaSets → Pods
//	             job             Jobs → Pods run to completion, Complete/Failed
//	             cronjob         CronJobs → Jobs on their schedule
//	             ttlafterfinished finished Jobs → deleted after their TTL
//	             endpoints       Services + Pods → Endpoints
//	             endpointslice   Services + Pods → EndpointSlices
//	             nodeipam        Nodes → spec.podCIDR(s)
//	             nodelifecycle   Leases + Nodes → Unknown conditions, taints
//	             serviceaccount  Namespaces → "default" ServiceAccount;
//	                             token Secrets → token, ca.crt, namespace
//	             rootcacert      Namespaces → kube-root-ca.crt ConfigMap
//	             garbagecollector every resource → dependents of gone owners
//
// Each controller lives in its own package with its reconcile logic as pure
// functions (observed objects in, planned writes out) and a thin
// informer/workqueue/clientset edge. Run stops everything when ctx is
// cancelled, or when one controller fails.
//
// Not here yet: leader election, and the other upstream loops (namespace
// deletion, daemonset, statefulset, HPA, pod GC, taint
// eviction, PV binder, service load balancer).
package controller
