package network

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	// ServiceDevice is the dummy device the service CIDR is routed to.
	ServiceDevice = "kedge-svc"
	// GuardTable is the nftables table (family ip) holding the drop rule.
	GuardTable = "kedge_guard"
)

// guardDevices are the devices cluster traffic may leave through; every
// other device is an uplink as far as the guard is concerned.
var guardDevices = []string{"lo", BridgeName, ServiceDevice}

// guardRuleset renders the nft script that (re)creates the guard table
// atomically: declaring the table first makes the delete succeed on the
// first run too. Besides the drop rule the table masquerades pod traffic
// for anything outside the cluster CIDR: one rule for every pod, where the
// bridge plugin's ipMasq would add an iptables chain per pod (eight
// iptables runs on each sandbox's start and again on its removal).
func guardRuleset(cluster, service netip.Prefix) string {
	var dev []string
	for _, d := range guardDevices {
		dev = append(dev, fmt.Sprintf("%q", d))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {}\n", GuardTable)
	fmt.Fprintf(&b, "delete table ip %s\n", GuardTable)
	fmt.Fprintf(&b, "table ip %s {\n", GuardTable)
	b.WriteString("\tchain postrouting {\n")
	// After srcnat (100): the daddr is final, the out device is known.
	b.WriteString("\t\ttype filter hook postrouting priority 110; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip daddr { %s, %s } oifname != { %s } counter drop\n",
		cluster, service, strings.Join(dev, ", "))
	b.WriteString("\t}\n")
	b.WriteString("\tchain nat_postrouting {\n")
	b.WriteString("\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip saddr %s ip daddr != { %s, 224.0.0.0/4 } masquerade\n", cluster, cluster)
	b.WriteString("\t}\n}\n")
	return b.String()
}

func parseCIDRs(clusterCIDR, serviceCIDR string) (cluster, service netip.Prefix, err error) {
	cluster, err = netip.ParsePrefix(clusterCIDR)
	if err != nil {
		return cluster, service, fmt.Errorf("cluster CIDR %q: %w", clusterCIDR, err)
	}
	service, err = netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return cluster, service, fmt.Errorf("service CIDR %q: %w", serviceCIDR, err)
	}
	if !cluster.Addr().Is4() || !service.Addr().Is4() {
		return cluster, service, fmt.Errorf("guard: only IPv4 CIDRs are supported (%s, %s)", clusterCIDR, serviceCIDR)
	}
	return cluster.Masked(), service.Masked(), nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// EnsureGuard keeps cluster traffic on this machine (in the caller's
// network namespace): the service CIDR is routed to the dummy device
// kedge-svc, the cluster CIDR is unreachable except for more specific
// routes (the node's pod CIDR on the bridge), and the nftables table
// kedge_guard drops packets for either CIDR that would leave through an
// uplink. Safe to call repeatedly.
func EnsureGuard(clusterCIDR, serviceCIDR string) error {
	cluster, service, err := parseCIDRs(clusterCIDR, serviceCIDR)
	if err != nil {
		return err
	}
	// The drop rule first: it holds even if a route below fails.
	if err := nft(guardRuleset(cluster, service)); err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	link, err := ensureServiceDevice(ServiceDevice)
	if err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	svc := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(service), Scope: netlink.SCOPE_LINK}
	if err := netlink.RouteReplace(svc); err != nil {
		return fmt.Errorf("guard: route %s dev %s: %w", service, ServiceDevice, err)
	}
	unreach := &netlink.Route{Dst: ipNet(cluster), Type: unix.RTN_UNREACHABLE}
	if err := netlink.RouteReplace(unreach); err != nil {
		return fmt.Errorf("guard: unreachable route %s: %w", cluster, err)
	}
	return nil
}

// RemoveGuard undoes EnsureGuard: the routes, the dummy device and the
// nftables table. Missing pieces are not an error.
func RemoveGuard(clusterCIDR, serviceCIDR string) error {
	cluster, _, err := parseCIDRs(clusterCIDR, serviceCIDR)
	if err != nil {
		return err
	}
	var errs []error
	unreach := &netlink.Route{Dst: ipNet(cluster), Type: unix.RTN_UNREACHABLE}
	if err := netlink.RouteDel(unreach); err != nil && !errors.Is(err, unix.ESRCH) {
		errs = append(errs, fmt.Errorf("delete unreachable route %s: %w", cluster, err))
	}
	// Deleting the device deletes its route.
	if link, err := netlink.LinkByName(ServiceDevice); err == nil {
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", ServiceDevice, err))
		}
	}
	script := fmt.Sprintf("table ip %s {}\ndelete table ip %s\n", GuardTable, GuardTable)
	if err := nft(script); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ensureServiceDevice creates the device the service CIDR is routed to: a
// dummy, or where the kernel has no dummy driver an ifb, which likewise
// drops whatever is sent to it and does no ARP.
func ensureServiceDevice(name string) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if !errors.As(err, &notFound) {
			return nil, fmt.Errorf("look up %s: %w", name, err)
		}
		attrs := netlink.LinkAttrs{Name: name}
		err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: attrs})
		if errors.Is(err, unix.EOPNOTSUPP) {
			err = netlink.LinkAdd(&netlink.Ifb{LinkAttrs: attrs})
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("add device %s: %w", name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return nil, fmt.Errorf("look up %s: %w", name, err)
		}
	}
	if t := link.Type(); t != "dummy" && t != "ifb" {
		return nil, fmt.Errorf("%s exists but is a %s device, not dummy or ifb", name, t)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("set %s up: %w", name, err)
		}
	}
	return link, nil
}

// nft runs an nft script as one transaction.
func nft(script string) error {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
