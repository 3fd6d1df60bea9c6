package main

import (
	"context"
	"flag"

	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/server"
)

// serverFlags are the flags of every command that runs the control plane.
func serverFlags(fs *flag.FlagSet) *server.Config {
	cfg := &server.Config{}
	fs.StringVar(&cfg.DataDir, "data-dir", cluster.DefaultDataDir, "directory for the cluster's state")
	fs.StringVar(&cfg.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	fs.IntVar(&cfg.Port, "secure-port", cluster.DefaultAPIServerPort, "HTTPS port of the API server")
	fs.StringVar(&cfg.AdvertiseAddress, "advertise-address", "", "address the kubernetes Service points at (default: this host's IP)")
	fs.StringVar(&cfg.ClusterCIDR, "cluster-cidr", cluster.DefaultClusterCIDR, "pod network range")
	fs.StringVar(&cfg.ServiceCIDR, "service-cidr", cluster.DefaultServiceCIDR, "Service ClusterIP range")
	fs.IntVar(&cfg.EtcdPeerPort, "etcd-peer-port", 2380, "port of the embedded etcd member's peer listener")
	return cfg
}

func init() {
	register("apiserver", "the Kubernetes API with embedded etcd", func(ctx context.Context, args []string) error {
		fs := newFlags("apiserver")
		cfg := serverFlags(fs)
		if err := fs.Parse(args); err != nil {
			return err
		}
		cfg.DisableScheduler, cfg.DisableControllerManager = true, true
		s, err := server.New(*cfg)
		if err != nil {
			return err
		}
		return s.Run(ctx)
	})
}
