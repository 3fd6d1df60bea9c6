package cri_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/kubelet/cri"
	"github.com/kedge-dev/kedge/internal/kubelet/cri/critest"
	"github.com/kedge-dev/kedge/internal/network"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestRenderConfig(t *testing.T) {
	cfg := critest.ContainerdConfig("/var/lib/kedge/agent", "/run/kedge", "")
	data, err := cri.RenderConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{
		"version = 2",
		`root = "/var/lib/kedge/agent/containerd"`,
		`state = "/run/kedge/containerd"`,
		`address = "/run/kedge/containerd/containerd.sock"`,
		`[plugins."io.containerd.internal.v1.opt"]` + "\n    path = \"/var/lib/kedge/agent/containerd/opt\"",
		`sandbox_image = "localhost/pause:3.10"`,
		"restrict_oom_score_adj = true",
		"netns_mounts_under_state_dir = true",
		`stream_server_address = "127.0.0.1"`,
		`snapshotter = "overlayfs"`,
		`Root = "/run/kedge/runc"`,
		"SystemdCgroup = false",
		`bin_dir = "/usr/lib/cni"`,
		`conf_dir = "/var/lib/kedge/agent/etc/cni/net.d"`,
		`config_path = "/var/lib/kedge/agent/etc/containerd/certs.d"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	cfg.Root = ""
	if _, err := cri.RenderConfig(cfg); err == nil {
		t.Error("RenderConfig without root succeeded")
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"/run/x.sock":        "unix:///run/x.sock",
		"unix:///run/x.sock": "unix:///run/x.sock",
	} {
		if got, err := cri.Endpoint(in); err != nil || got != want {
			t.Errorf("Endpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := cri.Endpoint(""); err == nil {
		t.Error("Endpoint(\"\") succeeded")
	}
}

// TestContainerdRunsPod proves the generated config works on this machine:
// a private containerd (in its own network namespace) imports image
// tarballs, runs a sandbox with the kedge CNI config and a busybox
// container, and everything stops cleanly.
func TestContainerdRunsPod(t *testing.T) {
	e := critest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := e.Client

	present := func(ctx context.Context, ref string) (bool, error) {
		r, err := c.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		return err == nil && r.Image != nil, err
	}
	opts := cri.ImportOptions{Dir: e.ImagesDir, Address: e.Containerd.Address(), RecordPath: filepath.Join(e.DataDir, "images.json"), Present: present}
	imported, err := cri.ImportImages(ctx, opts)
	if err != nil || len(imported) != 2 {
		t.Fatalf("ImportImages = %v, %v; want 2 files", imported, err)
	}
	if again, err := cri.ImportImages(ctx, opts); err != nil || len(again) != 0 {
		t.Fatalf("second ImportImages = %v, %v; want nothing imported", again, err)
	}
	for _, ref := range []string{cluster.PauseImage, "localhost/busybox:1.36"} {
		if ok, _ := present(ctx, ref); !ok {
			t.Fatalf("image %s not visible over CRI", ref)
		}
	}

	if _, err := network.WriteCNIConfig(e.CNIConfDir, network.CNIConfig{PodCIDR: "10.88.7.0/24", IPAMDataDir: filepath.Join(e.DataDir, "cni")}); err != nil {
		t.Fatal(err)
	}
	waitNetworkReady(t, ctx, c)

	uid := "critest-" + filepath.Base(e.DataDir)
	cgroupParent := "/" + filepath.Base(e.DataDir) + "/pod" + uid
	defer removeCgroup(cgroupParent)
	logDir := filepath.Join(e.DataDir, "pods", uid)
	sandboxConfig := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "default", Uid: uid},
		Hostname:     "p",
		LogDirectory: logDir,
		Labels:       map[string]string{"io.kubernetes.pod.uid": uid},
		Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: cgroupParent},
	}
	run, err := c.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	st, err := c.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: run.PodSandboxId})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := netip.ParseAddr(st.Status.GetNetwork().GetIp())
	if err != nil || !netip.MustParsePrefix("10.88.7.0/24").Contains(ip) {
		t.Errorf("pod IP %q not in the pod CIDR", st.Status.GetNetwork().GetIp())
	}

	created, err := c.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: run.PodSandboxId,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
			Image:    &runtimeapi.ImageSpec{Image: "localhost/busybox:1.36"},
			Args:     []string{"-c", "echo hello from $(hostname); exec sleep 3600"},
			LogPath:  "c/0.log",
		},
		SandboxConfig: sandboxConfig,
	})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := c.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	waitFor(t, ctx, "container log", func() bool {
		data, _ := os.ReadFile(filepath.Join(logDir, "c/0.log"))
		return strings.Contains(string(data), "stdout F hello from p")
	})
	cs, err := c.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: created.ContainerId})
	if err != nil || cs.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("container status = %v, %v; want running", cs.GetStatus().GetState(), err)
	}

	if _, err := c.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: created.ContainerId, Timeout: 1}); err != nil {
		t.Errorf("StopContainer: %v", err)
	}
	if _, err := c.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: run.PodSandboxId}); err != nil {
		t.Errorf("StopPodSandbox: %v", err)
	}
	if _, err := c.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: run.PodSandboxId}); err != nil {
		t.Errorf("RemovePodSandbox: %v", err)
	}
}

func waitNetworkReady(t *testing.T, ctx context.Context, c *cri.Client) {
	t.Helper()
	waitFor(t, ctx, "CRI NetworkReady", func() bool {
		st, err := c.Status(ctx, &runtimeapi.StatusRequest{})
		if err != nil {
			return false
		}
		for _, cond := range st.Status.Conditions {
			if cond.Type == runtimeapi.NetworkReady {
				return cond.Status
			}
		}
		return false
	})
}

func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func removeCgroup(path string) {
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		base := filepath.Join("/sys/fs/cgroup", e.Name())
		os.Remove(filepath.Join(base, path))
		os.Remove(filepath.Join(base, filepath.Dir(path)))
	}
}
