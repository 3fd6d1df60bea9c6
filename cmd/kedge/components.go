package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/controller"
	"github.com/kedge-dev/kedge/internal/kubelet"
	"github.com/kedge-dev/kedge/internal/proxy"
	"github.com/kedge-dev/kedge/internal/scheduler"
	"github.com/kedge-dev/kedge/internal/server"
)

// agentConfig is what the node side needs.
type agentConfig struct {
	dataDir         string
	nodeName        string
	nodeIP          string
	runtimeEndpoint string
	kubeconfig      string
	clusterCIDR     string
	serviceCIDR     string
	labels          string
	kubeletPort     int
	podManifestPath string
	evictionHard    string
}

func agentFlags(fs *flag.FlagSet, withCluster bool) *agentConfig {
	c := &agentConfig{}
	host, _ := os.Hostname()
	fs.StringVar(&c.nodeName, "node-name", strings.ToLower(host), "name of this node")
	fs.StringVar(&c.nodeIP, "node-ip", "", "InternalIP of this node (default: the default route's address)")
	fs.StringVar(&c.runtimeEndpoint, "container-runtime-endpoint", "", "CRI endpoint (default: start a private containerd)")
	fs.StringVar(&c.labels, "node-labels", "", "extra node labels, k=v,k2=v2")
	fs.IntVar(&c.kubeletPort, "kubelet-port", 10250, "HTTPS port of the kubelet API (logs, exec, port-forward, stats)")
	fs.StringVar(&c.evictionHard, "eviction-hard", "", "hard eviction thresholds, as upstream's kubelet flag (default: memory.available<100Mi,nodefs.available<10%,imagefs.available<15%,nodefs.inodesFree<5%)")
	fs.StringVar(&c.podManifestPath, "pod-manifest-path", "", "directory of static pod manifests (default: <data-dir>/agent/pod-manifests)")
	if withCluster {
		fs.StringVar(&c.dataDir, "data-dir", cluster.DefaultDataDir, "directory for the node's state")
		fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig of this node (default: <data-dir>/agent/kubelet.kubeconfig)")
		fs.StringVar(&c.clusterCIDR, "cluster-cidr", cluster.DefaultClusterCIDR, "pod network range")
		fs.StringVar(&c.serviceCIDR, "service-cidr", cluster.DefaultServiceCIDR, "Service ClusterIP range")
	}
	return c
}

func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("bad label %q", kv)
		}
		out[k] = v
	}
	return out, nil
}

func (c *agentConfig) resolve() error {
	abs, err := filepath.Abs(c.dataDir)
	if err != nil {
		return err
	}
	c.dataDir = abs
	if c.kubeconfig == "" {
		c.kubeconfig = filepath.Join(c.dataDir, "agent", "kubelet.kubeconfig")
	}
	if c.nodeIP == "" {
		ip, err := cluster.HostIP()
		if err != nil {
			return err
		}
		c.nodeIP = ip.String()
	}
	return nil
}

// newKubelet builds the node's kubelet; extraLabels add to --node-labels.
func newKubelet(c *agentConfig, extraLabels map[string]string) (*kubelet.Kubelet, error) {
	rc, err := server.RestConfig(c.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("node kubeconfig: %w", err)
	}
	labels, err := parseLabels(c.labels)
	if err != nil {
		return nil, err
	}
	for k, v := range extraLabels {
		labels[k] = v
	}
	return kubelet.New(kubelet.Config{
		NodeName: c.nodeName, NodeIP: c.nodeIP, DataDir: filepath.Join(c.dataDir, "agent"),
		RunDir: cluster.RunDir(c.dataDir), RuntimeEndpoint: c.runtimeEndpoint, RestConfig: rc,
		ClusterCIDR: c.clusterCIDR, ServiceCIDR: c.serviceCIDR, NodeLabels: labels, Port: c.kubeletPort,
		StaticPodPath: c.podManifestPath, EvictionHard: c.evictionHard,
	})
}

// newProxy builds the node's service proxy.
func newProxy(c *agentConfig, mode string) (*proxy.Proxy, error) {
	rc, err := server.RestConfig(c.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("node kubeconfig: %w", err)
	}
	return proxy.New(proxy.Config{RestConfig: rc, NodeName: c.nodeName, NodeIP: c.nodeIP, ClusterCIDR: c.clusterCIDR, Mode: mode})
}

// agentComponents returns the kubelet and the proxy of a node.
func agentComponents(c *agentConfig, extraLabels map[string]string) ([]func(context.Context) error, error) {
	kl, err := newKubelet(c, extraLabels)
	if err != nil {
		return nil, err
	}
	px, err := newProxy(c, "iptables")
	if err != nil {
		return nil, err
	}
	return []func(context.Context) error{kl.Run, px.Run}, nil
}

// controlPlaneComponents returns the scheduler and the controller manager.
func controlPlaneComponents(s *server.Server, cfg *server.Config) ([]func(context.Context) error, error) {
	var out []func(context.Context) error
	if !cfg.DisableScheduler {
		rc, err := server.RestConfig(s.ComponentKubeconfig("scheduler"))
		if err != nil {
			return nil, err
		}
		sc, err := scheduler.New(scheduler.Config{RestConfig: rc, SchedulerName: "default-scheduler"})
		if err != nil {
			return nil, err
		}
		out = append(out, sc.Run)
	}
	if !cfg.DisableControllerManager {
		rc, err := server.RestConfig(s.ComponentKubeconfig("controller"))
		if err != nil {
			return nil, err
		}
		cm, err := controller.NewManager(controller.Config{RestConfig: rc, ClusterCIDR: cfg.ClusterCIDR,
			NodeCIDRMaskSize: cluster.DefaultNodeCIDRMaskSize, Workers: 5, ServiceAccountKeyFile: s.ServiceAccountKeyFile()})
		if err != nil {
			return nil, err
		}
		out = append(out, cm.Run)
	}
	return out, nil
}
