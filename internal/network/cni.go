package network

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

const (
	// BridgeName is the Linux bridge the pods of a node are plugged into.
	BridgeName = "kedge0"
	// NetworkName is the CNI network name of the pod network.
	NetworkName = "kedge"
	// ConfFileName is the conflist file written into the CNI conf dir.
	ConfFileName = "10-kedge.conflist"
)

// CNIConfig describes the node's pod network.
type CNIConfig struct {
	// PodCIDR is node.spec.podCIDR, e.g. 10.42.0.0/24.
	PodCIDR string
	// IPAMDataDir is where host-local keeps its allocations; it must be
	// private to the node so two nodes on one kernel never share it.
	IPAMDataDir string
	// Bridge defaults to BridgeName, Name to NetworkName.
	Bridge string
	Name   string
	// MTU of the bridge and veths; 0 lets the plugin choose.
	MTU int
}

// RenderCNIConfig returns the conflist for c: bridge (gateway, hairpin;
// masquerade is the guard's) with host-local IPAM on the pod CIDR, then portmap for hostPorts.
// loopback is left out: containerd brings up lo in every pod itself.
func RenderCNIConfig(c CNIConfig) ([]byte, error) {
	prefix, err := netip.ParsePrefix(c.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", c.PodCIDR, err)
	}
	if !prefix.Addr().Is4() {
		return nil, fmt.Errorf("pod CIDR %q: only IPv4 is supported", c.PodCIDR)
	}
	if c.IPAMDataDir == "" {
		return nil, fmt.Errorf("CNI config: IPAM data dir is required")
	}
	if c.Bridge == "" {
		c.Bridge = BridgeName
	}
	if c.Name == "" {
		c.Name = NetworkName
	}
	type obj = map[string]any
	bridge := obj{
		"type":        "bridge",
		"bridge":      c.Bridge,
		"isGateway":   true,
		"ipMasq":      false, // one masquerade rule in the guard table instead
		"hairpinMode": true,
		"ipam": obj{
			"type":    "host-local",
			"ranges":  [][]obj{{{"subnet": prefix.Masked().String()}}},
			"routes":  []obj{{"dst": "0.0.0.0/0"}},
			"dataDir": c.IPAMDataDir,
		},
	}
	if c.MTU > 0 {
		bridge["mtu"] = c.MTU
	}
	conf := obj{
		"cniVersion": "1.0.0",
		"name":       c.Name,
		"plugins": []obj{
			bridge,
			{"type": "portmap", "capabilities": obj{"portMappings": true}},
		},
	}
	out, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// WriteCNIConfig writes the conflist for c into confDir (atomically, and
// only when its content changes). It reports whether the file changed.
func WriteCNIConfig(confDir string, c CNIConfig) (bool, error) {
	data, err := RenderCNIConfig(c)
	if err != nil {
		return false, err
	}
	path := filepath.Join(confDir, ConfFileName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return false, fmt.Errorf("write CNI config: %w", err)
	}
	if err := os.MkdirAll(c.IPAMDataDir, 0o755); err != nil {
		return false, fmt.Errorf("write CNI config: %w", err)
	}
	tmp, err := os.CreateTemp(confDir, ".kedge-*.tmp")
	if err != nil {
		return false, fmt.Errorf("write CNI config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write CNI config: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write CNI config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write CNI config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("write CNI config: %w", err)
	}
	return true, nil
}
