package main

import (
	"context"
	"errors"

	"k8s.io/client-go/rest"

	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/controller"
	"github.com/kedge-dev/kedge/internal/scheduler"
	"github.com/kedge-dev/kedge/internal/server"
)

// The single components, each run against an API server through a kubeconfig.
func init() {
	register("scheduler", "binds pods to nodes", func(ctx context.Context, args []string) error {
		fs := newFlags("scheduler")
		kubeconfig := fs.String("kubeconfig", "", "kubeconfig to reach the API server (required)")
		name := fs.String("scheduler-name", scheduler.DefaultSchedulerName, "pods with this schedulerName are ours")
		if err := fs.Parse(args); err != nil {
			return err
		}
		rc, err := requiredConfig(*kubeconfig)
		if err != nil {
			return err
		}
		s, err := scheduler.New(scheduler.Config{RestConfig: rc, SchedulerName: *name})
		if err != nil {
			return err
		}
		return s.Run(ctx)
	})

	register("controller-manager", "the control loops", func(ctx context.Context, args []string) error {
		fs := newFlags("controller-manager")
		kubeconfig := fs.String("kubeconfig", "", "kubeconfig to reach the API server (required)")
		cidr := fs.String("cluster-cidr", cluster.DefaultClusterCIDR, "pod network range node CIDRs are carved from")
		mask := fs.Int("node-cidr-mask-size", cluster.DefaultNodeCIDRMaskSize, "prefix length of each node's pod CIDR")
		if err := fs.Parse(args); err != nil {
			return err
		}
		rc, err := requiredConfig(*kubeconfig)
		if err != nil {
			return err
		}
		m, err := controller.NewManager(controller.Config{RestConfig: rc, ClusterCIDR: *cidr, NodeCIDRMaskSize: *mask})
		if err != nil {
			return err
		}
		return m.Run(ctx)
	})

	register("kubelet", "runs this node's pods through CRI", func(ctx context.Context, args []string) error {
		fs := newFlags("kubelet")
		ac := agentFlags(fs, true)
		if err := fs.Parse(args); err != nil {
			return err
		}
		if err := ac.resolve(); err != nil {
			return err
		}
		k, err := newKubelet(ac, nil)
		if err != nil {
			return err
		}
		return k.Run(ctx)
	})

	register("proxy", "Service virtual IPs on this node (iptables)", func(ctx context.Context, args []string) error {
		fs := newFlags("proxy")
		ac := agentFlags(fs, true)
		mode := fs.String("proxy-mode", "iptables", "how Services are programmed: iptables")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if err := ac.resolve(); err != nil {
			return err
		}
		p, err := newProxy(ac, *mode)
		if err != nil {
			return err
		}
		return p.Run(ctx)
	})
}

func requiredConfig(path string) (*rest.Config, error) {
	if path == "" {
		return nil, errors.New("--kubeconfig is required")
	}
	return server.RestConfig(path)
}
