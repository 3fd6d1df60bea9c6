//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestProbesAndLifecycle drives the kubelet's probes and lifecycle hooks
// with kubectl: a failing liveness probe restarts a container, a failing
// readiness probe takes a pod out of its Service's endpoints and back, a
// crashing container backs off 10 s then 20 s, and a deleted pod runs its
// preStop hook and is gone about 2 s after a 2 s grace period.
func TestProbesAndLifecycle(t *testing.T) {
	c := newCluster(t)
	c.start()
	c.waitNodeReady()
	dir := t.TempDir()
	apply := func(name, manifest string) {
		t.Helper()
		file := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		c.mustKubectl("apply", "-f", file)
	}
	jsonpath := func(args ...string) string {
		out, _ := c.kubectl(args...)
		return strings.TrimSpace(out)
	}
	restarts := func(pod string) int {
		n, _ := strconv.Atoi(jsonpath("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].restartCount}"))
		return n
	}
	// events lists "<reason>: <message>" of a pod's events.
	events := func(pod string) string {
		return c.mustKubectl("get", "events", "--field-selector", "involvedObject.name="+pod,
			"-o", `go-template={{range .items}}{{.reason}}: {{.message}}{{"\n"}}{{end}}`)
	}
	waitEvent := func(pod, want string) {
		t.Helper()
		c.waitFor(fmt.Sprintf("event %q of pod %s", want, pod), 60*time.Second, func() (bool, error) {
			return strings.Contains(events(pod), want), nil
		})
	}

	// Liveness: /nope answers 404; two failures kill the container, which
	// restarts.
	apply("live", `apiVersion: v1
kind: Pod
metadata:
  name: live
spec:
  containers:
  - name: c
    image: localhost/echo:1
    ports:
    - {name: http, containerPort: 8080}
    livenessProbe:
      httpGet: {path: /nope, port: http}
      initialDelaySeconds: 1
      periodSeconds: 2
      failureThreshold: 2
`)
	c.waitFor("pod live restarted by its liveness probe", 60*time.Second, func() (bool, error) {
		return restarts("live") >= 1, nil
	})
	waitEvent("live", "Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 404")
	waitEvent("live", "Killing: Container c failed liveness probe, will be restarted")
	describe := c.mustKubectl("describe", "pod", "live")
	for _, want := range []string{
		"Liveness:       http-get http://:http/nope delay=1s timeout=1s period=2s #success=1 #failure=2",
		"Liveness probe failed: HTTP probe failed with statuscode: 404",
		"Container c failed liveness probe, will be restarted",
	} {
		if !strings.Contains(describe, want) {
			t.Errorf("kubectl describe pod live lacks %q:\n%s", want, describe)
		}
	}

	// Readiness: the probe reads a file the test controls through a
	// hostPath volume; the pod leaves the Service's endpoints while it is
	// missing and comes back when it is there again.
	flags := filepath.Join(c.dataDir, "flags")
	if err := os.MkdirAll(flags, 0o755); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(flags, "ready")
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	apply("ready", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: ready
  labels: {app: ready}
spec:
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    readinessProbe:
      exec:
        command: ["cat", "/flags/ready"]
      periodSeconds: 1
      failureThreshold: 1
    volumeMounts:
    - {name: flags, mountPath: /flags}
  volumes:
  - name: flags
    hostPath: {path: %s}
---
apiVersion: v1
kind: Service
metadata:
  name: ready
spec:
  selector: {app: ready}
  ports:
  - {port: 80, targetPort: 8080}
`, flags))
	c.mustKubectl("wait", "--for=condition=Ready", "pod/ready", "--timeout=60s")
	podIP := jsonpath("get", "pod", "ready", "-o", "jsonpath={.status.podIP}")
	endpoints := func() (ready, notReady string) {
		return jsonpath("get", "endpoints", "ready", "-o", "jsonpath={.subsets[*].addresses[*].ip}"),
			jsonpath("get", "endpoints", "ready", "-o", "jsonpath={.subsets[*].notReadyAddresses[*].ip}")
	}
	c.waitFor("the ready pod in the Service's endpoints", 30*time.Second, func() (bool, error) {
		r, _ := endpoints()
		return r == podIP, nil
	})
	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}
	c.waitFor("the unready pod out of the Service's endpoints", 30*time.Second, func() (bool, error) {
		r, nr := endpoints()
		return r == "" && nr == podIP, nil
	})
	if out := c.mustKubectl("get", "pod", "ready", "--no-headers"); !strings.Contains(out, "0/1") || !strings.Contains(out, "Running") {
		t.Errorf("unready pod: %s", out)
	}
	slice := jsonpath("get", "endpointslices", "-l", "kubernetes.io/service-name=ready", "-o", "jsonpath={.items[0].endpoints[0].conditions.ready}")
	if slice != "false" {
		t.Errorf("EndpointSlice ready condition %q, want false", slice)
	}
	waitEvent("ready", "Unhealthy: Readiness probe failed: cat: can't open '/flags/ready': No such file or directory")
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.waitFor("the pod back in the Service's endpoints", 30*time.Second, func() (bool, error) {
		r, nr := endpoints()
		return r == podIP && nr == "", nil
	})
	if n := restarts("ready"); n != 0 {
		t.Errorf("a readiness failure restarted the container (%d restarts)", n)
	}

	// CrashLoopBackOff: restarted at once, then after 10 s, then 20 s.
	apply("crash", `apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["/bin/sh", "-c", "exit 1"]
`)
	uid := jsonpath("get", "pod", "crash", "-o", "jsonpath={.metadata.uid}")
	waiting := func() (reason, message string) {
		return jsonpath("get", "pod", "crash", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}"),
			jsonpath("get", "pod", "crash", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.message}")
	}
	backOff := func(d string) string {
		return fmt.Sprintf("back-off %s restarting failed container=c pod=crash_default(%s)", d, uid)
	}
	c.waitFor("back-off 10s", 60*time.Second, func() (bool, error) {
		reason, msg := waiting()
		return reason == "CrashLoopBackOff" && msg == backOff("10s"), nil
	})
	first := time.Now()
	if n := restarts("crash"); n != 1 {
		t.Errorf("in the first back-off: %d restarts, want 1", n)
	}
	if out := c.mustKubectl("get", "pod", "crash", "--no-headers"); !strings.Contains(out, "CrashLoopBackOff") {
		t.Errorf("kubectl get pod crash: %s", out)
	}
	c.waitFor("back-off 20s", 60*time.Second, func() (bool, error) {
		reason, msg := waiting()
		return reason == "CrashLoopBackOff" && msg == backOff("20s"), nil
	})
	if d := time.Since(first); d < 7*time.Second {
		t.Errorf("the second restart came %.1fs into a 10 s back-off", d.Seconds())
	}
	if n := restarts("crash"); n != 2 {
		t.Errorf("in the second back-off: %d restarts, want 2", n)
	}
	waitEvent("crash", fmt.Sprintf("BackOff: Back-off restarting failed container c in pod crash_default(%s)", uid))

	// preStop and a 2 s grace period: the hook writes into a hostPath
	// volume; the container ignores SIGTERM and is killed 2 s after it.
	hooks := filepath.Join(c.dataDir, "hooks")
	apply("hooks", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hooks
spec:
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["/bin/sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
    lifecycle:
      postStart:
        exec:
          command: ["/bin/sh", "-c", "echo started > /data/poststart"]
      preStop:
        exec:
          command: ["/bin/sh", "-c", "echo bye from $(hostname) > /data/prestop"]
    volumeMounts:
    - {name: data, mountPath: /data}
  volumes:
  - name: data
    hostPath: {path: %s, type: DirectoryOrCreate}
`, hooks))
	c.mustKubectl("wait", "--for=condition=Ready", "pod/hooks", "--timeout=60s")
	if data, err := os.ReadFile(filepath.Join(hooks, "poststart")); err != nil || string(data) != "started\n" {
		t.Errorf("postStart hook: %q %v", data, err)
	}
	start := time.Now()
	c.mustKubectl("delete", "pod", "hooks", "--grace-period=2")
	took := time.Since(start)
	t.Logf("MEASURE pod deleted with a 2 s grace period (container ignores SIGTERM) gone after %.1fs", took.Seconds())
	// About 2 s: the grace period, then the sandbox's teardown and a few
	// API round trips (a loaded machine adds to those).
	if took < 2*time.Second || took > 6*time.Second {
		t.Errorf("a pod with a 2 s grace period was gone after %.1fs, want about 2 s", took.Seconds())
	}
	if data, err := os.ReadFile(filepath.Join(hooks, "prestop")); err != nil || string(data) != "bye from hooks\n" {
		t.Errorf("preStop hook: %q %v", data, err)
	}
	if _, err := c.client.CoreV1().Pods("default").Get(ctx(t), "hooks", metav1.GetOptions{}); err == nil {
		t.Errorf("pod hooks still exists after kubectl delete returned")
	}
}
