// Package cri is the kubelet's edge to the container runtime.
//
// It holds three things:
//
//   - Client: a CRI v1 gRPC client (runtime and image services) on a unix
//     socket.
//   - Containerd: a private containerd started as a child process from a
//     generated config (RenderConfig), supervised until the context ends.
//     Pods outlive it: their shims keep running, and a restarted kubelet
//     adopts them through CRI labels.
//   - ImportImages: loads docker-archive tarballs from a directory into
//     containerd's k8s.io namespace with `ctr images import`, skipping the
//     ones already imported.
//
// Nothing here knows about Pods: translating the Kubernetes API into CRI
// calls is the kubelet's job.
package cri
