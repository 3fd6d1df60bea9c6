//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const streamingPods = `
apiVersion: v1
kind: Pod
metadata: {name: logger, labels: {app: logger}}
spec:
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["sh", "-c", "i=0; while true; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 1; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  containers:
  - {name: a, image: localhost/busybox:1.36, command: ["sh", "-c", "echo from-a; sleep 3600"]}
  - {name: b, image: localhost/busybox:1.36, command: ["sh", "-c", "echo from-b; sleep 3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - {name: c, image: localhost/busybox:1.36, command: ["sh", "-c", "echo run-$(date +%s); sleep 3; exit 1"]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo}
spec:
  containers:
  - {name: echo, image: localhost/echo:1, ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pending}
spec:
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["sleep", "3600"]
    volumeMounts: [{name: cm, mountPath: /cm}]
  volumes: [{name: cm, configMap: {name: does-not-exist}}]
`

// TestStreaming drives logs, exec, cp and port-forward through the API
// server and the kubelet with the real kubectl (and, when they are
// installed beside it, kubectl 1.27 and 1.33: SPDY only, and WebSocket
// with SPDY tunnelled for port-forward).
func TestStreaming(t *testing.T) {
	c := newCluster(t)
	c.start()
	c.waitNodeReady()
	c.waitFor("the default service account", 60*time.Second, func() (bool, error) {
		_, err := c.kubectl("get", "sa", "default")
		return err == nil, nil
	})
	manifest := filepath.Join(t.TempDir(), "pods.yaml")
	if err := os.WriteFile(manifest, []byte(streamingPods), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("apply", "-f", manifest)
	c.mustKubectl("wait", "--for=condition=Ready", "pod/logger", "pod/two", "pod/echo", "--timeout=120s")
	// A few lines of log to read.
	c.waitFor("three log lines", 30*time.Second, func() (bool, error) {
		out, err := c.kubectl("logs", "logger")
		return err == nil && strings.Contains(out, "out 2\n"), err
	})

	t.Run("logs", func(t *testing.T) { testLogs(t, c) })
	t.Run("logs follow", func(t *testing.T) { testLogsFollow(t, c) })
	t.Run("logs previous", func(t *testing.T) { testLogsPrevious(t, c) })
	t.Run("exec", func(t *testing.T) { testExec(t, c, "kubectl") })
	t.Run("exec tty", func(t *testing.T) { testExecTTY(t, c) })
	t.Run("attach", func(t *testing.T) { testAttach(t, c, "kubectl") })
	t.Run("cp", func(t *testing.T) { testCopy(t, c) })
	t.Run("port-forward", func(t *testing.T) { testPortForward(t, c, "kubectl") })
	for _, v := range []string{"1.27", "1.33"} {
		bin := besideKubectl("kubectl." + v)
		if bin == "" {
			t.Logf("kubectl.%s is not installed beside kubectl; skipping it", v)
			continue
		}
		t.Run("exec kubectl "+v, func(t *testing.T) { testExec(t, c, bin) })
		t.Run("attach kubectl "+v, func(t *testing.T) { testAttach(t, c, bin) })
		t.Run("port-forward kubectl "+v, func(t *testing.T) { testPortForward(t, c, bin) })
	}
}

// besideKubectl finds another kubectl build next to the real file of the
// one on the PATH.
func besideKubectl(name string) string {
	k, err := exec.LookPath("kubectl")
	if err != nil {
		return ""
	}
	real, err := filepath.EvalSymlinks(k)
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(real), name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// run runs a kubectl binary against the cluster with stdin, returning
// stdout and stderr apart.
func (c *cluster) run(bin string, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(bin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func testLogs(t *testing.T, c *cluster) {
	if out := c.mustKubectl("logs", "logger", "--tail=2"); strings.Count(out, "\n") != 2 {
		t.Errorf("--tail=2: %q", out)
	}
	out := c.mustKubectl("logs", "logger", "--tail=1", "--timestamps")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (out|err) \d+\n$`).MatchString(out) {
		t.Errorf("--timestamps: %q", out)
	}
	if out := c.mustKubectl("logs", "logger", "--since=1h"); !strings.HasPrefix(out, "out 0\nerr 0\n") && !strings.HasPrefix(out, "err 0\nout 0\n") {
		t.Errorf("--since=1h does not start at the beginning: %.40q", out)
	}
	if out := c.mustKubectl("logs", "logger", "--limit-bytes=7"); len(out) != 7 {
		t.Errorf("--limit-bytes=7: %q", out)
	}
	if out := c.mustKubectl("logs", "-l", "app=logger", "--tail=1"); strings.Count(out, "\n") != 1 {
		t.Errorf("-l app=logger --tail=1: %q", out)
	}
	if out, _, err := c.run("kubectl", nil, "logs", "two", "-c", "b"); err != nil || out != "from-b\n" {
		t.Errorf("-c b: %q %v", out, err)
	}
	// kubectl picks the first container itself and says so.
	if out, errOut, err := c.run("kubectl", nil, "logs", "two"); err != nil || out != "from-a\n" || !strings.Contains(errOut, `Defaulted container "a" out of: a, b`) {
		t.Errorf("default container: %q %q %v", out, errOut, err)
	}
	// Asked directly, the API server wants a container name.
	_, errOut, err := c.run("kubectl", nil, "get", "--raw", "/api/v1/namespaces/default/pods/two/log")
	if err == nil || !strings.Contains(errOut, "a container name must be specified for pod two, choose one of: [a b]") {
		t.Errorf("pods/log without a container: %q %v", errOut, err)
	}
	_, errOut, err = c.run("kubectl", nil, "logs", "pending")
	if want := `Error from server (BadRequest): container "c" in pod "pending" is waiting to start: ContainerCreating`; err == nil || strings.TrimSpace(errOut) != want {
		t.Errorf("logs of a pod still creating: %q %v, want %q", errOut, err, want)
	}
}

func testLogsFollow(t *testing.T, c *cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", c.kubeconfig, "logs", "-f", "logger", "--tail=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Run() // ended by the timeout
	// One line to start with, then about one out and one err line a second.
	if n := strings.Count(out.String(), "\n"); n < 4 {
		t.Errorf("logs -f for 4s printed %d lines: %q", n, out.String())
	}
}

func testLogsPrevious(t *testing.T, c *cluster) {
	c.waitFor("crash to restart", 90*time.Second, func() (bool, error) {
		out, err := c.kubectl("get", "pod", "crash", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
		n, _ := strconv.Atoi(out)
		return err == nil && n >= 1, err
	})
	out, errOut, err := c.run("kubectl", nil, "logs", "crash", "--previous")
	if err != nil || !regexp.MustCompile(`^run-\d+\n$`).MatchString(out) {
		t.Errorf("--previous: %q %q %v", out, errOut, err)
	}
	_, errOut, err = c.run("kubectl", nil, "logs", "logger", "--previous")
	if want := `Error from server (BadRequest): previous terminated container "c" in pod "logger" not found`; err == nil || strings.TrimSpace(errOut) != want {
		t.Errorf("--previous without one: %q %v", errOut, err)
	}
}

func testExec(t *testing.T, c *cluster, bin string) {
	out, errOut, err := c.run(bin, strings.NewReader("hello from stdin\n"), "exec", "-i", "logger", "--", "cat")
	if err != nil || out != "hello from stdin\n" {
		t.Errorf("exec -i cat: %q %q %v", out, errOut, err)
	}
	out, errOut, err = c.run(bin, nil, "exec", "logger", "--", "sh", "-c", "echo to-out; echo to-err >&2")
	if err != nil || out != "to-out\n" || errOut != "to-err\n" {
		t.Errorf("exec stdout/stderr: %q %q %v", out, errOut, err)
	}
	_, errOut, err = c.run(bin, nil, "exec", "logger", "--", "sh", "-c", "exit 3")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(errOut, "command terminated with exit code 3") {
		t.Errorf("exit code: %v %q", err, errOut)
	}
	out, _, err = c.run(bin, nil, "exec", "two", "-c", "b", "--", "cat", "/etc/hostname")
	if err != nil || out != "two\n" {
		t.Errorf("exec -c b: %q %v", out, err)
	}
}

func testExecTTY(t *testing.T, c *cluster) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed to drive a terminal (hack/install-deps.sh installs it)")
	}
	// A tmux server of our own (-L): one already running elsewhere would
	// start the session in its network namespace, not the test's.
	server := fmt.Sprintf("kedge-e2e-%d", os.Getpid())
	tmux := func(args ...string) *exec.Cmd {
		return exec.Command("tmux", append([]string{"-L", server}, args...)...)
	}
	shell := fmt.Sprintf("kubectl --kubeconfig %s exec -it logger -- sh; echo EXIT=$?; sleep 60", c.kubeconfig)
	if out, err := tmux("new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30", shell).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	defer tmux("kill-server").Run()
	pane := func() string {
		out, _ := tmux("capture-pane", "-p", "-t", "e2e").Output()
		return string(out)
	}
	keys := func(s string) {
		if out, err := tmux("send-keys", "-t", "e2e", s, "Enter").CombinedOutput(); err != nil {
			t.Fatalf("tmux send-keys: %v %s", err, out)
		}
	}
	waitPane := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok(pane()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; the terminal shows:\n%s", what, pane())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitPane("a shell prompt", func(p string) bool { return strings.Contains(p, "/ #") }) // capture-pane trims trailing blanks
	keys("echo $((6*7)); tty; stty size")
	waitPane("the terminal's answer", func(p string) bool {
		return strings.Contains(p, "\n42\n") && strings.Contains(p, "/dev/pts/") && strings.Contains(p, "30 100")
	})
	keys("exit 5")
	waitPane("the session to end with exit code 5", func(p string) bool { return strings.Contains(p, "EXIT=5") })
}

func testCopy(t *testing.T, c *cluster) {
	dir := t.TempDir()
	data := make([]byte, 300<<10)
	rand.Read(data)
	src := filepath.Join(dir, "up.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("cp", src, "logger:/tmp/up.bin")
	out := c.mustKubectl("exec", "logger", "--", "wc", "-c", "/tmp/up.bin")
	if !strings.HasPrefix(strings.TrimSpace(out), strconv.Itoa(len(data))) {
		t.Errorf("copied to the pod: %q", out)
	}
	back := filepath.Join(dir, "down.bin")
	c.mustKubectl("cp", "logger:/tmp/up.bin", back)
	got, err := os.ReadFile(back)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("copied back %d bytes (%v), want the %d sent", len(got), err, len(data))
	}
}

func testPortForward(t *testing.T, c *cluster, bin string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--kubeconfig", c.kubeconfig, "port-forward", "pod/echo", fmt.Sprintf("%d:8080", port))
	var out syncWriter
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	c.waitFor("port-forward to listen", 20*time.Second, func() (bool, error) {
		return strings.Contains(out.String(), "Forwarding from 127.0.0.1"), nil
	})
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 3; i++ {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			t.Fatalf("GET through port-forward: %v (kubectl: %s)", err, out.String())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "1 echo\n" {
			t.Fatalf("GET through port-forward: %d %q", resp.StatusCode, body)
		}
	}
}

// syncWriter collects a process's output for polling.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// testAttach attaches to a running container's main process: its output
// (a ticker), and its stdin (a reader that echoes lines and exits when
// stdin closes, stdinOnce).
func testAttach(t *testing.T, c *cluster, bin string) {
	name := "attach-" + strings.ReplaceAll(filepath.Base(bin), ".", "-")
	manifest := filepath.Join(t.TempDir(), "attach.yaml")
	if err := os.WriteFile(manifest, []byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: reader
    image: localhost/busybox:1.36
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "while read l; do echo got:$l; done; echo stdin-closed"]
  - name: ticker
    image: localhost/busybox:1.36
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.5; done"]
`, name)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("apply", "-f", manifest)
	c.mustKubectl("wait", "--for=condition=Ready", "pod/"+name, "--timeout=60s")

	// Output only: the ticker's new lines stream until kubectl is stopped.
	cmd := exec.Command(bin, "--kubeconfig", c.kubeconfig, "attach", name, "-c", "ticker")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && strings.Count(out.String(), "tick ") < 3 {
		time.Sleep(200 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if strings.Count(out.String(), "tick ") < 3 {
		t.Errorf("%s attach to the ticker: %q", bin, out.String())
	}

	// stdin: lines reach the process; closing stdin ends it (stdinOnce).
	stdout, stderr, err := c.run(bin, strings.NewReader("hello\nworld\n"), "attach", "-i", name, "-c", "reader")
	if err != nil || !strings.Contains(stdout, "got:hello\ngot:world\n") {
		t.Errorf("%s attach -i: err %v, stdout %q, stderr %q", bin, err, stdout, stderr)
	}
	c.waitFor("the reader to exit once its stdin closed", 30*time.Second, func() (bool, error) {
		out, err := c.kubectl("get", "pod", name, "-o", `jsonpath={.status.containerStatuses[?(@.name=="reader")].state.terminated.exitCode}`)
		return err == nil && out == "0", nil
	})
	if logs := c.mustKubectl("logs", name, "-c", "reader"); !strings.Contains(logs, "got:world\nstdin-closed\n") {
		t.Errorf("reader's log after attach: %q", logs)
	}
	c.mustKubectl("delete", "pod", name, "--wait=false")
}
