//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	authv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/kedge-dev/kedge/internal/images/registrytest"
	"github.com/kedge-dev/kedge/internal/server"
)

// podFeaturePods are the pods the subtests of TestPodFeatures look at,
// created together so that they start side by side.
const podFeaturePods = `
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["sh", "-c", "x=a; while true; do x=$x$x; done"]
    resources:
      limits: {memory: 32Mi}
---
apiVersion: v1
kind: Pod
metadata: {name: runas}
spec:
  securityContext: {runAsUser: 1000, runAsGroup: 3000}
  containers:
  - {name: c, image: localhost/busybox:1.36, command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello}
---
apiVersion: v1
kind: Pod
metadata: {name: cfg}
spec:
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts:
    - {name: settings, mountPath: /cfg}
  volumes:
  - name: settings
    configMap: {name: settings}
---
apiVersion: v1
kind: Pod
metadata: {name: token}
spec:
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts:
    - {name: e2e-token, mountPath: /var/run/secrets/tokens}
  volumes:
  - name: e2e-token
    projected:
      sources:
      - serviceAccountToken: {audience: kedge-e2e, expirationSeconds: 3600, path: token}
`

// TestPodFeatures shows, with kubectl and client-go on a real cluster,
// the pod features of issue 4 that the other e2e tests do not: a memory
// hog is OOMKilled, runAsUser/runAsGroup hold, a configMap update reaches
// a mounted volume, projected ServiceAccount tokens are accepted by the
// API server, imagePullPolicy Always pulls (again) from a plain-HTTP
// registry on loopback, a missing image backs off, and restarting the
// agent (the kubelet's process) leaves running containers alone.
//
// The cluster runs as `kedge server` and `kedge agent`, two processes on
// one data dir, so that the agent can be restarted on its own.
func TestPodFeatures(t *testing.T) {
	c := newCluster(t)
	reg := startRegistry(t)
	// registries.yaml is read when the kubelet starts: the loopback
	// registry is a plain-HTTP mirror of itself.
	regYAML := fmt.Sprintf("mirrors:\n  %q:\n    endpoint: [%q]\n", reg.host, "http://"+reg.host)
	if err := os.WriteFile(filepath.Join(c.dataDir, "agent", "registries.yaml"), []byte(regYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := c.startSplit()
	c.waitNodeReady()
	hosts := filepath.Join(c.dataDir, "agent", "etc/containerd/certs.d", reg.host, "hosts.toml")
	if data, err := os.ReadFile(hosts); err != nil || !strings.Contains(string(data), `server = "http://`+reg.host+`"`) {
		t.Errorf("containerd's hosts.toml for the registry: %q %v", data, err)
	}

	dir := t.TempDir()
	created := time.Now()
	kubectlApply(t, c, dir, "pods", podFeaturePods)

	t.Run("OOMKilled", func(t *testing.T) {
		poll(t, "pod hog Failed", 60*time.Second, func() bool {
			return jp(c, "pod", "hog", "{.status.phase}") == "Failed"
		})
		term := "{.status.containerStatuses[0].state.terminated"
		t.Logf("MEASURE memory hog (32Mi limit) created → Failed (OOMKilled) in %.1fs; container ran %s → %s", time.Since(created).Seconds(),
			jp(c, "pod", "hog", term+".startedAt}"), jp(c, "pod", "hog", term+".finishedAt}"))
		if r, code := jp(c, "pod", "hog", term+".reason}"), jp(c, "pod", "hog", term+".exitCode}"); r != "OOMKilled" || code != "137" {
			t.Errorf("hog terminated with reason %q exit code %s, want OOMKilled 137", r, code)
		}
		if q := jp(c, "pod", "hog", "{.status.qosClass}"); q != "Burstable" {
			t.Errorf("hog qosClass %q, want Burstable", q)
		}
		if out := mustKubectlT(t, c, "get", "pod", "hog", "--no-headers"); !strings.Contains(out, "OOMKilled") {
			t.Errorf("kubectl get pod hog: %s", out)
		}
	})

	t.Run("RunAsUser", func(t *testing.T) {
		waitReady(t, c, "runas")
		if out := strings.TrimSpace(mustKubectlT(t, c, "exec", "runas", "--", "id", "-u")); out != "1000" {
			t.Errorf("id -u in a runAsUser: 1000 pod: %q", out)
		}
		if out := strings.TrimSpace(mustKubectlT(t, c, "exec", "runas", "--", "id", "-g")); out != "3000" {
			t.Errorf("id -g in a runAsGroup: 3000 pod: %q", out)
		}
		// The container's main process too, not only exec'd ones.
		if out := mustKubectlT(t, c, "exec", "runas", "--", "cat", "/proc/1/status"); !strings.Contains(out, "Uid:\t1000\t1000\t1000\t1000") {
			t.Errorf("pid 1 of the runAsUser pod:\n%s", out)
		}
	})

	t.Run("ConfigMapUpdate", func(t *testing.T) {
		waitReady(t, c, "cfg")
		if out := mustKubectlT(t, c, "exec", "cfg", "--", "cat", "/cfg/greeting"); out != "hello" {
			t.Fatalf("/cfg/greeting before the update: %q", out)
		}
		mustKubectlT(t, c, "patch", "configmap", "settings", "--type=merge", "-p", `{"data":{"greeting":"updated"}}`)
		patched := time.Now()
		poll(t, "the configMap update in the pod's volume", 60*time.Second, func() bool {
			out, _ := c.kubectl("exec", "cfg", "--", "cat", "/cfg/greeting")
			return out == "updated"
		})
		t.Logf("MEASURE configMap update → visible in the mounted volume after %.1fs", time.Since(patched).Seconds())
	})

	t.Run("ServiceAccountToken", func(t *testing.T) {
		waitReady(t, c, "token")
		testServiceAccountToken(t, c, dir)
	})

	t.Run("PullAlways", func(t *testing.T) {
		testPullAlways(t, c, dir, reg)
	})

	t.Run("ImagePullBackOff", func(t *testing.T) {
		testImagePullBackOff(t, c, dir, reg)
	})

	t.Run("StaticPod", func(t *testing.T) {
		testStaticPod(t, c)
	})

	t.Run("AgentRestart", func(t *testing.T) {
		testAgentRestart(t, c, dir, agent)
	})
}

// testStaticPod puts a manifest in the agent's pod-manifests directory:
// the kubelet runs it and shows it as a mirror pod, which comes back
// when deleted (the container keeps running), and the pod goes when the
// file does.
func testStaticPod(t *testing.T, c *cluster) {
	nonce := make([]byte, 6)
	rand.Read(nonce)
	marker := "static-" + hex.EncodeToString(nonce)
	manifests := filepath.Join(c.dataDir, "agent", "pod-manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(manifests, "web.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels: {app: static-web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done", %q]
`, marker)), 0o644); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	name := "static-web-" + strings.ToLower(host)
	written := time.Now()
	poll(t, "the mirror pod of the static pod", 60*time.Second, func() bool {
		_, err := c.kubectl("get", "pod", name)
		return err == nil
	})
	waitReady(t, c, name)
	t.Logf("MEASURE static pod manifest written → mirror pod Ready in %.1fs", time.Since(written).Seconds())
	if src := jp(c, "pod", name, `{.metadata.annotations.kubernetes\.io/config\.source}`); src != "file" {
		t.Errorf("mirror pod's config.source annotation %q, want file", src)
	}
	if m, h := jp(c, "pod", name, `{.metadata.annotations.kubernetes\.io/config\.mirror}`),
		jp(c, "pod", name, `{.metadata.annotations.kubernetes\.io/config\.hash}`); m == "" || m != h {
		t.Errorf("mirror pod's config.mirror %q and config.hash %q", m, h)
	}
	if owner := jp(c, "pod", name, "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}"); owner != "Node/"+strings.ToLower(host) {
		t.Errorf("mirror pod's owner %q, want its Node", owner)
	}
	if sa := jp(c, "pod", name, "{.spec.serviceAccountName}"); sa != "" {
		t.Errorf("mirror pod's serviceAccountName %q, want none (as upstream)", sa)
	}
	const cs = "{.status.containerStatuses[0]"
	containerID, uid := jp(c, "pod", name, cs+".containerID}"), jp(c, "pod", name, "{.metadata.uid}")
	proc := findProcess(t, marker)
	if out := mustKubectlT(t, c, "logs", name); out != "" {
		t.Logf("logs of the static pod: %q", out)
	}

	// Deleting the mirror pod does not stop the static pod: it comes back.
	mustKubectlT(t, c, "delete", "pod", name, "--wait=false")
	poll(t, "the mirror pod recreated", 60*time.Second, func() bool {
		u := jp(c, "pod", name, "{.metadata.uid}")
		return u != "" && u != uid && jp(c, "pod", name, "{.status.phase}") == "Running"
	})
	if id, n := jp(c, "pod", name, cs+".containerID}"), jp(c, "pod", name, cs+".restartCount}"); id != containerID || n != "0" {
		t.Errorf("after the mirror pod's deletion: container %s restarts %s, want %s and 0", id, n, containerID)
	}
	if p := findProcess(t, marker); p != proc {
		t.Errorf("static pod's process after the mirror's deletion: %s, was %s", p, proc)
	}

	// Removing the manifest stops the pod and deletes its mirror.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	poll(t, "the static pod gone with its manifest", 60*time.Second, func() bool {
		_, err := c.kubectl("get", "pod", name)
		return err != nil
	})
	poll(t, "the static pod's process gone", 30*time.Second, func() bool {
		matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, m := range matches {
			if b, err := os.ReadFile(m); err == nil && bytes.Contains(b, []byte(marker)) {
				return false
			}
		}
		return true
	})
}

// agentProcess is a `kedge agent` process.
type agentProcess struct {
	c    *cluster
	cmd  *exec.Cmd
	log  *os.File
	path string
}

// startSplit makes the node's credentials as `kedge up` would (a kubelet
// kubeconfig and serving certificate for this host's node name), then
// runs `kedge server` (c.cmd, so that destroy stops it) and `kedge agent`
// on the same data dir.
func (c *cluster) startSplit() *agentProcess {
	c.t.Helper()
	port, _ := strconv.Atoi(apiPort)
	peer, _ := strconv.Atoi(etcdPeer)
	s, err := server.New(server.Config{DataDir: c.dataDir, Port: port, EtcdPeerPort: peer})
	if err != nil {
		c.t.Fatal(err)
	}
	host, _ := os.Hostname()
	if err := s.Credentials(strings.ToLower(host), s.Config().AdvertiseAddress); err != nil {
		c.t.Fatal(err)
	}
	c.startCommand("server")

	a := &agentProcess{c: c, path: filepath.Join(c.dataDir, "agent.log")}
	a.start(c.t)
	// Registered after newCluster's destroy, so it runs first: the pods go
	// while the kubelet is there to stop them, then the agent.
	c.t.Cleanup(func() {
		if a.cmd != nil {
			c.kubectl("delete", "deployments,statefulsets,daemonsets,jobs,cronjobs,replicasets,pods",
				"--all", "--all-namespaces", "--wait=false")
			deadline := time.Now().Add(60 * time.Second)
			for time.Now().Before(deadline) {
				out, _ := c.kubectl("get", "pods", "-A", "-o", "name")
				if strings.TrimSpace(out) == "" {
					break
				}
				time.Sleep(time.Second)
			}
		}
		a.stop(c.t)
		if c.t.Failed() {
			if b, err := os.ReadFile(a.path); err == nil {
				lines := strings.Split(string(b), "\n")
				if len(lines) > 150 {
					lines = lines[len(lines)-150:]
				}
				c.t.Logf("last lines of agent.log:\n%s", strings.Join(lines, "\n"))
			}
		}
	})
	return a
}

func (a *agentProcess) start(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(a.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	a.log = log
	a.cmd = exec.Command(a.c.bin, "agent", "--data-dir", a.c.dataDir)
	a.cmd.Stdout, a.cmd.Stderr = log, log
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// stop sends SIGTERM and waits for the agent to exit.
func (a *agentProcess) stop(t *testing.T) {
	if a.cmd == nil {
		return
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Errorf("kedge agent did not exit within 30s of SIGTERM")
		syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	a.cmd = nil
	a.log.Close()
}

func testServiceAccountToken(t *testing.T, c *cluster, dir string) {
	const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	// The default kube-api-access-<random> volume is there and mounted.
	vols := jp(c, "pod", "token", "{.spec.volumes[*].name}")
	mount := jp(c, "pod", "token", `{.spec.containers[0].volumeMounts[?(@.mountPath=="`+saDir+`")].name}`)
	if !strings.HasPrefix(mount, "kube-api-access-") || !strings.Contains(vols, mount) {
		t.Errorf("pod token: volumes %q, mount at %s %q, want a kube-api-access-* volume", vols, saDir, mount)
	}
	token := mustKubectlT(t, c, "exec", "token", "--", "cat", saDir+"/token")
	caPEM := mustKubectlT(t, c, "exec", "token", "--", "cat", saDir+"/ca.crt")
	if ns := mustKubectlT(t, c, "exec", "token", "--", "cat", saDir+"/namespace"); ns != "default" {
		t.Errorf("%s/namespace: %q", saDir, ns)
	}
	audToken := mustKubectlT(t, c, "exec", "token", "--", "cat", "/var/run/secrets/tokens/token")

	claims := jwtClaims(t, token)
	if claims["sub"] != "system:serviceaccount:default:default" {
		t.Errorf("default token sub %v", claims["sub"])
	}
	if k, _ := claims["kubernetes.io"].(map[string]any); k == nil || fmt.Sprint(k["pod"]) == "" || !strings.Contains(fmt.Sprint(k["pod"]), "name:token") {
		t.Errorf("default token is not bound to pod token: kubernetes.io claim %v", claims["kubernetes.io"])
	}
	ac := jwtClaims(t, audToken)
	aud := fmt.Sprint(ac["aud"])
	iat, _ := ac["iat"].(float64)
	exp, _ := ac["exp"].(float64)
	if aud != "[kedge-e2e]" && aud != "kedge-e2e" || exp-iat != 3600 {
		t.Errorf("projected token: aud %s, lifetime %.0fs, want kedge-e2e and 3600s", aud, exp-iat)
	}

	// kubectl with nothing but the server, the CA the pod was given and
	// the pod's token: the API server knows who it is.
	if err := os.WriteFile(filepath.Join(dir, "pod-ca.crt"), []byte(caPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	saKubeconfig := func(name, tok string) string {
		path := filepath.Join(dir, name)
		cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kedge
  cluster: {server: "https://127.0.0.1:%s", certificate-authority: %q}
users:
- name: sa
  user: {token: %q}
contexts:
- name: sa
  context: {cluster: kedge, user: sa, namespace: default}
current-context: sa
`, apiPort, filepath.Join(dir, "pod-ca.crt"), tok)
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	sa := saKubeconfig("sa.kubeconfig", token)
	asSA := func(args ...string) (string, error) {
		out, err := exec.Command("kubectl", append([]string{"--kubeconfig", sa}, args...)...).CombinedOutput()
		return string(out), err
	}
	// kedge has no authorizer yet (every authenticated user is allowed):
	// the binding is what upstream needs for the reads below.
	mustKubectlT(t, c, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
	mustKubectlT(t, c, "create", "rolebinding", "default-pod-reader", "--role=pod-reader", "--serviceaccount=default:default")
	var out string
	poll(t, "kubectl get pods with the pod's token", 30*time.Second, func() bool {
		var err error
		out, err = asSA("get", "pod", "token", "--no-headers")
		return err == nil && strings.HasPrefix(out, "token ")
	})
	// A token for another audience, or a tampered one, is not one for the
	// API server.
	if out, err := asSA("--token", token[:len(token)-4]+"AAAA", "get", "pods"); err == nil || !strings.Contains(out, "Unauthorized") {
		t.Errorf("kubectl with a tampered token: %v %s, want Unauthorized", err, out)
	}
	b, err := exec.Command("kubectl", "--kubeconfig", saKubeconfig("aud.kubeconfig", audToken), "get", "pods").CombinedOutput()
	if out = string(b); err == nil || !strings.Contains(out, "Unauthorized") {
		t.Errorf("kubectl with the kedge-e2e audience token: %v %s, want Unauthorized", err, out)
	}

	// TokenReview: the default token for the API server, the projected one
	// for its audience.
	for _, tc := range []struct {
		name, token string
		audiences   []string
	}{{"default token", token, nil}, {"kedge-e2e token", audToken, []string{"kedge-e2e"}}} {
		tr, err := c.client.AuthenticationV1().TokenReviews().Create(ctx(t), &authv1.TokenReview{
			Spec: authv1.TokenReviewSpec{Token: tc.token, Audiences: tc.audiences}}, metav1.CreateOptions{})
		if err != nil {
			t.Errorf("TokenReview of the %s: %v", tc.name, err)
			continue
		}
		st := tr.Status
		if !st.Authenticated || st.User.Username != "system:serviceaccount:default:default" ||
			!contains(st.User.Groups, "system:serviceaccounts:default") || !contains(st.User.Groups, "system:authenticated") {
			t.Errorf("TokenReview of the %s: %+v", tc.name, st)
		}
		if tc.audiences != nil && fmt.Sprint(st.Audiences) != fmt.Sprint(tc.audiences) {
			t.Errorf("TokenReview of the %s: audiences %v", tc.name, st.Audiences)
		}
		t.Logf("TokenReview of the %s: authenticated=%v user=%s groups=%v", tc.name, st.Authenticated, st.User.Username, st.User.Groups)
	}
}

func testPullAlways(t *testing.T, c *cluster, dir string, reg *testRegistry) {
	image := reg.host + "/e2e/echo:v1"
	pod := func() string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: pulled}
spec:
  containers:
  - {name: c, image: %s, imagePullPolicy: Always}
`, image)
	}
	d1 := reg.push(t, image, filepath.Join(os.Getenv("KEDGE_IMAGES"), "echo-1.tar"))
	before := reg.manifestGets(image)
	start := time.Now()
	kubectlApply(t, c, dir, "pulled", pod())
	waitReady(t, c, "pulled")
	t.Logf("MEASURE pod with imagePullPolicy Always from the loopback registry: created → Ready in %.1fs", time.Since(start).Seconds())
	if id := jp(c, "pod", "pulled", "{.status.containerStatuses[0].imageID}"); id != reg.host+"/e2e/echo@"+d1 {
		t.Errorf("imageID %q, want %s/e2e/echo@%s", id, reg.host, d1)
	}
	if reg.manifestGets(image) == before {
		t.Errorf("the registry saw no manifest request for %s", image)
	}
	ev := waitEvents(t, c, "pulled", fmt.Sprintf("Pulling: Pulling image %q", image), fmt.Sprintf("Pulled: Successfully pulled image %q in ", image))
	t.Logf("events of pod pulled:\n%s", ev)
	poll(t, "echo 1's log line", 30*time.Second, func() bool {
		out, _ := c.kubectl("logs", "pulled")
		return strings.Contains(out, "echo 1 listening")
	})

	// Another image under the same tag: a new pod pulls it again.
	d2 := reg.push(t, image, filepath.Join(os.Getenv("KEDGE_IMAGES"), "echo-2.tar"))
	if d1 == d2 {
		t.Fatalf("echo-1 and echo-2 have the same digest %s", d1)
	}
	mustKubectlT(t, c, "delete", "pod", "pulled", "--grace-period=1")
	before = reg.manifestGets(image)
	start = time.Now()
	kubectlApply(t, c, dir, "pulled", pod())
	waitReady(t, c, "pulled")
	t.Logf("MEASURE re-created pod pulling the re-pushed tag: created → Ready in %.1fs", time.Since(start).Seconds())
	if id := jp(c, "pod", "pulled", "{.status.containerStatuses[0].imageID}"); id != reg.host+"/e2e/echo@"+d2 {
		t.Errorf("after the re-push imageID %q, want %s/e2e/echo@%s", id, reg.host, d2)
	}
	if reg.manifestGets(image) == before {
		t.Errorf("the registry saw no manifest request for %s from the re-created pod", image)
	}
	poll(t, "echo 2's log line", 30*time.Second, func() bool {
		out, _ := c.kubectl("logs", "pulled")
		return strings.Contains(out, "echo 2 listening")
	})
	t.Logf("imageIDs: %s then %s; pulls:\n%s", d1, d2, grepLines(waitEvents(t, c, "pulled"), "Pulled: "))
}

func testImagePullBackOff(t *testing.T, c *cluster, dir string, reg *testRegistry) {
	image := reg.host + "/e2e/missing:v1"
	w, err := c.client.CoreV1().Pods("default").Watch(ctx(t), metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "missing").String()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	kubectlApply(t, c, dir, "missing", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers:
  - {name: c, image: %s}
`, image))
	// The watch sees every waiting reason the pod goes through.
	var seen []string
	timeout := time.After(60 * time.Second)
	for !(contains(seen, "ErrImagePull") && contains(seen, "ImagePullBackOff")) {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch ended; waiting reasons seen %v", seen)
			}
			p, ok := ev.Object.(*v1.Pod)
			if !ok || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				continue
			}
			r := p.Status.ContainerStatuses[0].State.Waiting.Reason
			if len(seen) == 0 || seen[len(seen)-1] != r {
				seen = append(seen, r)
				t.Logf("MEASURE %.1fs after create: waiting reason %s (%s)", time.Since(start).Seconds(), r, p.Status.ContainerStatuses[0].State.Waiting.Message)
			}
		case <-timeout:
			t.Fatalf("waiting reasons seen in 60s: %v, want ErrImagePull then ImagePullBackOff", seen)
		}
	}
	if i, j := index(seen, "ErrImagePull"), index(seen, "ImagePullBackOff"); i > j {
		t.Errorf("waiting reasons %v: ImagePullBackOff before ErrImagePull", seen)
	}
	poll(t, "waiting reason ImagePullBackOff through kubectl", 30*time.Second, func() bool {
		return jp(c, "pod", "missing", "{.status.containerStatuses[0].state.waiting.reason}") == "ImagePullBackOff"
	})
	// Since Kubernetes 1.32 the back-off message carries the last error.
	if msg := jp(c, "pod", "missing", "{.status.containerStatuses[0].state.waiting.message}"); !strings.HasPrefix(msg, fmt.Sprintf("Back-off pulling image %q: ErrImagePull: ", image)) || !strings.Contains(msg, "not found") {
		t.Errorf("ImagePullBackOff message %q", msg)
	}
	ev := waitEvents(t, c, "missing",
		fmt.Sprintf("Failed: Failed to pull image %q: ", image),
		"Failed: Error: ErrImagePull",
		fmt.Sprintf("BackOff: Back-off pulling image %q", image),
		"Failed: Error: ImagePullBackOff")
	t.Logf("events of pod missing:\n%s", ev)
	for _, line := range strings.Split(ev, "\n") {
		if strings.HasPrefix(line, "Failed: Failed to pull image") && !strings.Contains(line, "not found") {
			t.Errorf("the Failed event does not carry the registry's answer (not found): %s", line)
		}
	}
	if out := mustKubectlT(t, c, "get", "pod", "missing", "--no-headers"); !strings.Contains(out, "ImagePullBackOff") && !strings.Contains(out, "ErrImagePull") {
		t.Errorf("kubectl get pod missing: %s", out)
	}
}

func testAgentRestart(t *testing.T, c *cluster, dir string, agent *agentProcess) {
	nonce := make([]byte, 6)
	rand.Read(nonce)
	marker := "steady-" + hex.EncodeToString(nonce)
	kubectlApply(t, c, dir, "steady", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: steady}
spec:
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done", %q]
`, marker))
	waitReady(t, c, "steady")
	const cs = "{.status.containerStatuses[0]"
	type snapshot struct{ containerID, restarts, startedAt, podIP, ready, readySince, statuses string }
	snap := func() snapshot {
		return snapshot{jp(c, "pod", "steady", cs+".containerID}"), jp(c, "pod", "steady", cs+".restartCount}"),
			jp(c, "pod", "steady", cs+".state.running.startedAt}"), jp(c, "pod", "steady", "{.status.podIP}"),
			jp(c, "pod", "steady", `{.status.conditions[?(@.type=="Ready")].status}`),
			jp(c, "pod", "steady", `{.status.conditions[?(@.type=="Ready")].lastTransitionTime}`),
			jp(c, "pod", "steady", "{.status.containerStatuses}")}
	}
	before := snap()
	proc := findProcess(t, marker)
	t.Logf("before: %+v, container process %s", before, proc)
	if before.containerID == "" || before.restarts != "0" || before.ready != "True" {
		t.Fatalf("steady pod before the restart: %+v", before)
	}

	stopped := time.Now()
	agent.stop(t)
	t.Logf("MEASURE agent stopped in %.1fs", time.Since(stopped).Seconds())
	if _, err := c.kubectl("exec", "steady", "--", "true"); err == nil {
		t.Errorf("kubectl exec worked with the agent stopped: is it stopped?")
	}
	if p := findProcess(t, marker); p != proc {
		t.Fatalf("container process with the agent down: %s, was %s", p, proc)
	}

	started := time.Now()
	agent.start(t)
	// The kubelet is back when it runs a new pod and serves exec again.
	kubectlApply(t, c, dir, "after", `apiVersion: v1
kind: Pod
metadata: {name: after}
spec:
  containers:
  - {name: c, image: localhost/busybox:1.36, command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}
`)
	waitReady(t, c, "after")
	t.Logf("MEASURE agent restarted → a new pod Ready in %.1fs", time.Since(started).Seconds())
	poll(t, "kubectl exec into the steady pod after the restart", 30*time.Second, func() bool {
		out, err := c.kubectl("exec", "steady", "--", "echo", "still-here")
		return err == nil && out == "still-here\n"
	})
	// A few status syncs later the pod's status is unchanged, down to the
	// Ready condition's lastTransitionTime. (No readiness probe here: with
	// one, upstream's kubelet too reports the pod unready until its first
	// probe after a restart, kubernetes#100277.)
	time.Sleep(3 * time.Second)
	waitReady(t, c, "steady")
	if after := snap(); after != before {
		t.Errorf("steady pod's status changed across the agent's restart:\nbefore %+v\nafter  %+v", before, after)
	}
	if p := findProcess(t, marker); p != proc {
		t.Errorf("container process after the restart: %s, was %s", p, proc)
	}
	if ev := mustKubectlT(t, c, "get", "events", "--field-selector", "involvedObject.name=steady", "-o",
		`go-template={{range .items}}{{.reason}}: {{.message}}{{"\n"}}{{end}}`); strings.Count(ev, "Started:") != 1 || strings.Contains(ev, "Killing") {
		t.Errorf("events of the steady pod across the restart:\n%s", ev)
	}
}

// findProcess returns "pid <n> started at <ticks>, child of shim <pid>"
// of the one process whose argv[0] is sh and whose last argument is marker.
func findProcess(t *testing.T, marker string) string {
	t.Helper()
	matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var found []string
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) < 2 || args[0] != "sh" || args[len(args)-1] != marker {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(m), "stat"))
		if err != nil {
			continue
		}
		// Fields count from after "(comm)": ppid is field 4, the start
		// time field 22.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		parent, _ := os.ReadFile("/proc/" + f[1] + "/cmdline")
		if !bytes.HasPrefix(parent, []byte("/usr/bin/containerd-shim-runc-v2\x00")) && !bytes.HasPrefix(parent, []byte("containerd-shim-runc-v2\x00")) {
			t.Errorf("the parent of container process %s is %q, not a containerd shim", filepath.Base(filepath.Dir(m)), parent)
		}
		found = append(found, fmt.Sprintf("pid %s started at %s, child of shim %s", filepath.Base(filepath.Dir(m)), f[19], f[1]))
	}
	if len(found) != 1 {
		t.Fatalf("processes with marker %s: %v, want one", marker, found)
	}
	return found[0]
}

// testRegistry is go-containerregistry's registry on 127.0.0.1.
type testRegistry struct {
	host string
	mu   sync.Mutex
	reqs []string
}

func startRegistry(t *testing.T) *testRegistry {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &testRegistry{host: ln.Addr().String()}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

// push writes the image of a docker archive under ref (host/repo:tag)
// with the distribution API's monolithic uploads, and returns its digest.
func (r *testRegistry) push(t *testing.T, ref, archive string) string {
	t.Helper()
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo, tag, _ := strings.Cut(strings.TrimPrefix(ref, r.host+"/"), ":")
	digest, err := registrytest.Push("http://"+r.host, repo, tag, img, nil)
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

// manifestGets counts the manifest requests (GET or HEAD) for ref's tag.
func (r *testRegistry) manifestGets(ref string) int {
	repoTag := strings.TrimPrefix(ref, r.host+"/")
	repo, tag, _ := strings.Cut(repoTag, ":")
	path := "/v2/" + repo + "/manifests/" + tag
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if strings.HasSuffix(q, " "+path) {
			n++
		}
	}
	return n
}

// Helpers that fail the subtest they are given (cluster's own helpers
// fail the parent test, which a subtest must not do).

func mustKubectlT(t *testing.T, c *cluster, args ...string) string {
	t.Helper()
	out, err := c.kubectl(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func kubectlApply(t *testing.T, c *cluster, dir, name, manifest string) {
	t.Helper()
	file := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	mustKubectlT(t, c, "apply", "-f", file)
}

// jp is kubectl get <kind> <name> -o jsonpath=<path>, trimmed.
func jp(c *cluster, kind, name, path string) string {
	out, _ := c.kubectl("get", kind, name, "-o", "jsonpath="+path)
	return strings.TrimSpace(out)
}

func poll(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitReady(t *testing.T, c *cluster, pod string) {
	t.Helper()
	mustKubectlT(t, c, "wait", "--for=condition=Ready", "pod/"+pod, "--timeout=60s")
}

// waitEvents waits for events of a pod ("<reason>: <message>" lines)
// starting with each of want, and returns them all.
func waitEvents(t *testing.T, c *cluster, pod string, want ...string) string {
	t.Helper()
	var ev string
	poll(t, fmt.Sprintf("events %q of pod %s", want, pod), 60*time.Second, func() bool {
		ev, _ = c.kubectl("get", "events", "--field-selector", "involvedObject.name="+pod,
			"-o", `go-template={{range .items}}{{.reason}}: {{.message}}{{"\n"}}{{end}}`)
		for _, w := range want {
			if !strings.Contains("\n"+ev, "\n"+w) {
				return false
			}
		}
		return true
	})
	return ev
}

// jwtClaims decodes a JWT's payload (the API server checks signatures).
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return claims
}

// grepLines returns the lines of text that start with prefix.
func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func contains(list []string, s string) bool { return index(list, s) >= 0 }

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
