// Command kedge is a Kubernetes-compatible container orchestrator in one
// binary. Each Kubernetes component is a subcommand; `kedge up` runs them
// all on one machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only when KEDGE_PPROF is set
	"os"
	"os/signal"
	"sort"
	"syscall"

	"k8s.io/klog/v2"
)

const usage = `kedge — Kubernetes in one binary.

  kubectl ──HTTPS──▶ apiserver ──▶ etcd (embedded, Raft)
                        ▲
       ┌────────────────┼─────────────────┐
   scheduler   controller-manager      kubelet ──CRI──▶ containerd/runc
   (binds pods) (deployments, rs,      (pods, CNI bridge)
                 endpoints, nodes, gc)  proxy (iptables: Service IPs)

Usage: kedge <command> [flags]

Composite commands:
  up                  server + agent on this machine (the single-node cluster)
  server              etcd + apiserver + scheduler + controller-manager
  agent               kubelet + proxy + pod network (+ containerd)

Components:
  apiserver           the Kubernetes API (with embedded etcd)
  scheduler           binds pods to nodes
  controller-manager  the control loops
  kubelet             runs pods through CRI
  proxy               Service virtual IPs (iptables)

Other:
  images              build the local images (pause, busybox, echo)
  version             print the version

Run 'kedge <command> -h' for the flags of a command.
`

type command struct {
	help string
	run  func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(name, help string, run func(ctx context.Context, args []string) error) {
	commands[name] = command{help: help, run: run}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprint(os.Stderr, usage)
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "kedge: unknown command %q (commands: %v)\n", os.Args[1], names)
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})))
	klog.SetSlogLogger(slog.Default()) // client-go logs through slog too
	if addr := os.Getenv("KEDGE_PPROF"); addr != "" {
		// Profiles for benchmarks, e.g. KEDGE_PPROF=127.0.0.1:6060.
		go func() { slog.Error("pprof listener", "err", http.ListenAndServe(addr, nil)) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "kedge %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func logLevel() slog.Level {
	if os.Getenv("KEDGE_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// newFlags makes a flag set for a subcommand.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("kedge "+name, flag.ContinueOnError)
	return fs
}
