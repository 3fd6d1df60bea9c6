package kubelet

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/kedge-dev/kedge/internal/images/registrytest"
	"github.com/kedge-dev/kedge/internal/kubelet/cri/critest"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// listenInNetNS opens a TCP listener inside the network namespace at
// nsPath (a socket stays in the namespace it was created in).
func listenInNetNS(t *testing.T, nsPath, addr string) net.Listener {
	t.Helper()
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread ends with the goroutine (never unlocked), so its
		// namespace change does not leak to other goroutines.
		runtime.LockOSThread()
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		l, err := net.Listen("tcp", addr)
		ch <- result{l, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen in %s: %v", nsPath, r.err)
	}
	return r.l
}

// privateAuth asks for basic auth bob:pw on repositories under private/.
func privateAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/private/") {
			if u, p, ok := r.BasicAuth(); !ok || u != "bob" || p != "pw" {
				w.Header().Set("WWW-Authenticate", `Basic realm="kedge-test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// TestKubeletPullsFromRegistry runs a registry on the node's loopback and
// has the kubelet pull from it: plain HTTP with policy Always, through a
// registries.yaml mirror, with an image pull secret, and a missing image
// that goes ErrImagePull then ImagePullBackOff.
func TestKubeletPullsFromRegistry(t *testing.T) {
	env := critest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// One registry, reachable from the test (host loopback, for pushes)
	// and from containerd (the node namespace's loopback, for pulls).
	handler := privateAuth(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	hostL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nodeL := listenInNetNS(t, env.NetNS, "127.0.0.1:0")
	for _, l := range []net.Listener{hostL, nodeL} {
		srv := &http.Server{Handler: handler}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
	pushAddr, nodeAddr := hostL.Addr().String(), nodeL.Addr().String()
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	if err := critest.WriteBusyboxImage(tarPath, "localhost/pushed:v1", []string{"/bin/sleep", "3600"}); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"test/busybox:v1", "private/busybox:v1"} {
		if err := pushImage("http://"+pushAddr, repo, img); err != nil {
			t.Fatalf("push %s: %v", repo, err)
		}
	}

	registries := fmt.Sprintf("mirrors:\n  registry.kedge.test:\n    endpoint: [\"http://%s\"]\n", nodeAddr)
	if err := os.WriteFile(filepath.Join(env.DataDir, "registries.yaml"), []byte(registries), 0o644); err != nil {
		t.Fatal(err)
	}

	client := statusSubresourceClient()
	node := "ki-" + strings.TrimPrefix(filepath.Base(env.DataDir), "kedge-critest-")
	cfg := Config{
		NodeName:        node,
		NodeIP:          "192.0.2.3",
		DataDir:         env.DataDir,
		RunDir:          env.RunDir,
		RuntimeEndpoint: env.Containerd.Address(),
		Client:          client,
		PodLogsDir:      filepath.Join(env.DataDir, "logs"),
		Port:            -1,
		NoGuard:         true,
	}
	t.Cleanup(func() { removeCgroupTree("/kedge/" + node) })
	startKubelet(t, cfg)
	readyTestNode(t, ctx, client, node, "10.88.19.0/24")

	secret := &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "default"},
		Type: v1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{v1.DockerConfigJsonKey: []byte(`{"auths":{"` + nodeAddr + `":{"username":"bob","password":"pw"}}}`)}}
	if _, err := client.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mkPod := func(podName, image string, policy v1.PullPolicy, secrets ...string) {
		p := &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: "default", UID: types.UID("uid-" + podName)},
			Spec: v1.PodSpec{NodeName: node, RestartPolicy: v1.RestartPolicyAlways,
				Containers: []v1.Container{{Name: "c", Image: image, ImagePullPolicy: policy}}},
		}
		for _, s := range secrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, v1.LocalObjectReference{Name: s})
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// ErrImagePull shows only until the next sync (ImagePullBackOff):
	// record every waiting state of pod "missing" rather than poll.
	w, err := client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	waiting := make(chan v1.ContainerStateWaiting, 100)
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*v1.Pod)
			if !ok || p.Name != "missing" || len(p.Status.ContainerStatuses) == 0 {
				continue
			}
			if st := p.Status.ContainerStatuses[0].State.Waiting; st != nil {
				select {
				case waiting <- *st:
				default:
				}
			}
		}
	}()
	nextWaiting := func(reason string) v1.ContainerStateWaiting {
		t.Helper()
		for {
			select {
			case st := <-waiting:
				if st.Reason == reason {
					return st
				}
			case <-ctx.Done():
				t.Fatalf("pod missing never waited with reason %s", reason)
			}
		}
	}
	direct := nodeAddr + "/test/busybox:v1"
	missing := nodeAddr + "/test/nope:v1"
	mkPod("direct", direct, v1.PullAlways)
	mkPod("mirror", "registry.kedge.test/test/busybox:v1", v1.PullIfNotPresent)
	mkPod("private", nodeAddr+"/private/busybox:v1", v1.PullIfNotPresent, "regcred")
	mkPod("missing", missing, v1.PullIfNotPresent)

	start := time.Now()
	for _, p := range []string{"direct", "mirror", "private"} {
		waitPod(t, ctx, client, p, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning && podReady(p) })
		t.Logf("pod %s running after %v", p, time.Since(start))
	}
	if st := nextWaiting("ErrImagePull"); !strings.Contains(st.Message, "not found") {
		t.Errorf("ErrImagePull message: %q", st.Message)
	}
	t.Logf("pod missing in ErrImagePull after %v", time.Since(start))
	st := nextWaiting("ImagePullBackOff")
	t.Logf("pod missing in ImagePullBackOff after %v: %s", time.Since(start), st.Message)
	wantPrefix := fmt.Sprintf("Back-off pulling image %q: ErrImagePull: ", missing)
	if !strings.HasPrefix(st.Message, wantPrefix) {
		t.Errorf("ImagePullBackOff message: %q", st.Message)
	}

	events := podEvents(t, ctx, client)
	for _, want := range []string{
		fmt.Sprintf("direct Normal Pulling Pulling image %q", direct),
		fmt.Sprintf("direct Normal Pulled Successfully pulled image %q in ", direct),
		fmt.Sprintf("missing Warning Failed Failed to pull image %q: ", missing),
		"missing Warning Failed Error: ErrImagePull",
		fmt.Sprintf("missing Normal BackOff Back-off pulling image %q", missing),
		"missing Warning Failed Error: ImagePullBackOff",
	} {
		found := false
		for _, e := range events {
			found = found || strings.HasPrefix(e, want)
		}
		if !found {
			t.Errorf("no event %q in\n%s", want, strings.Join(events, "\n"))
		}
	}

	// The node reports the pulled images.
	defer func() { t.Logf("node reports the pulled image after %v", time.Since(start)) }()
	waitNode(t, ctx, client, node, func(n *v1.Node) bool {
		for _, img := range n.Status.Images {
			for _, nm := range img.Names {
				if nm == direct && img.SizeBytes > 0 {
					return true
				}
			}
		}
		return false
	})
}

// pushImage uploads img as repo ("name:tag") as the registry's user bob.
func pushImage(base, repo string, img ggcrv1.Image) error {
	name, tag, _ := strings.Cut(repo, ":")
	_, err := registrytest.Push(base, name, tag, img, func(r *http.Request) { r.SetBasicAuth("bob", "pw") })
	return err
}

func podEvents(t *testing.T, ctx context.Context, c *fake.Clientset) []string {
	t.Helper()
	list, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		out = append(out, e.InvolvedObject.Name+" "+e.Type+" "+e.Reason+" "+e.Message)
	}
	return out
}
