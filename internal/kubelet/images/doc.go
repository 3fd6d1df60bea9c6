// Package images holds what the kubelet needs about container images
// apart from the CRI calls themselves.
//
//	<data-dir>/agent/registries.yaml ─► Registries ─► hosts.toml per registry
//	                                        │          (containerd's certs.d: mirrors,
//	                                        │           plain HTTP, TLS settings)
//	                                        └─► Auth(host) (credentials from configs)
//	pod.spec.imagePullSecrets (dockerconfigjson, dockercfg) ─► Keyring ─► CRI AuthConfigs
//	CRI ListImages/ListContainers + imagefs usage ─► GC ─► RemoveImage (LRU first)
//	CRI pull errors ─► PullErrorMessage (the text users see in events/status)
//
// Words used:
//   - registries.yaml: the k3s-style file users know: mirrors (registry
//     host → endpoints, e.g. "http://localhost:5000" for plain HTTP) and
//     configs (endpoint host → tls, auth).
//   - keyring: the credentials of a pod's pull secrets, matched against an
//     image's registry host and path as upstream does (longest match first).
//   - image GC: upstream's policy: above HighThresholdPercent (85) of the
//     image filesystem, unused images least recently used first are
//     removed until usage is at LowThresholdPercent (80); images younger
//     than MinAge (2 min) and pinned images (the pause image) stay.
package images
