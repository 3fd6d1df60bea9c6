package critest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/kubelet/cri"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Env is a private containerd running in a network namespace of its own,
// so its bridge, iptables rules and ip_forward never touch the host's.
type Env struct {
	DataDir, RunDir string
	NetNS           string // /run/netns/NAME
	CNIConfDir      string
	ImagesDir       string
	Containerd      *cri.Containerd
	Client          *cri.Client
}

// Skip skips t unless it runs as root with containerd, runc, ctr, nsenter
// and busybox installed.
func Skip(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, bin := range []string{"containerd", "runc", "ctr", "nsenter", "ip", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s", bin)
		}
	}
	if _, err := os.Stat(Busybox); err != nil {
		t.Skip("needs busybox-static")
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("needs containernetworking-plugins in /usr/lib/cni")
	}
}

// Start starts containerd with kedge's generated config in a new network
// namespace, with images for pause (cluster.PauseImage) and
// localhost/busybox:1.36 as tarballs in ImagesDir (not yet imported).
// Everything is stopped and removed when t ends.
func Start(t testing.TB) *Env {
	t.Helper()
	Skip(t)
	// Not t.TempDir: its long name would make the socket path too long.
	dataDir, err := os.MkdirTemp("", "kedge-critest-")
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{
		DataDir:    dataDir,
		RunDir:     cluster.RunDir(dataDir),
		CNIConfDir: filepath.Join(dataDir, "etc/cni/net.d"),
		ImagesDir:  filepath.Join(dataDir, "images"),
	}
	nsName := filepath.Base(dataDir)
	if out, err := exec.Command("ip", "netns", "add", nsName).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	e.NetNS = "/run/netns/" + nsName
	exec.Command("ip", "-n", nsName, "link", "set", "lo", "up").Run()

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		if e.Client != nil {
			RemoveAllPods(e.Client)
			e.Client.Close()
		}
		cancel()
		if e.Containerd != nil {
			<-e.Containerd.Stopped()
		}
		UnmountUnder(dataDir)
		UnmountUnder(e.RunDir)
		exec.Command("ip", "netns", "del", nsName).Run()
		os.RemoveAll(e.RunDir)
		os.RemoveAll(dataDir)
	})

	if err := os.MkdirAll(e.ImagesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteBusyboxImage(filepath.Join(e.ImagesDir, "pause.tar"), cluster.PauseImage, []string{"/bin/sleep", "2147483647"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteBusyboxImage(filepath.Join(e.ImagesDir, "busybox.tar"), "localhost/busybox:1.36", []string{"/bin/sh"}); err != nil {
		t.Fatal(err)
	}

	e.Containerd = cri.NewContainerd(ContainerdConfig(dataDir, e.RunDir, e.NetNS))
	if err := e.Containerd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if e.Client, err = cri.Dial(e.Containerd.Address()); err != nil {
		t.Fatal(err)
	}
	return e
}

// ContainerdConfig is the layout the kubelet uses for a data dir.
func ContainerdConfig(dataDir, runDir, netns string) cri.ContainerdConfig {
	return cri.ContainerdConfig{
		ConfigPath:         filepath.Join(dataDir, "etc/containerd/config.toml"),
		Root:               filepath.Join(dataDir, "containerd"),
		State:              filepath.Join(runDir, "containerd"),
		Address:            filepath.Join(runDir, "containerd/containerd.sock"),
		OptPath:            filepath.Join(dataDir, "containerd/opt"),
		RuncRoot:           filepath.Join(runDir, "runc"),
		CNIBinDir:          "/usr/lib/cni",
		CNIConfDir:         filepath.Join(dataDir, "etc/cni/net.d"),
		SandboxImage:       cluster.PauseImage,
		RegistryConfigPath: filepath.Join(dataDir, "etc/containerd/certs.d"),
		LogPath:            filepath.Join(dataDir, "containerd.log"),
		NetNS:              netns,
	}
}

// RemoveAllPods stops and removes every sandbox (and so every container).
func RemoveAllPods(c *cri.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := c.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return
	}
	for _, s := range resp.Items {
		c.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id})
		c.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id})
	}
}

// UnmountUnder lazily unmounts every mount point below dir, deepest first.
func UnmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "unmount %s: %v\n", points[i], err)
		}
	}
}
