// Package images builds the container images kedge needs without a
// registry: the pod sandbox (pause), a busybox for workloads and tests, and
// the echo test server.
//
// In:  files from the host (or bytes) with their path and mode in the
// image, and an image config (entrypoint, cmd, env, working dir, ports).
// Out: a one-layer image (go-containerregistry v1.Image) written as a
// docker-archive tarball tagged with a reference such as localhost/echo:1,
// which `ctr -n k8s.io images import` loads and containerd's CRI plugin
// then lists under exactly that name.
//
// Builds are reproducible: file times, the creation time and ownership are
// fixed, so the same inputs give the same digests.
//
// The pause process itself is C (pause/pause.c, built with
// `gcc -static -Os`, ~0.7 MB RSS) with a Go fallback (pause/gopause) for
// machines without a static C toolchain; hack/images.mk builds both the
// binaries and, through hack/mkimages, the tarballs (BuildAll).
package images
