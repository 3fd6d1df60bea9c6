package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/kedge-dev/kedge/internal/server"
)

func init() {
	register("server", "etcd + apiserver + scheduler + controller-manager", func(ctx context.Context, args []string) error {
		fs := newFlags("server")
		cfg := serverFlags(fs)
		fs.BoolVar(&cfg.DisableScheduler, "disable-scheduler", false, "do not run the scheduler")
		fs.BoolVar(&cfg.DisableControllerManager, "disable-controller-manager", false, "do not run the controller manager")
		if err := fs.Parse(args); err != nil {
			return err
		}
		s, err := server.New(*cfg)
		if err != nil {
			return err
		}
		if err := s.Credentials(""); err != nil {
			return err
		}
		comps, err := controlPlaneComponents(s, cfg)
		if err != nil {
			return err
		}
		return s.Run(ctx, comps...)
	})

	register("up", "a single-node cluster: server + agent", func(ctx context.Context, args []string) error {
		fs := newFlags("up")
		cfg := serverFlags(fs)
		ac := agentFlags(fs, false)
		if err := fs.Parse(args); err != nil {
			return err
		}
		s, err := server.New(*cfg)
		if err != nil {
			return err
		}
		*cfg = s.Config()
		ac.dataDir, ac.clusterCIDR, ac.serviceCIDR = cfg.DataDir, cfg.ClusterCIDR, cfg.ServiceCIDR
		if ac.nodeIP == "" {
			ac.nodeIP = cfg.AdvertiseAddress
		}
		if err := ac.resolve(); err != nil {
			return err
		}
		if err := s.Credentials(ac.nodeName, ac.nodeIP); err != nil {
			return err
		}
		comps, err := controlPlaneComponents(s, cfg)
		if err != nil {
			return err
		}
		agent, err := agentComponents(ac, map[string]string{"node-role.kubernetes.io/control-plane": ""})
		if err != nil {
			return err
		}
		go func() {
			select {
			case <-s.Ready:
				fmt.Fprintf(os.Stderr, "\nkedge is up. To use it:\n\n    export KUBECONFIG=%s\n    kubectl get nodes\n\n", s.AdminKubeconfig())
			case <-ctx.Done():
			}
		}()
		slog.Info("starting kedge", "dataDir", cfg.DataDir, "node", ac.nodeName)
		return s.Run(ctx, append(comps, agent...)...)
	})

	register("agent", "kubelet + proxy + pod network on this node", func(ctx context.Context, args []string) error {
		fs := newFlags("agent")
		ac := agentFlags(fs, true)
		if err := fs.Parse(args); err != nil {
			return err
		}
		if err := ac.resolve(); err != nil {
			return err
		}
		comps, err := agentComponents(ac, nil)
		if err != nil {
			return err
		}
		return runAll(ctx, comps...)
	})
}

// runAll runs components until ctx ends or one fails.
func runAll(ctx context.Context, comps ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(comps))
	for _, run := range comps {
		go func() { errc <- run(ctx) }()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}
