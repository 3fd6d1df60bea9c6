//go:build linux

package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/proxy/iptables"
)

// The real thing: the proxy, fed by a fake API, programs iptables inside a
// network namespace ("node") wired by a veth to a second one ("pods")
// where three HTTP backends and two UDP backends listen. Every byte of
// test traffic stays in those two namespaces: "node" has no route out
// of them, and the host's tables are never touched (checked at the end).
//
//	node netns                                 pods netns
//	  lo 127.0.0.1                               veth 10.42.7.10/24, .11, .12
//	  svc 192.168.77.2/32 (the node IP)               default via 10.42.7.1
//	      10.43.0.0/16 routed to svc, src 192.168.77.2
//	  veth 10.42.7.1/24  ◀──────────────────────▶
//
// Backends answer with their own address and the client address they
// saw, so the test proves DNAT (which backend), spreading (all three) and
// masquerading (the client is 10.42.7.1, not the node IP or 127.0.0.1).
func TestIPTablesModeInNetworkNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and iptables")
	}
	for _, bin := range []string{"ip", "nsenter", "iptables", "iptables-save", "iptables-restore", "conntrack", "sysctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	ids := make([]byte, 3)
	_, _ = rand.Read(ids)
	id := hex.EncodeToString(ids)
	nodeNS, podsNS := "kedge-pxt-node-"+id, "kedge-pxt-pods-"+id
	nodePath, podsPath := "/run/netns/"+nodeNS, "/run/netns/"+podsNS
	const svcNamespace = "proxy-it"

	hostBefore := hostRulesMention(t, svcNamespace)
	if hostBefore {
		t.Fatalf("host iptables already mention %s; a previous run leaked", svcNamespace)
	}

	sh(t, "ip", "netns", "add", nodeNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", nodeNS).Run() })
	sh(t, "ip", "netns", "add", podsNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", podsNS).Run() })
	vethNode, vethPods := "kpxn"+id, "kpxp"+id
	for _, cmd := range [][]string{
		{"ip", "-n", nodeNS, "link", "set", "lo", "up"},
		{"ip", "-n", podsNS, "link", "set", "lo", "up"},
		{"ip", "-n", nodeNS, "link", "add", vethNode, "type", "veth", "peer", "name", vethPods, "netns", podsNS},
		{"ip", "-n", nodeNS, "addr", "add", "10.42.7.1/24", "dev", vethNode},
		{"ip", "-n", nodeNS, "link", "set", vethNode, "up"},
		// No dummy links on this kernel: a veth pair whose far end is
		// left dangling in "node" plays the dummy device.
		{"ip", "-n", nodeNS, "link", "add", "svc", "type", "veth", "peer", "name", "svc-peer"},
		{"ip", "-n", nodeNS, "addr", "add", "192.168.77.2/32", "dev", "svc"},
		{"ip", "-n", nodeNS, "link", "set", "svc", "up"},
		{"ip", "-n", nodeNS, "route", "add", "10.43.0.0/16", "dev", "svc", "src", "192.168.77.2"},
		{"nsenter", "--net=" + nodePath, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"ip", "-n", podsNS, "addr", "add", "10.42.7.10/24", "dev", vethPods},
		{"ip", "-n", podsNS, "addr", "add", "10.42.7.11/24", "dev", vethPods},
		{"ip", "-n", podsNS, "addr", "add", "10.42.7.12/24", "dev", vethPods},
		{"ip", "-n", podsNS, "link", "set", vethPods, "up"},
		{"ip", "-n", podsNS, "route", "add", "default", "via", "10.42.7.1"},
	} {
		sh(t, cmd...)
	}

	backends := []string{"10.42.7.10", "10.42.7.11", "10.42.7.12"}
	for _, ip := range backends {
		startHTTPBackend(t, podsPath, ip)
	}
	for _, ip := range backends[:2] {
		startUDPBackend(t, podsPath, ip)
	}

	// `iptables -C` runs: only the first sync should need them.
	var checks atomic.Int32
	var firstSyncChecks int32
	inNode := func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
		if name == "iptables" && slices.Contains(args, "-C") {
			checks.Add(1)
		}
		return iptables.HostExec(ctx, stdin, "nsenter", append([]string{"--net=" + nodePath, "--", name}, args...)...)
	}
	sysctlInNode := func(name, value string) error {
		_, err := inNode(context.Background(), nil, "sysctl", "-qw", strings.ReplaceAll(name, "/", ".")+"="+value)
		return err
	}
	ipt, err := iptables.New(iptables.Config{ClusterCIDR: "10.42.0.0/16", Exec: inNode, Sysctl: sysctlInNode})
	if err != nil {
		t.Fatal(err)
	}

	web := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: svcNamespace, Name: "web"},
		Spec: v1.ServiceSpec{
			Type: v1.ServiceTypeNodePort, ClusterIP: "10.43.0.10", ClusterIPs: []string{"10.43.0.10"},
			Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}},
		},
	}
	dns := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: svcNamespace, Name: "dns"},
		Spec: v1.ServiceSpec{
			Type: v1.ServiceTypeClusterIP, ClusterIP: "10.43.0.53", ClusterIPs: []string{"10.43.0.53"},
			Ports: []v1.ServicePort{{Name: "dns", Protocol: v1.ProtocolUDP, Port: 53}},
		},
	}
	client := fake.NewClientset(web, dns,
		slice(svcNamespace, "web", "http", v1.ProtocolTCP, 8080, backends...),
		slice(svcNamespace, "dns", "dns", v1.ProtocolUDP, 5353, "10.42.7.10"))

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	proxyDone := make(chan error, 1)
	cfg := Config{NodeName: "node-a", ClusterCIDR: "10.42.0.0/16", MinSyncPeriod: 50 * time.Millisecond, SyncPeriod: time.Hour}
	go func() { proxyDone <- newProxy(cfg, client, ipt).Run(ctx) }()

	httpc := &http.Client{
		Timeout: 3 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true, // every request a new connection, so a new balancing decision
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := inNetns(nodePath, func() (err error) {
					c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
		},
	}
	get := func(url string) (string, error) {
		resp, err := httpc.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	waitBody := func(t *testing.T, what, url, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		var body string
		var err error
		for time.Now().Before(deadline) {
			if body, err = get(url); err == nil && strings.Contains(body, want) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: GET %s never answered %q (last body %q, err %v)", what, url, want, body, err)
	}

	t.Run("cluster IP reaches every endpoint, masqueraded", func(t *testing.T) {
		waitBody(t, "cluster IP", "http://10.43.0.10/", "backend")
		firstSyncChecks = checks.Load()
		seen := map[string]int{}
		for range 60 {
			body, err := get("http://10.43.0.10/")
			if err != nil {
				t.Fatal(err)
			}
			var backend, client string
			if _, err := fmt.Sscanf(body, "backend %s client %s", &backend, &client); err != nil {
				t.Fatalf("unexpected body %q", body)
			}
			seen[backend]++
			// Sent from the node IP (outside the cluster CIDR), so it must be
			// masqueraded to the node's address on the pod network.
			if client != "10.42.7.1" {
				t.Fatalf("backend saw client %s, want the masqueraded 10.42.7.1", client)
			}
		}
		for _, ip := range backends {
			if seen[ip] == 0 {
				t.Errorf("backend %s got none of 60 connections (spread %v)", ip, seen)
			}
		}
	})

	t.Run("node port on the node IP", func(t *testing.T) {
		waitBody(t, "node port", "http://192.168.77.2:30080/", "client 10.42.7.1")
	})

	t.Run("node port on localhost (route_localnet)", func(t *testing.T) {
		waitBody(t, "localhost node port", "http://127.0.0.1:30080/", "client 10.42.7.1")
	})

	t.Run("UDP flows move when their endpoint goes (conntrack cleared)", func(t *testing.T) {
		var conn net.Conn
		if err := inNetns(nodePath, func() (err error) {
			conn, err = net.Dial("udp", "10.43.0.53:53")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ask := func() string {
			_ = conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := conn.Write([]byte("who")); err != nil {
				return err.Error()
			}
			buf := make([]byte, 100)
			n, err := conn.Read(buf)
			if err != nil {
				return err.Error()
			}
			return string(buf[:n])
		}
		waitFor(t, "UDP answer from 10.42.7.10", func() bool { return ask() == "udp backend 10.42.7.10" })
		if _, err := client.DiscoveryV1().EndpointSlices(svcNamespace).Update(ctx, slice(svcNamespace, "dns", "dns", v1.ProtocolUDP, 5353, "10.42.7.11"), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The same socket keeps talking (so its conntrack entry never idles
		// out); only the proxy deleting the entry lets it reach .11.
		waitFor(t, "UDP answer from 10.42.7.11", func() bool { return ask() == "udp backend 10.42.7.11" })
	})

	t.Run("removed endpoints get no more traffic and lose their chains", func(t *testing.T) {
		if _, err := client.DiscoveryV1().EndpointSlices(svcNamespace).Update(ctx, slice(svcNamespace, "web", "http", v1.ProtocolTCP, 8080, "10.42.7.12"), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "only 10.42.7.12 answers", func() bool {
			for range 10 {
				if body, err := get("http://10.43.0.10/"); err != nil || !strings.HasPrefix(body, "backend 10.42.7.12 ") {
					return false
				}
			}
			return true
		})
		saved := netnsSave(t, nodePath)
		for _, gone := range []string{"10.42.7.10:8080", "10.42.7.11:8080"} {
			if strings.Contains(saved, gone) {
				t.Errorf("nat table still mentions removed endpoint %s:\n%s", gone, saved)
			}
		}
		if !strings.Contains(saved, "-j DNAT --to-destination 10.42.7.12:8080") {
			t.Errorf("nat table lacks the DNAT to the remaining endpoint:\n%s", saved)
		}
		if n := strings.Count(saved, `-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`); n != 1 {
			t.Errorf("PREROUTING jump present %d times after several syncs, want 1", n)
		}
		// Later syncs find the jumps in iptables-save output and fork no checks.
		if n := checks.Load(); n != firstSyncChecks || n == 0 {
			t.Errorf("%d `iptables -C` runs over several syncs, want only the first sync's %d", n, firstSyncChecks)
		}
	})

	t.Run("no endpoints: connections are rejected, not left hanging", func(t *testing.T) {
		if err := client.DiscoveryV1().EndpointSlices(svcNamespace).Delete(ctx, "web-abcde", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "connection refused", func() bool {
			_, err := get("http://10.43.0.10/")
			return errors.Is(err, syscall.ECONNREFUSED)
		})
	})

	stop()
	select {
	case err := <-proxyDone:
		if err != nil {
			t.Errorf("Run = %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not stop")
	}
	if saved := netnsSave(t, nodePath); !strings.Contains(saved, svcNamespace+"/web:http has no endpoints") {
		t.Errorf("rules were removed on shutdown; kube-proxy leaves them:\n%s", saved)
	}
	if hostRulesMention(t, svcNamespace) {
		t.Errorf("the host's own iptables mention %s: rules escaped the namespace", svcNamespace)
	}
}

func slice(ns, service, portName string, proto v1.Protocol, port int32, ips ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: service + "-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Protocol: ptr.To(proto), Port: ptr.To(port)}},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			NodeName:   ptr.To("node-b"),
		})
	}
	return s
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func netnsSave(t *testing.T, nsPath string) string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+nsPath, "iptables-save").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-save in %s: %v\n%s", nsPath, err, out)
	}
	return string(out)
}

// hostRulesMention reads (never writes) the host's own tables.
func hostRulesMention(t *testing.T, text string) bool {
	t.Helper()
	out, err := exec.Command("iptables-save").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-save on the host: %v\n%s", err, out)
	}
	return strings.Contains(string(out), text)
}

// inNetns runs fn on an OS thread switched into the network namespace at
// nsPath. Sockets fn creates belong to that namespace for their lifetime.
func inNetns(nsPath string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter %s: %w", nsPath, err)
	}
	defer func() {
		// A thread that cannot get back stays locked, so Go retires it
		// with this goroutine instead of reusing it in the wrong namespace.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}

// startHTTPBackend serves "backend <ip> client <remote ip>" on ip:8080
// inside the namespace.
func startHTTPBackend(t *testing.T, nsPath, ip string) {
	t.Helper()
	var l net.Listener
	if err := inNetns(nsPath, func() (err error) {
		l, err = net.Listen("tcp", ip+":8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "backend %s client %s", ip, host)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// startUDPBackend answers every datagram on ip:5353 with "udp backend <ip>".
func startUDPBackend(t *testing.T, nsPath, ip string) {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(nsPath, func() (err error) {
		pc, err = net.ListenPacket("udp", ip+":5353")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 100)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte("udp backend "+ip), from)
		}
	}()
	t.Cleanup(func() { _ = pc.Close() })
}
