package network

import (
	"errors"
	"net"
	"syscall"

	"github.com/vishvananda/netlink"
)

// ForgetNeighbour deletes the host's neighbour (ARP) entry for ip on the
// bridge. Pod IPs are reused: an entry left by an earlier pod that had the
// IP points at a MAC address that no longer exists, and the host's traffic
// to the new pod (probes, port-forward, Services) stalls for seconds until
// the kernel re-resolves it.
func ForgetNeighbour(bridge string, ip net.IP) error {
	link, err := netlink.LinkByName(bridge)
	if err != nil {
		return err
	}
	err = netlink.NeighDel(&netlink.Neigh{LinkIndex: link.Attrs().Index, IP: ip})
	if err != nil && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	return nil
}
