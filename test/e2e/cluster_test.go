//go:build e2e

// Package e2e drives a real kedge cluster (real containerd, runc, CNI and
// iptables) with the real kubectl on the PATH and with client-go.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	kcluster "github.com/kedge-dev/kedge/internal/cluster"
)

// cluster is a `kedge up` process on a data dir of its own.
type cluster struct {
	t          *testing.T
	bin        string
	dataDir    string
	kubeconfig string
	cmd        *exec.Cmd
	log        *os.File
	started    time.Time
	client     kubernetes.Interface
}

const (
	apiPort  = "16443"
	etcdPeer = "12380"
)

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the e2e tests run a real cluster and need root (run them through `make test`)")
	}
}

// newCluster prepares a data dir with the locally built images.
func newCluster(t *testing.T) *cluster {
	requireRoot(t)
	bin := os.Getenv("KEDGE_BIN")
	images := os.Getenv("KEDGE_IMAGES")
	if bin == "" || images == "" {
		t.Fatal("KEDGE_BIN and KEDGE_IMAGES must be set (make e2e sets them)")
	}
	dir, err := os.MkdirTemp("/var/tmp", "kedge-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	imgDir := filepath.Join(dir, "agent", "images")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tars, _ := filepath.Glob(filepath.Join(images, "*.tar"))
	if len(tars) == 0 {
		t.Fatalf("no image tarballs in %s (run make images)", images)
	}
	for _, tar := range tars {
		data, err := os.ReadFile(tar)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(imgDir, filepath.Base(tar)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := &cluster{t: t, bin: bin, dataDir: dir, kubeconfig: filepath.Join(dir, "admin.kubeconfig")}
	t.Cleanup(c.destroy)
	return c
}

// start runs `kedge up` and waits for the API server.
func (c *cluster) start() {
	c.t.Helper()
	c.startCommand("up")
}

// startCommand runs a kedge command that serves the API (up or server) on
// the cluster's data dir and waits for the API server.
func (c *cluster) startCommand(command string) {
	c.t.Helper()
	log, err := os.OpenFile(filepath.Join(c.dataDir, "kedge.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	c.log = log
	c.cmd = exec.Command(c.bin, command, "--data-dir", c.dataDir, "--secure-port", apiPort, "--etcd-peer-port", etcdPeer)
	c.cmd.Stdout, c.cmd.Stderr = log, log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.waitFor("API server", 60*time.Second, func() (bool, error) {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+apiPort, time.Second)
		if err != nil {
			return false, nil
		}
		conn.Close()
		_, err = os.Stat(c.kubeconfig)
		return err == nil, nil
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		c.t.Fatal(err)
	}
	c.client = kubernetes.NewForConfigOrDie(cfg)
}

// stop sends SIGTERM and waits for kedge to exit.
func (c *cluster) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		c.t.Errorf("kedge did not exit within 30s of SIGTERM")
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	c.cmd = nil
	c.log.Close()
}

// destroy stops kedge, tears down every pod it left and removes the data dir.
func (c *cluster) destroy() {
	if c.t.Failed() {
		if b, err := os.ReadFile(filepath.Join(c.dataDir, "kedge.log")); err == nil {
			lines := strings.Split(string(b), "\n")
			if len(lines) > 150 {
				lines = lines[len(lines)-150:]
			}
			c.t.Logf("last lines of kedge.log:\n%s", strings.Join(lines, "\n"))
		}
	}
	if c.cmd != nil && c.client != nil {
		// Pods go first so that their sandboxes and cgroups are released.
		exec.Command("kubectl", "--kubeconfig", c.kubeconfig, "delete", "deployments,statefulsets,daemonsets,jobs,cronjobs,replicasets,pods",
			"--all", "--all-namespaces", "--wait=false").Run()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			out, _ := exec.Command("kubectl", "--kubeconfig", c.kubeconfig, "get", "pods", "-A", "-o", "name").Output()
			if len(bytes.TrimSpace(out)) == 0 {
				break
			}
			time.Sleep(time.Second)
		}
	}
	c.stop()
	// Whatever is left in the node's containerd.
	sock := filepath.Join(c.runDir(), "containerd", "containerd.sock")
	exec.Command("bash", "-c", fmt.Sprintf(`for t in $(ctr -a %s -n k8s.io tasks ls -q 2>/dev/null); do ctr -a %s -n k8s.io tasks kill -s SIGKILL $t; done`, sock, sock)).Run()
	exec.Command("pkill", "-f", "containerd --config "+c.dataDir).Run()
	// kedge leaves containers running when it stops (a restart adopts them);
	// a test cluster's must go with it, or later clusters find their IPs taken.
	killPodProcesses(c.runDir())
	exec.Command("pkill", "-9", "-f", "containerd-shim-runc-v2 .*"+c.runDir()).Run()
	// containerd's mounts (sandbox network namespaces, container root
	// file systems) under the run dir outlive it; left there they pile up
	// and slow every later runc, which reads the whole mount table.
	unmountUnder(c.runDir())
	unmountUnder(c.dataDir)
	os.RemoveAll(c.runDir())
	os.RemoveAll(c.dataDir)
}

// unmountUnder lazily unmounts every mount point below dir, deepest first.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

func (c *cluster) runDir() string { return kcluster.RunDir(c.dataDir) }

// kubectl runs the real kubectl against the cluster.
func (c *cluster) kubectl(args ...string) (string, error) {
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// mustKubectl runs kubectl and fails the test on error.
func (c *cluster) mustKubectl(args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(args...)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// waitFor polls cond until it holds.
func (c *cluster) waitFor(what string, timeout time.Duration, cond func() (bool, error)) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitNodeReady waits for the cluster's one node to be Ready.
func (c *cluster) waitNodeReady() {
	c.t.Helper()
	c.waitFor("node Ready", 120*time.Second, func() (bool, error) {
		out, err := c.kubectl("get", "nodes", "--no-headers")
		return err == nil && strings.Count(out, " Ready ") == 1, err
	})
}

// killPodProcesses kills the pod processes of the cluster whose runtime
// state is under runDir: the descendants of its containerd shims (a shim
// is its containers' parent). Pods of other kedge instances on the host
// (a profiling cluster in a netns, the kubelet's integration tests) share
// the kedge cgroup tree and are left alone.
func killPodProcesses(runDir string) {
	children := map[int][]int{}
	var shims []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		var pid, ppid int
		fmt.Sscan(filepath.Base(filepath.Dir(st)), &pid)
		// Fields after "(comm)": state, ppid, ...
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 {
			continue
		}
		fmt.Sscan(f[1], &ppid)
		children[ppid] = append(children[ppid], pid)
		cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(st), "cmdline"))
		if bytes.Contains(cmdline, []byte("containerd-shim-runc-v2")) && bytes.Contains(cmdline, []byte(runDir+"/")) {
			shims = append(shims, pid)
		}
	}
	for len(shims) > 0 {
		pid := shims[0]
		shims = append(shims[1:], children[pid]...)
		for _, child := range children[pid] {
			syscall.Kill(child, syscall.SIGKILL)
		}
	}
}
