// Package rootcacert is the root CA certificate publisher (upstream's
// "root-ca-cert-publisher"): every namespace gets a ConfigMap
// kube-root-ca.crt whose key ca.crt is the cluster CA (PEM), so that pods
// can verify the API server (the ServiceAccount token volume projects it).
//
//	Namespaces + ConfigMaps (informers) ──► Plan(existing, CA) ──► create / update
//
// A deleted ConfigMap is created again; a changed one (data, or the
// kubernetes.io/description annotation removed) is put back. Terminating
// namespaces are left alone.
package rootcacert
