package kubelet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kedge-dev/kedge/internal/kubelet/cri/critest"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"
)

// TestStaticPods runs a static pod from a manifest file with a real
// containerd: it runs, its mirror pod shows its status; a deleted mirror
// pod comes back without the pod restarting; a restarted kubelet adopts
// it; removing the file stops it and deletes the mirror.
func TestStaticPods(t *testing.T) {
	env := critest.Start(t)
	client := statusSubresourceClient()
	assignUIDs(client)
	node := "ks-" + strings.TrimPrefix(filepath.Base(env.DataDir), "kedge-critest-")
	manifests := filepath.Join(env.DataDir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		NodeName: node, NodeIP: "192.0.2.2", DataDir: env.DataDir, RunDir: env.RunDir,
		RuntimeEndpoint: env.Containerd.Address(), Client: client, NoGuard: true,
		PodLogsDir: filepath.Join(env.DataDir, "logs"), StaticPodPath: manifests,
	}
	t.Cleanup(func() { removeCgroupTree("/kedge/" + node) })
	stop := startKubelet(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	n := readyTestNode(t, ctx, client, node, "10.88.11.0/24")

	manifest := `apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels: {app: static-web}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["/bin/sleep", "3600"]
`
	file := filepath.Join(manifests, "web.yaml")
	if err := os.WriteFile(filepath.Join(manifests, ".ignored.yaml"), []byte("not a pod"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	static, err := parseStaticPod([]byte(manifest), node, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	name := "static-web-" + node

	// The static pod runs; its mirror pod shows it.
	m := waitPod(t, ctx, client, name, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning && podReady(p) })
	if m.UID == static.UID || m.UID == "" {
		t.Errorf("mirror pod UID %q: want the API's own, not the static pod's", m.UID)
	}
	for k, want := range map[string]string{
		"kubernetes.io/config.source": "file",
		"kubernetes.io/config.hash":   string(static.UID),
		"kubernetes.io/config.mirror": string(static.UID),
	} {
		if m.Annotations[k] != want {
			t.Errorf("mirror annotation %s=%q, want %q", k, m.Annotations[k], want)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, m.Annotations["kubernetes.io/config.seen"]); err != nil {
		t.Errorf("config.seen: %v", err)
	}
	if o := m.OwnerReferences; len(o) != 1 || o[0].Kind != "Node" || o[0].Name != node || o[0].UID != n.UID ||
		o[0].Controller == nil || !*o[0].Controller {
		t.Errorf("mirror owner references %+v", o)
	}
	if m.Spec.NodeName != node || m.Labels["app"] != "static-web" {
		t.Errorf("mirror spec.nodeName %q labels %v", m.Spec.NodeName, m.Labels)
	}
	if n := len(listSandboxes(t, ctx, env, string(static.UID))); n != 1 {
		t.Errorf("%d sandboxes labelled with the static pod's UID, want 1", n)
	}
	containerID := m.Status.ContainerStatuses[0].ContainerID

	// kubectl delete of the mirror pod: the kubelet deletes it for good
	// and creates a new one; the static pod keeps running.
	m.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	m.DeletionGracePeriodSeconds = ptr(int64(2))
	if _, err := client.CoreV1().Pods("default").Update(ctx, m, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	oldUID := m.UID
	m = waitPod(t, ctx, client, name, func(p *v1.Pod) bool { return p.UID != oldUID && podReady(p) })
	// Force deletion (the object goes at once): created again too.
	if err := client.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	oldUID = m.UID
	m = waitPod(t, ctx, client, name, func(p *v1.Pod) bool { return p.UID != oldUID && podReady(p) })
	if cs := m.Status.ContainerStatuses[0]; cs.ContainerID != containerID || cs.RestartCount != 0 {
		t.Errorf("after mirror deletions: container %s restarts %d, want %s and 0", cs.ContainerID, cs.RestartCount, containerID)
	}

	// A restarted kubelet adopts the static pod.
	stop()
	stop = startKubelet(t, cfg)
	time.Sleep(3 * time.Second) // relists and syncs that would (wrongly) restart it
	if n := len(listSandboxes(t, ctx, env, string(static.UID))); n != 1 {
		t.Errorf("after restart: %d sandboxes, want 1", n)
	}
	m = waitPod(t, ctx, client, name, func(p *v1.Pod) bool { return podReady(p) })
	if cs := m.Status.ContainerStatuses[0]; cs.ContainerID != containerID || cs.RestartCount != 0 {
		t.Errorf("after restart: container %s restarts %d, want %s and 0", cs.ContainerID, cs.RestartCount, containerID)
	}

	// A changed manifest replaces the pod (new UID) and its mirror.
	changed := strings.Replace(manifest, `"3600"`, `"3601"`, 1)
	if err := os.WriteFile(file, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	old := static
	if static, err = parseStaticPod([]byte(changed), node, time.Now()); err != nil {
		t.Fatal(err)
	}
	m = waitPod(t, ctx, client, name, func(p *v1.Pod) bool {
		return p.Annotations["kubernetes.io/config.mirror"] == string(static.UID) && podReady(p)
	})
	if cs := m.Status.ContainerStatuses[0]; cs.ContainerID == containerID {
		t.Errorf("changed manifest: the old container %s still reported", cs.ContainerID)
	}
	if n := len(listSandboxes(t, ctx, env, string(old.UID))); n != 0 {
		t.Errorf("changed manifest: %d sandboxes of the old pod left", n)
	}

	// Removing the file stops the pod and deletes its mirror.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "static pod torn down", func() bool { return len(listSandboxes(t, ctx, env, string(static.UID))) == 0 })
	waitFor(t, ctx, "mirror pod deleted", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	stop()
}

// assignUIDs makes the fake API give new objects a UID, as the API server
// does.
func assignUIDs(client *fake.Clientset) {
	client.PrependReactor("create", "*", func(action ktesting.Action) (bool, runtime.Object, error) {
		if obj, ok := action.(ktesting.CreateAction).GetObject().(metav1.Object); ok && obj.GetUID() == "" {
			obj.SetUID(uuid.NewUUID())
		}
		return false, nil, nil
	})
}
