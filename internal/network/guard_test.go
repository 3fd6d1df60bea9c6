package network

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestGuardRuleset(t *testing.T) {
	got := guardRuleset(netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("10.43.0.0/16"))
	for _, want := range []string{
		"table ip kedge_guard {}\ndelete table ip kedge_guard\n",
		"type filter hook postrouting priority 110; policy accept;",
		`ip daddr { 10.42.0.0/16, 10.43.0.0/16 } oifname != { "lo", "kedge0", "kedge-svc" } counter drop`,
		"type nat hook postrouting priority srcnat; policy accept;",
		"ip saddr 10.42.0.0/16 ip daddr != { 10.42.0.0/16, 224.0.0.0/4 } masquerade",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
}

func TestParseCIDRs(t *testing.T) {
	for _, tc := range []struct {
		cluster, service string
		ok               bool
	}{
		{"10.42.0.0/16", "10.43.0.0/16", true},
		{"10.42.0.1/16", "10.43.0.0/16", true},
		{"10.42.0.0/16", "nope", false},
		{"fd00::/48", "10.43.0.0/16", false},
	} {
		_, _, err := parseCIDRs(tc.cluster, tc.service)
		if (err == nil) != tc.ok {
			t.Errorf("parseCIDRs(%s, %s) err = %v, want ok=%v", tc.cluster, tc.service, err, tc.ok)
		}
	}
}

// inNewNetns runs f on a locked thread inside a fresh network namespace;
// child processes started by f (nft) inherit it. Nothing touches the host.
func inNewNetns(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread dies with the goroutine and takes the
		// namespace with it.
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			t.Errorf("new netns: %v", err)
			return
		}
		defer ns.Close()
		lo, _ := netlink.LinkByName("lo")
		netlink.LinkSetUp(lo)
		f()
	}()
	<-done
}

func TestEnsureGuardInNetns(t *testing.T) {
	inNewNetns(t, func() {
		// A fake uplink with a default route, as on a real machine.
		// (a veth: this kernel may have no dummy driver).
		up := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "up0"}, PeerName: "up0-peer"}
		if err := netlink.LinkAdd(up); err != nil {
			t.Fatal(err)
		}
		peer, _ := netlink.LinkByName("up0-peer")
		netlink.LinkSetUp(peer)
		link, _ := netlink.LinkByName("up0")
		netlink.LinkSetUp(link)
		addr, _ := netlink.ParseAddr("192.168.77.1/24")
		if err := netlink.AddrAdd(link, addr); err != nil {
			t.Fatal(err)
		}
		gw := net.ParseIP("192.168.77.254")
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw}); err != nil {
			t.Fatal(err)
		}

		for i := 0; i < 2; i++ { // idempotent
			if err := EnsureGuard("10.42.0.0/16", "10.43.0.0/16"); err != nil {
				t.Fatalf("EnsureGuard #%d: %v", i, err)
			}
		}
		routes, err := netlink.RouteGet(net.ParseIP("10.43.0.10"))
		if err != nil || len(routes) == 0 {
			t.Fatalf("route get 10.43.0.10: %v", err)
		}
		if l, _ := netlink.LinkByIndex(routes[0].LinkIndex); l == nil || l.Attrs().Name != ServiceDevice {
			t.Errorf("10.43.0.10 is routed via %+v, want %s", routes[0], ServiceDevice)
		}
		if _, err := netlink.RouteGet(net.ParseIP("10.42.9.9")); err == nil {
			t.Errorf("10.42.9.9 is routable, want unreachable")
		}

		// A more specific route through the uplink must still not leak:
		// the nftables rule drops the packet at postrouting.
		_, leak, _ := net.ParseCIDR("10.42.9.0/24")
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: leak, Gw: gw}); err != nil {
			t.Fatal(err)
		}
		before := txPackets(t, "up0")
		if c, err := net.Dial("udp", "10.42.9.9:9"); err == nil {
			c.Write([]byte("must not leave"))
			c.Close()
		}
		if after := txPackets(t, "up0"); after != before {
			t.Errorf("packet to 10.42.9.9 left through the uplink (tx %d -> %d)", before, after)
		}
		out, err := exec.Command("nft", "list", "table", "ip", GuardTable).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "packets 1") {
			t.Errorf("guard did not count the drop: %v\n%s", err, out)
		}

		if err := RemoveGuard("10.42.0.0/16", "10.43.0.0/16"); err != nil {
			t.Fatalf("RemoveGuard: %v", err)
		}
		if err := RemoveGuard("10.42.0.0/16", "10.43.0.0/16"); err != nil {
			t.Fatalf("RemoveGuard again: %v", err)
		}
		if _, err := netlink.LinkByName(ServiceDevice); err == nil {
			t.Errorf("%s still exists", ServiceDevice)
		}
		if err := exec.Command("nft", "list", "table", "ip", GuardTable).Run(); err == nil {
			t.Errorf("table %s still exists", GuardTable)
		}
	})
}

func txPackets(t *testing.T, name string) uint64 {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Statistics.TxPackets
}
