// Package cluster holds the facts every kedge component agrees on: the
// default address ranges, ports and the on-disk layout of a data dir.
package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
)

const (
	// DefaultClusterCIDR is the range node pod CIDRs are carved from.
	DefaultClusterCIDR = "10.42.0.0/16"
	// DefaultServiceCIDR is the range ClusterIPs are allocated from; its
	// first address belongs to the "kubernetes" Service.
	DefaultServiceCIDR = "10.43.0.0/16"
	// DefaultNodeCIDRMaskSize is the prefix length of each node's pod CIDR.
	DefaultNodeCIDRMaskSize = 24
	// DefaultAPIServerPort is the HTTPS port of the API server.
	DefaultAPIServerPort = 6443
	// DefaultDataDir is where `kedge up` keeps its state.
	DefaultDataDir = "/var/lib/kedge"
	// DefaultClusterDomain is the DNS suffix of Services.
	DefaultClusterDomain = "cluster.local"
	// PauseImage is the sandbox image; it is built locally, never pulled.
	PauseImage = "localhost/pause:3.10"
)

// RunDir is a short per-data-dir directory under /run for sockets and
// runtime state (unix socket paths are limited to 108 bytes, so the data
// dir itself cannot hold them).
func RunDir(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	if abs == DefaultDataDir {
		return "/run/kedge"
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join("/run/kedge", hex.EncodeToString(sum[:4]))
}
