package iptables

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/kedge-dev/kedge/internal/proxy/snapshot"
)

// Exec runs a command with stdin and returns its stdout. A command that
// ran and failed returns an *ExitError.
type Exec func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)

// ExitError is a command that exited with a non-zero status.
type ExitError struct {
	Command string
	Code    int
	Stderr  string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s: exit status %d: %s", e.Command, e.Code, strings.TrimSpace(e.Stderr))
}

// HostExec runs commands on this host (in the caller's network namespace).
func HostExec(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return stdout.Bytes(), &ExitError{Command: name + " " + strings.Join(args, " "), Code: exitErr.ExitCode(), Stderr: stderr.String()}
	}
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	return stdout.Bytes(), nil
}

// HostSysctl writes /proc/sys/<name>, name written with slashes
// ("net/ipv4/conf/all/route_localnet").
func HostSysctl(name, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", name), []byte(value+"\n"), 0o644)
}

// Config configures the iptables proxier.
type Config struct {
	// ClusterCIDR is the pod range (10.42.0.0/16): traffic to a cluster IP
	// from outside it is masqueraded. Empty disables that rule.
	ClusterCIDR string
	// Exec runs iptables-save, iptables-restore, iptables and conntrack;
	// nil means HostExec. Tests run them inside a network namespace.
	Exec Exec
	// Sysctl sets a kernel parameter; nil means HostSysctl.
	Sysctl func(name, value string) error
}

// Proxier programs Services into the nat and filter tables. Sync is meant
// to be called from one goroutine (the proxy's sync runner).
type Proxier struct {
	exec   Exec
	sysctl func(name, value string) error

	mu   sync.Mutex
	opts options
	// last is the snapshot the kernel holds since the last successful sync.
	last *snapshot.Snapshot
}

// New validates cfg; it touches nothing on the host.
func New(cfg Config) (*Proxier, error) {
	p := &Proxier{exec: cfg.Exec, sysctl: cfg.Sysctl}
	if p.exec == nil {
		p.exec = HostExec
	}
	if p.sysctl == nil {
		p.sysctl = HostSysctl
	}
	if cfg.ClusterCIDR != "" {
		prefix, err := netip.ParsePrefix(cfg.ClusterCIDR)
		if err != nil || !prefix.Addr().Is4() {
			return nil, fmt.Errorf("cluster CIDR %q: want an IPv4 CIDR such as 10.42.0.0/16", cfg.ClusterCIDR)
		}
		p.opts.clusterCIDR = prefix.Masked().String()
	}
	return p, nil
}

// Setup prepares the host once before the first sync, best-effort as
// kube-proxy does: route_localnet (so 127.0.0.1:<nodePort> works),
// br_netfilter and bridge-nf-call-iptables (so bridged pod-to-pod traffic
// sees the service rules), and whether MASQUERADE --random-fully is there.
func (p *Proxier) Setup(ctx context.Context) error {
	if err := p.sysctl("net/ipv4/conf/all/route_localnet", "1"); err != nil {
		slog.Warn("proxy: cannot set net.ipv4.conf.all.route_localnet=1; NodePorts on localhost will not work", "err", err)
	}
	if _, err := p.exec(ctx, nil, "modprobe", "br_netfilter"); err != nil {
		slog.Debug("proxy: modprobe br_netfilter failed (fine if built in)", "err", err)
	}
	if err := p.sysctl("net/bridge/bridge-nf-call-iptables", "1"); err != nil {
		slog.Warn("proxy: cannot set net.bridge.bridge-nf-call-iptables=1; bridged pod traffic may skip service rules", "err", err)
	}
	out, err := p.exec(ctx, nil, "iptables", "--version")
	if err != nil {
		return fmt.Errorf("iptables not usable (install the iptables package): %w", err)
	}
	p.mu.Lock()
	p.opts.randomFully = supportsRandomFully(string(out))
	p.mu.Unlock()
	return nil
}

var versionRE = regexp.MustCompile(`v(\d+)\.(\d+)\.(\d+)`)

// supportsRandomFully parses `iptables --version`: --random-fully came in
// iptables 1.6.2.
func supportsRandomFully(version string) bool {
	m := versionRE.FindStringSubmatch(version)
	if m == nil {
		return false
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v[0] > 1 || (v[0] == 1 && (v[1] > 6 || (v[1] == 6 && v[2] >= 2)))
}

// Sync makes the kernel's tables match snap in one iptables-restore (only
// kedge's chains are rewritten), hooks the chains into the built-in ones,
// then clears conntrack entries the change made stale.
func (p *Proxier) Sync(ctx context.Context, snap *snapshot.Snapshot) error {
	p.mu.Lock()
	defer p.mu.Unlock()

	natSaved, err := p.exec(ctx, nil, "iptables-save", "-t", "nat")
	if err != nil {
		return fmt.Errorf("read nat table: %w", err)
	}
	filterSaved, err := p.exec(ctx, nil, "iptables-save", "-t", "filter")
	if err != nil {
		return fmt.Errorf("read filter table: %w", err)
	}
	data := render(snap, p.opts, savedChains(natSaved))
	if _, err := p.exec(ctx, data, "iptables-restore", "-w", "5", "--noflush"); err != nil {
		return fmt.Errorf("program service rules with iptables-restore: %w", err)
	}
	saved := map[string][]byte{"nat": natSaved, "filter": filterSaved}
	for _, j := range jumps {
		if err := p.ensureJump(ctx, j, saved[j.table]); err != nil {
			return err
		}
	}

	stale := snapshot.Changes(p.last, snap)
	p.last = snap
	p.clearConntrack(ctx, stale)
	return nil
}

// savedChains lists the chain names declared in iptables-save output.
func savedChains(saved []byte) []string {
	var chains []string
	sc := bufio.NewScanner(bytes.NewReader(saved))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, ":") {
			if name, _, ok := strings.Cut(line[1:], " "); ok {
				chains = append(chains, name)
			}
		}
	}
	return chains
}

// jump is a rule in a built-in chain that sends packets to one of ours.
type jump struct {
	table, from, to string
	args            []string
}

func newJump(table, from, to, text string, onlyNew bool) jump {
	j := jump{table: table, from: from, to: to}
	if onlyNew {
		j.args = append(j.args, "-m", "conntrack", "--ctstate", "NEW")
	}
	if text != "" {
		j.args = append(j.args, "-m", "comment", "--comment", text)
	}
	j.args = append(j.args, "-j", to)
	return j
}

// jumps are the hooks into the built-in chains, as kube-proxy installs them.
var jumps = []jump{
	newJump("filter", "INPUT", chainExternalServices, "kubernetes externally-visible service portals", true),
	newJump("filter", "FORWARD", chainExternalServices, "kubernetes externally-visible service portals", true),
	newJump("filter", "FORWARD", chainServices, "kubernetes service portals", true),
	newJump("filter", "OUTPUT", chainServices, "kubernetes service portals", true),
	newJump("filter", "FORWARD", chainForward, "kubernetes forwarding rules", false),
	newJump("filter", "INPUT", chainFirewall, "", false),
	newJump("filter", "OUTPUT", chainFirewall, "", false),
	newJump("nat", "OUTPUT", chainServices, "kubernetes service portals", false),
	newJump("nat", "PREROUTING", chainServices, "kubernetes service portals", false),
	newJump("nat", "POSTROUTING", chainPostrouting, "kubernetes postrouting rules", false),
}

// savedForm is the rule as iptables-save prints it.
func (j jump) savedForm() string {
	words := []string{"-A", j.from}
	for i, a := range j.args {
		if i > 0 && j.args[i-1] == "--comment" && strings.Contains(a, " ") {
			a = `"` + a + `"`
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// ensureJump inserts j at the top of its built-in chain unless it is
// there. The saved table answers the common case without forking; when
// it does not show the rule, `iptables -C` decides.
func (p *Proxier) ensureJump(ctx context.Context, j jump, saved []byte) error {
	if bytes.Contains(saved, []byte("\n"+j.savedForm()+"\n")) {
		return nil
	}
	base := []string{"-w", "5", "-t", j.table}
	_, err := p.exec(ctx, nil, "iptables", append(append(base, "-C", j.from), j.args...)...)
	if err == nil {
		return nil
	}
	var exitErr *ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != 1 {
		return fmt.Errorf("check jump %s -> %s in table %s: %w", j.from, j.to, j.table, err)
	}
	if _, err := p.exec(ctx, nil, "iptables", append(append(base, "-I", j.from), j.args...)...); err != nil {
		return fmt.Errorf("add jump %s -> %s in table %s: %w", j.from, j.to, j.table, err)
	}
	return nil
}

// clearConntrack deletes UDP conntrack entries that still point at removed
// endpoints, and the entries of UDP services that just got their first
// endpoints (made while their traffic was rejected). Best-effort.
func (p *Proxier) clearConntrack(ctx context.Context, stale snapshot.Stale) {
	for _, cmd := range conntrackCommands(stale) {
		_, err := p.exec(ctx, nil, "conntrack", cmd...)
		var exitErr *ExitError
		if errors.As(err, &exitErr) && strings.Contains(exitErr.Stderr, "0 flow entries") {
			err = nil // nothing to delete
		}
		if err != nil {
			slog.Warn("proxy: clearing stale UDP conntrack entries failed", "args", cmd, "err", err)
		}
	}
}

// conntrackCommands returns the `conntrack` argument lists for stale.
func conntrackCommands(stale snapshot.Stale) [][]string {
	var cmds [][]string
	serviceIPs := func(sp *snapshot.ServicePort) []string {
		ips := append([]string{sp.ClusterIP}, sp.ExternalIPs...)
		return append(ips, sp.LoadBalancerIPs...)
	}
	for _, s := range stale.Endpoints {
		for _, ip := range serviceIPs(s.Service) {
			cmds = append(cmds, []string{"-D", "-p", "udp", "--orig-dst", ip, "--dst-nat", s.Endpoint.IP})
		}
		if s.Service.NodePort > 0 {
			cmds = append(cmds, []string{"-D", "-p", "udp", "--orig-port-dst", strconv.Itoa(int(s.Service.NodePort)), "--dst-nat", s.Endpoint.IP})
		}
	}
	for _, sp := range stale.Services {
		for _, ip := range serviceIPs(sp) {
			cmds = append(cmds, []string{"-D", "-p", "udp", "--orig-dst", ip})
		}
		if sp.NodePort > 0 {
			cmds = append(cmds, []string{"-D", "-p", "udp", "--orig-port-dst", strconv.Itoa(int(sp.NodePort))})
		}
	}
	return cmds
}
