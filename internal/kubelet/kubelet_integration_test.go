package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kedge-dev/kedge/internal/kubelet/cri"
	"github.com/kedge-dev/kedge/internal/kubelet/cri/critest"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestKubeletRunsPods drives a real kubelet against a fake API and a real
// containerd (in its own network namespace): node registration and
// readiness, a pod started and reported, a container killed from the host
// and restarted, adoption after a kubelet restart, graceful deletion and
// orphan teardown.
func TestKubeletRunsPods(t *testing.T) {
	env := critest.Start(t)
	client := statusSubresourceClient()
	node := "kt-" + strings.TrimPrefix(filepath.Base(env.DataDir), "kedge-critest-")
	cfg := Config{
		NodeName:        node,
		NodeIP:          "192.0.2.2",
		DataDir:         env.DataDir,
		RunDir:          env.RunDir,
		RuntimeEndpoint: env.Containerd.Address(),
		Client:          client,
		NodeLabels:      map[string]string{"node-role.kubernetes.io/control-plane": ""},
		PodLogsDir:      filepath.Join(env.DataDir, "logs"),
		NoGuard:         true, // the host's routes are not the test's to change
	}
	t.Cleanup(func() { removeCgroupTree("/kedge/" + node) })

	baseGoroutines := goruntime.NumGoroutine()
	stop := startKubelet(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Registration, then readiness once node IPAM assigns the pod CIDR.
	n := waitNode(t, ctx, client, node, func(n *v1.Node) bool { return n != nil })
	if n.Labels["node-role.kubernetes.io/control-plane"] != "" || n.Labels[v1.LabelHostname] != node {
		t.Errorf("node labels: %v", n.Labels)
	}
	n.Spec.PodCIDR = "10.88.9.0/24"
	n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	if _, err := client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n = waitNode(t, ctx, client, node, func(n *v1.Node) bool { return nodeReady(n) })
	if !strings.HasPrefix(n.Status.NodeInfo.ContainerRuntimeVersion, "containerd://") || n.Status.NodeInfo.KubeletVersion == "" {
		t.Errorf("nodeInfo: %+v", n.Status.NodeInfo)
	}
	if _, err := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, node, metav1.GetOptions{}); err != nil {
		t.Errorf("node lease: %v", err)
	}

	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-web-1"},
		Spec: v1.PodSpec{
			NodeName:      node,
			RestartPolicy: v1.RestartPolicyAlways,
			Containers: []v1.Container{{
				Name:    "c",
				Image:   "localhost/busybox:1.36",
				Command: []string{"/bin/sh", "-c", "echo pod $(POD_NAME) on $MY_NODE; exec sleep 3600"},
				Env: []v1.EnvVar{
					{Name: "POD_NAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "MY_NODE", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				},
				TerminationMessagePath: "/dev/termination-log",
			}},
		},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitPod(t, ctx, client, "web", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning && podReady(p) })
	ip, err := netip.ParseAddr(p.Status.PodIP)
	if err != nil || !netip.MustParsePrefix("10.88.9.0/24").Contains(ip) {
		t.Errorf("pod IP %q not in the node's pod CIDR", p.Status.PodIP)
	}
	cs := p.Status.ContainerStatuses[0]
	if !strings.HasPrefix(cs.ContainerID, "containerd://") || cs.RestartCount != 0 || cs.Started == nil || !*cs.Started {
		t.Errorf("container status: %+v", cs)
	}
	if p.Status.HostIP != "192.0.2.2" || p.Status.QOSClass != v1.PodQOSBestEffort || p.Status.StartTime == nil {
		t.Errorf("pod status: hostIP=%s qos=%s start=%v", p.Status.HostIP, p.Status.QOSClass, p.Status.StartTime)
	}
	logFile := filepath.Join(cfg.PodLogsDir, "default_web_uid-web-1", "c", "0.log")
	waitFor(t, ctx, "container log", func() bool {
		data, _ := os.ReadFile(logFile)
		return strings.Contains(string(data), "pod web on "+node)
	})
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory/kedge", node, "kubepods/besteffort/poduid-web-1")); err != nil {
		t.Errorf("pod cgroup: %v", err)
	}

	// kill -9 of the container's process: restarted at once, RESTARTS 1.
	pid := containerPID(t, ctx, env, strings.TrimPrefix(cs.ContainerID, "containerd://"))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p = waitPod(t, ctx, client, "web", func(p *v1.Pod) bool {
		s := p.Status.ContainerStatuses[0]
		return s.RestartCount == 1 && s.State.Running != nil
	})
	last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 137 || last.Reason != "Error" {
		t.Errorf("lastState after kill: %+v", last)
	}

	// A restarted kubelet adopts the running pod instead of duplicating it.
	stop()
	stop = startKubelet(t, cfg)
	// Nothing observable says "adopted"; give it a few relists and syncs
	// to (wrongly) start a second sandbox.
	time.Sleep(3 * time.Second)
	sandboxes := listSandboxes(t, ctx, env, "uid-web-1")
	if len(sandboxes) != 1 {
		t.Errorf("after restart: %d sandboxes for the pod, want 1", len(sandboxes))
	}
	p = waitPod(t, ctx, client, "web", func(p *v1.Pod) bool { return podReady(p) })
	if rc := p.Status.ContainerStatuses[0].RestartCount; rc != 1 {
		t.Errorf("after restart: restartCount %d, want 1", rc)
	}

	// Graceful deletion: the kubelet stops the pod and deletes the object.
	p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	p.DeletionGracePeriodSeconds = ptr(int64(1))
	if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "pod object deleted", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if n := len(listSandboxes(t, ctx, env, "uid-web-1")); n != 0 {
		t.Errorf("after deletion: %d sandboxes left", n)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory/kedge", node, "kubepods/besteffort/poduid-web-1")); !os.IsNotExist(err) {
		t.Errorf("pod cgroup left after deletion: %v", err)
	}

	// Run-to-completion pods reach their terminal phase.
	for _, tc := range []struct {
		name   string
		policy v1.RestartPolicy
		script string
		phase  v1.PodPhase
		reason string
	}{
		{"done", v1.RestartPolicyOnFailure, "echo bye > /dev/termination-log; exit 0", v1.PodSucceeded, "Completed"},
		{"fail", v1.RestartPolicyNever, "exit 3", v1.PodFailed, "Error"},
	} {
		job := &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "default", UID: types.UID("uid-" + tc.name)},
			Spec: v1.PodSpec{NodeName: node, RestartPolicy: tc.policy, Containers: []v1.Container{{
				Name: "c", Image: "localhost/busybox:1.36", Command: []string{"/bin/sh", "-c", tc.script},
				TerminationMessagePath: "/dev/termination-log",
			}}},
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitPod(t, ctx, client, tc.name, func(p *v1.Pod) bool { return p.Status.Phase == tc.phase })
		term := p.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.Reason != tc.reason {
			t.Errorf("%s: terminated state %+v, want reason %s", tc.name, term, tc.reason)
		}
		if tc.name == "done" && (term == nil || term.Message != "bye\n") {
			t.Errorf("termination message: %+v", term)
		}
	}

	// A container that keeps failing: restarted at once, then back-off.
	crash := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crash", Namespace: "default", UID: "uid-crash"},
		Spec: v1.PodSpec{NodeName: node, RestartPolicy: v1.RestartPolicyAlways, Containers: []v1.Container{{
			Name: "c", Image: "localhost/busybox:1.36", Command: []string{"/bin/sh", "-c", "exit 1"},
		}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, crash, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = waitPod(t, ctx, client, "crash", func(p *v1.Pod) bool {
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff"
	})
	cs = p.Status.ContainerStatuses[0]
	wantMsg := "back-off 10s restarting failed container=c pod=crash_default(uid-crash)"
	if cs.RestartCount != 1 || cs.State.Waiting.Message != wantMsg || cs.LastTerminationState.Terminated == nil {
		t.Errorf("crash loop status: restarts %d, waiting %+v, last %+v", cs.RestartCount, cs.State.Waiting, cs.LastTerminationState)
	}
	if err := client.CoreV1().Pods("default").Delete(ctx, "crash", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// A pod whose object vanishes (force deletion) is torn down.
	if err := client.CoreV1().Pods("default").Delete(ctx, "done", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "orphan teardown", func() bool { return len(listSandboxes(t, ctx, env, "uid-done")) == 0 })

	// Events as upstream words them.
	events, _ := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	seen := map[string]bool{}
	for _, e := range events.Items {
		seen[e.Reason+": "+e.Message] = true
	}
	for _, want := range []string{
		`Pulled: Container image "localhost/busybox:1.36" already present on machine and can be accessed by the pod`,
		"Created: Container created",
		"Started: Container started",
		"Killing: Stopping container c",
		"BackOff: Back-off restarting failed container c in pod crash_default(uid-crash)",
	} {
		if !seen[want] {
			t.Errorf("no event %q; have %v", want, seen)
		}
	}
	stop()

	// Everything the kubelet started has ended.
	waitFor(t, ctx, "kubelet goroutines to end", func() bool { return goruntime.NumGoroutine() <= baseGoroutines+2 })
}

// statusSubresourceClient is a fake clientset whose status updates change
// only the status, as a real API server's do (the plain fake replaces the
// whole object, losing concurrent spec and metadata changes).
func statusSubresourceClient() *fake.Clientset {
	client := fake.NewClientset()
	client.PrependReactor("update", "*", func(action ktesting.Action) (bool, runtime.Object, error) {
		ua, ok := action.(ktesting.UpdateAction)
		if !ok || ua.GetSubresource() != "status" {
			return false, nil, nil
		}
		gvr, ns := ua.GetResource(), ua.GetNamespace()
		obj := ua.GetObject().(metav1.Object)
		cur, err := client.Tracker().Get(gvr, ns, obj.GetName())
		if err != nil {
			return true, nil, err
		}
		switch c := cur.(type) {
		case *v1.Pod:
			c = c.DeepCopy()
			c.Status = ua.GetObject().(*v1.Pod).Status
			cur = c
		case *v1.Node:
			c = c.DeepCopy()
			c.Status = ua.GetObject().(*v1.Node).Status
			cur = c
		default:
			return false, nil, nil
		}
		return true, cur, client.Tracker().Update(gvr, cur, ns)
	})
	return client
}

func startKubelet(t *testing.T, cfg Config) (stop func()) {
	t.Helper()
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kubelet Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("kubelet did not stop within 30 s")
		}
	}
	t.Cleanup(stop)
	return stop
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

func waitNode(t *testing.T, ctx context.Context, c *fake.Clientset, name string, ok func(*v1.Node) bool) *v1.Node {
	t.Helper()
	var n *v1.Node
	waitFor(t, ctx, "node "+name, func() bool {
		got, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		n = got
		return ok(n)
	})
	return n
}

// readyTestNode waits for the kubelet to register node, gives it a pod
// CIDR (as node IPAM would) and waits until it is Ready.
func readyTestNode(t *testing.T, ctx context.Context, c *fake.Clientset, node, podCIDR string) *v1.Node {
	t.Helper()
	n := waitNode(t, ctx, c, node, func(n *v1.Node) bool { return n != nil })
	n.Spec.PodCIDR = podCIDR
	n.Spec.PodCIDRs = []string{podCIDR}
	if _, err := c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return waitNode(t, ctx, c, node, nodeReady)
}

func waitPod(t *testing.T, ctx context.Context, c *fake.Clientset, name string, ok func(*v1.Pod) bool) *v1.Pod {
	t.Helper()
	var p *v1.Pod
	waitFor(t, ctx, "pod "+name, func() bool {
		got, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(got.Status.ContainerStatuses) == 0 {
			return false
		}
		p = got
		return ok(p)
	})
	return p
}

func nodeReady(n *v1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

func podReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

func listSandboxes(t *testing.T, ctx context.Context, env *critest.Env, uid string) []*runtimeapi.PodSandbox {
	t.Helper()
	resp, err := env.Client.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{labelPodUID: uid}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Items
}

func containerPID(t *testing.T, ctx context.Context, env *critest.Env, id string) int {
	t.Helper()
	resp, err := env.Client.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Pid int }
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("container pid: %v (%s)", err, resp.Info["info"])
	}
	return info.Pid
}

func removeCgroupTree(root string) {
	mounts, _ := cgroupMounts("/proc/self/mountinfo")
	for _, m := range mounts {
		dir := filepath.Join(m, root)
		var dirs []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
		os.Remove(filepath.Dir(dir)) // /kedge, if empty
	}
}

// TestKubeletStartsOwnContainerd runs the kubelet without an endpoint: it
// starts containerd from its generated config and stops it when its
// context ends; the pod (host network, so the host's network is left
// alone) keeps running meanwhile and is adopted by the next kubelet.
func TestKubeletStartsOwnContainerd(t *testing.T) {
	critest.Skip(t)
	dataDir, err := os.MkdirTemp("", "kedge-kubelet-")
	if err != nil {
		t.Fatal(err)
	}
	imagesDir := filepath.Join(dataDir, "images")
	os.MkdirAll(imagesDir, 0o755)
	if err := critest.WriteBusyboxImage(filepath.Join(imagesDir, "pause.tar"), "localhost/pause:3.10", []string{"/bin/sleep", "2147483647"}); err != nil {
		t.Fatal(err)
	}
	if err := critest.WriteBusyboxImage(filepath.Join(imagesDir, "busybox.tar"), "localhost/busybox:1.36", []string{"/bin/sh"}); err != nil {
		t.Fatal(err)
	}
	client := statusSubresourceClient()
	node := "own-" + strings.TrimPrefix(filepath.Base(dataDir), "kedge-kubelet-")
	cfg := Config{NodeName: node, NodeIP: "192.0.2.2", DataDir: dataDir, Client: client, NoGuard: true,
		PodLogsDir: filepath.Join(dataDir, "logs")}
	runDir := ""
	t.Cleanup(func() {
		// Whatever is left (on failure): stop it through a fresh containerd.
		if runDir != "" {
			e := cri.NewContainerd(critest.ContainerdConfig(dataDir, runDir, ""))
			cctx, cancel := context.WithCancel(context.Background())
			if e.Start(cctx) == nil {
				if c, err := cri.Dial(e.Address()); err == nil {
					critest.RemoveAllPods(c)
					c.Close()
				}
			}
			cancel()
			<-e.Stopped()
		}
		critest.UnmountUnder(dataDir)
		removeCgroupTree("/kedge/" + node)
		os.RemoveAll(runDir)
		os.RemoveAll(dataDir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	run := func() (stop func(), k *Kubelet) {
		k, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		runDir = k.cfg.RunDir
		runCtx, cancelRun := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- k.Run(runCtx) }()
		return func() {
			cancelRun()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}, k
	}
	stop, k := run()
	n := waitNode(t, ctx, client, node, func(n *v1.Node) bool {
		return strings.HasPrefix(n.Status.NodeInfo.ContainerRuntimeVersion, "containerd://")
	})
	if nodeReady(n) {
		t.Errorf("node ready without a pod network")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "etc/containerd/config.toml")); err != nil {
		t.Errorf("config: %v", err)
	}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hostnet", Namespace: "default", UID: "uid-hostnet"},
		Spec: v1.PodSpec{NodeName: node, HostNetwork: true, RestartPolicy: v1.RestartPolicyAlways, Containers: []v1.Container{{
			Name: "c", Image: "localhost/busybox:1.36", Command: []string{"/bin/sleep", "3600"},
		}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitPod(t, ctx, client, "hostnet", func(p *v1.Pod) bool { return podReady(p) })
	if p.Status.PodIP != "192.0.2.2" {
		t.Errorf("host network pod IP %q, want the node IP", p.Status.PodIP)
	}
	containerID := p.Status.ContainerStatuses[0].ContainerID
	rc, err := cri.Dial(k.containerdConfig().Address)
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Pid int }
	st, err := rc.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: strings.TrimPrefix(containerID, "containerd://"), Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(st.Info["info"]), &info)
	rc.Close()
	pidData, err := os.ReadFile(filepath.Join(k.cfg.RunDir, "containerd", "kedge-containerd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var containerdPID int
	fmt.Sscanf(string(pidData), "%d", &containerdPID)

	stop()
	if err := syscall.Kill(containerdPID, 0); err == nil {
		t.Errorf("containerd (pid %d) still runs after the kubelet stopped", containerdPID)
	}
	if info.Pid == 0 || syscall.Kill(info.Pid, 0) != nil {
		t.Fatalf("the pod's process (pid %d) died with the kubelet", info.Pid)
	}

	// The next kubelet (and containerd) adopts the pod.
	stop, _ = run()
	time.Sleep(3 * time.Second) // give it relists and syncs to (wrongly) restart the pod
	p = waitPod(t, ctx, client, "hostnet", func(p *v1.Pod) bool { return podReady(p) })
	if got := p.Status.ContainerStatuses[0]; got.ContainerID != containerID || got.RestartCount != 0 {
		t.Errorf("after restart: container %s restarts %d, want %s and 0", got.ContainerID, got.RestartCount, containerID)
	}
	p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	p.DeletionGracePeriodSeconds = ptr(int64(1))
	if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "pod object deleted", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, "hostnet", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	stop()
	if syscall.Kill(info.Pid, 0) == nil {
		t.Errorf("the pod's process survived its deletion")
	}
}
