//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestSeedFlow is issue 2's scenario: kubectl → API server → etcd →
// controllers → scheduler → kubelet/containerd → Service, then scale, roll,
// self-healing, restart of kedge, bad input and deletion.
func TestSeedFlow(t *testing.T) {
	c := newCluster(t)
	c.start()

	// The node registers and becomes Ready.
	c.waitFor("node Ready", 120*time.Second, func() (bool, error) {
		out, err := c.kubectl("get", "nodes", "--no-headers")
		return err == nil && strings.Count(out, " Ready ") == 1, err
	})
	t.Logf("MEASURE seconds from kedge up to node Ready: %.1f", time.Since(c.started).Seconds())
	t.Logf("kubectl get nodes -o wide:\n%s", c.mustKubectl("get", "nodes", "-o", "wide"))

	// A Deployment of 3 replicas rolls out.
	created := time.Now()
	c.mustKubectl("create", "deployment", "web", "--image=localhost/echo:1", "--replicas=3", "--port=8080")
	c.mustKubectl("rollout", "status", "deployment/web", "--timeout=120s")
	pods := c.pods("app=web")
	if len(pods) != 3 {
		t.Fatalf("want 3 pods, got %d", len(pods))
	}
	var slowest time.Duration
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.Spec.NodeName == "" {
			t.Fatalf("pod %s: phase %s ip %q node %q", p.Name, p.Status.Phase, p.Status.PodIP, p.Spec.NodeName)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running != nil {
				if d := cs.State.Running.StartedAt.Sub(p.CreationTimestamp.Time); d > slowest {
					slowest = d
				}
			}
		}
	}
	t.Logf("MEASURE pod startup: 3 pods Running %.1fs after kubectl create (slowest container start %.1fs after pod creation)",
		time.Since(created).Seconds(), slowest.Seconds())
	wide := c.mustKubectl("get", "pods", "-o", "wide")
	t.Logf("kubectl get pods -o wide:\n%s", wide)
	if strings.Count(wide, "Running") != 3 {
		t.Fatalf("want 3 Running pods in:\n%s", wide)
	}

	// A Service in front of them: every pod answers through the ClusterIP.
	c.mustKubectl("expose", "deployment", "web", "--port=80", "--target-port=8080")
	ip := strings.TrimSpace(c.mustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"))
	c.waitEndpoints("web", 3)
	answered := c.curlAll(ip, "1 ", 3)
	for _, p := range pods {
		if !answered[p.Name] {
			t.Fatalf("pod %s never answered through %s (answers: %v)", p.Name, ip, answered)
		}
	}

	t.Logf("MEASURE RSS of the kedge process with 3 pods running: %d MiB", rss(c.cmd.Process.Pid)/1024)

	// A killed container is restarted by the kubelet.
	victim := pods[0]
	c.killContainer(victim)
	c.waitFor("restart count 1", 60*time.Second, func() (bool, error) {
		p, err := c.client.CoreV1().Pods("default").Get(ctx(t), victim.Name, metav1.GetOptions{})
		return err == nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount == 1 &&
			p.Status.ContainerStatuses[0].Ready, err
	})
	out := c.mustKubectl("get", "pod", victim.Name, "--no-headers")
	if f := strings.Fields(out); len(f) < 4 || f[3] != "1" {
		t.Fatalf("RESTARTS of %s should read 1:\n%s", victim.Name, out)
	}

	// Scale down: two pods terminate, the endpoints shrink to one.
	c.mustKubectl("scale", "deployment", "web", "--replicas=1")
	c.waitFor("1 pod left", 90*time.Second, func() (bool, error) { return len(c.pods("app=web")) == 1, nil })
	c.waitEndpoints("web", 1)

	// A new image rolls out and answers.
	c.mustKubectl("set", "image", "deployment/web", "echo=localhost/echo:2")
	c.mustKubectl("rollout", "status", "deployment/web", "--timeout=120s")
	c.waitEndpoints("web", 1)
	c.curlAll(ip, "2 ", 1)

	// Bad input is refused with a 422 and changes nothing.
	before := c.mustKubectl("get", "deployments", "-o", "name")
	for name, manifest := range map[string]string{
		"invalid name":  badDeployment("Bad_Name", "localhost/echo:1"),
		"missing image": badDeployment("noimage", ""),
	} {
		cmd := exec.Command("kubectl", "--kubeconfig", c.kubeconfig, "apply", "-f", "-")
		cmd.Stdin = strings.NewReader(manifest)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "is invalid") {
			t.Fatalf("%s: want a refusal, got err=%v:\n%s", name, err, out)
		}
		t.Logf("%s refused: %s", name, strings.TrimSpace(string(out)))
	}
	raw := c.rawStatus("POST", "/apis/apps/v1/namespaces/default/deployments", badDeployment("Bad_Name", "x:1"))
	if raw.Code != 422 || raw.Reason != metav1.StatusReasonInvalid {
		t.Fatalf("want 422 Invalid, got %d %s", raw.Code, raw.Reason)
	}
	if after := c.mustKubectl("get", "deployments", "-o", "name"); after != before {
		t.Fatalf("deployments changed after refused input: %q → %q", before, after)
	}

	// Restart kedge on the same data dir: objects, pods and the Service survive.
	c.stop()
	c.start()
	c.waitFor("node Ready after restart", 120*time.Second, func() (bool, error) {
		out, err := c.kubectl("get", "nodes", "--no-headers")
		return err == nil && strings.Count(out, " Ready ") == 1, err
	})
	c.mustKubectl("rollout", "status", "deployment/web", "--timeout=120s")
	c.mustKubectl("get", "service", "web")
	c.waitEndpoints("web", 1)
	c.curlAll(ip, "2 ", 1)

	// Delete: the ReplicaSets and Pods go with the Deployment.
	c.mustKubectl("delete", "deployment", "web")
	c.waitFor("replicasets and pods gone", 90*time.Second, func() (bool, error) {
		rs := c.mustKubectl("get", "replicasets", "-l", "app=web", "-o", "name")
		return strings.TrimSpace(rs) == "" && len(c.pods("app=web")) == 0, nil
	})
}

func badDeployment(name, image string) string {
	img := ""
	if image != "" {
		img = "\n        image: " + image
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  selector:
    matchLabels: {app: bad}
  template:
    metadata:
      labels: {app: bad}
    spec:
      containers:
      - name: c%s
`, name, img)
}

// pods lists the live pods (not terminating) with a label selector.
func (c *cluster) pods(selector string) []corev1.Pod {
	c.t.Helper()
	l, err := c.client.CoreV1().Pods("default").List(ctx(c.t), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// waitEndpoints waits until the Service's Endpoints list n ready addresses.
func (c *cluster) waitEndpoints(svc string, n int) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("%d endpoints of %s", n, svc), 60*time.Second, func() (bool, error) {
		ep, err := c.client.CoreV1().Endpoints("default").Get(ctx(c.t), svc, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got := 0
		for _, s := range ep.Subsets {
			got += len(s.Addresses)
		}
		return got == n, nil
	})
}

// curlAll asks http://ip/ from the host until `want` distinct pods have
// answered, checking that every body starts with prefix (an answer that does
// not come from our echo server is a failure: exit codes prove nothing here).
func (c *cluster) curlAll(ip, prefix string, want int) map[string]bool {
	c.t.Helper()
	seen := map[string]bool{}
	// A new connection per request, so that the proxy picks a backend each time.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) && len(seen) < want {
		resp, err := client.Get("http://" + ip + "/")
		if err != nil {
			last = err.Error()
			time.Sleep(200 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(body)
		f := strings.Fields(string(body))
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), prefix) || len(f) != 2 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		seen[f[1]] = true
	}
	if len(seen) < want {
		c.t.Fatalf("only %d of %d pods answered %q through %s (last: %q)", len(seen), want, prefix, ip, last)
	}
	return seen
}

// killContainer kills the pod's container process from the host.
func (c *cluster) killContainer(p corev1.Pod) {
	c.t.Helper()
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	sock := c.runDir() + "/containerd/containerd.sock"
	out, err := exec.Command("ctr", "-a", sock, "-n", "k8s.io", "tasks", "ls").Output()
	if err != nil {
		c.t.Fatalf("ctr tasks ls: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			pid, _ := strconv.Atoi(f[1])
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				c.t.Fatalf("kill %d: %v", pid, err)
			}
			return
		}
	}
	c.t.Fatalf("no task for container %s in:\n%s", id, out)
}

// rawStatus POSTs a manifest with client-go's REST client and returns the
// server's Status.
func (c *cluster) rawStatus(method, path, yamlBody string) metav1.Status {
	c.t.Helper()
	body, err := yaml.YAMLToJSON([]byte(yamlBody))
	if err != nil {
		c.t.Fatal(err)
	}
	err = c.client.AppsV1().RESTClient().Verb(method).AbsPath(path).Body(body).
		SetHeader("Content-Type", "application/json").Do(ctx(c.t)).Error()
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		c.t.Fatalf("%s %s: want a Status error, got %v", method, path, err)
	}
	return se.ErrStatus
}

func rss(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return 0
}
