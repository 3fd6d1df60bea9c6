// Package volume sets up the volumes of the node's pods, as upstream's
// kubelet volume plugins do, for the kubelet to hand to CRI as mounts.
//
//	pod ─► Manager.SetUp ─► per volume:
//	   emptyDir     <pod>/volumes/kubernetes.io~empty-dir/<name> (0777; medium Memory: tmpfs, size=)
//	   hostPath     the path, checked (and created for ...OrCreate) by type
//	   configMap    <pod>/volumes/kubernetes.io~configmap/<name>     ┐ WriteAtomic of a
//	   secret       <pod>/volumes/kubernetes.io~secret/<name> (tmpfs) │ Payload rendered from
//	   downwardAPI  <pod>/volumes/kubernetes.io~downward-api/<name>   │ watched objects, the
//	   projected    <pod>/volumes/kubernetes.io~projected/<name>      ┘ pod, tokens
//	   ─► Result: Mounts (host path, read-only), per-volume SetUpErrors
//	      (FailedMount messages), Unmounted (containers wait), RefreshIn
//	ConfigMap/Secret watch event ─► Config.Changed(pod UID) ─► the kubelet syncs the pod ─► SetUp
//	pod gone ─► Manager.TearDown: release watches and tokens, unmount, remove <pod>
//
// Words used:
//   - payload: the files of a volume by relative path, with content and
//     mode (items with key/path/mode, defaultMode 0644).
//   - atomic writer: upstream's layout; the files live in a timestamped
//     directory "..2026_11_29_10_00_00.123456789", "..data" links to it,
//     and each top-level name is a link "key -> ..data/key". An update
//     writes a new directory and renames a new "..data" over the old, so
//     readers never see half an update.
//   - watched objects: every ConfigMap and Secret a pod's volumes
//     reference gets its own list+watch (fieldSelector metadata.name=),
//     shared by the pods referencing it and closed when none does; a
//     change reaches mounted files within the kubelet's next sync (about
//     a second).
//   - projected token: a ServiceAccount token the kubelet requests with
//     the TokenRequest API, bound to the pod, and renews after 80% of its
//     lifetime or 24 h.
//
// Memory-backed volumes (secret, downwardAPI, projected and emptyDir
// medium Memory) are tmpfs mounts, sized like upstream's; a directory that
// already is a mount point (a restarted kubelet) is kept as it is.
// With a pod securityContext.fsGroup, emptyDir, configMap, secret,
// downwardAPI and projected volumes belong to that group (set-group-ID
// directories, group read, and write for emptyDir), as upstream's.
// Not supported: persistentVolumeClaim and the other network or CSI
// volume types (skipped), clusterTrustBundle and podCertificate
// projections.
package volume
