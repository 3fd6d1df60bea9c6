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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestKubeletProbesAndHooks runs probes and lifecycle hooks against a real
// containerd. Only exec handlers are used: the pods live in the test
// runtime's network namespace, which this process cannot reach (HTTP, TCP
// and gRPC handlers are tested against local servers in package prober).
func TestKubeletProbesAndHooks(t *testing.T) {
	env := critest.Start(t)
	client := statusSubresourceClient()
	node := "kp-" + strings.TrimPrefix(filepath.Base(env.DataDir), "kedge-critest-")
	cfg := Config{
		NodeName: node, NodeIP: "192.0.2.2", DataDir: env.DataDir, RunDir: env.RunDir,
		RuntimeEndpoint: env.Containerd.Address(), Client: client,
		PodLogsDir: filepath.Join(env.DataDir, "logs"), NoGuard: true,
	}
	t.Cleanup(func() { removeCgroupTree("/kedge/" + node) })
	stop := startKubelet(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	readyTestNode(t, ctx, client, node, "10.88.11.0/24")

	execProbe := func(period, failure int32, cmd ...string) *v1.Probe {
		return &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: cmd}},
			PeriodSeconds: period, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: failure}
	}
	create := func(name string, policy v1.RestartPolicy, c v1.Container, vols ...v1.Volume) {
		t.Helper()
		c.Name, c.Image = "c", "localhost/busybox:1.36"
		pod := &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
			Spec: v1.PodSpec{NodeName: node, RestartPolicy: policy, Containers: []v1.Container{c}, Volumes: vols,
				TerminationGracePeriodSeconds: ptr(int64(30))},
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// exec runs a command in a pod's container through CRI (as a user
	// with kubectl exec would). The test image links few applets: rm and
	// touch are "busybox rm" and ": >".
	exec := func(p *v1.Pod, cmd ...string) string {
		t.Helper()
		id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
		resp, err := env.Client.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 5})
		if err != nil {
			t.Fatal(err)
		}
		return string(resp.Stdout)
	}

	// Liveness: the file goes away, two failures kill the container (with
	// the probe's own grace period) and it restarts.
	create("live", v1.RestartPolicyAlways, v1.Container{
		Command: []string{"/bin/sh", "-c", ": > /tmp/healthy; sleep 2; busybox rm /tmp/healthy; exec sleep 3600"},
		LivenessProbe: func() *v1.Probe {
			p := execProbe(1, 2, "cat", "/tmp/healthy")
			p.TerminationGracePeriodSeconds = ptr(int64(1))
			return p
		}(),
	})
	// Startup then readiness: not started and not ready until the files
	// appear; readiness follows the file afterwards.
	create("ready", v1.RestartPolicyAlways, v1.Container{
		Command:        []string{"/bin/sh", "-c", "sleep 2; : > /tmp/started; sleep 2; : > /tmp/ready; exec sleep 3600"},
		StartupProbe:   execProbe(1, 30, "cat", "/tmp/started"),
		ReadinessProbe: execProbe(1, 1, "cat", "/tmp/ready"),
	})
	// An exec probe that outlives its timeout fails.
	create("slow", v1.RestartPolicyAlways, v1.Container{
		Command:        []string{"/bin/sleep", "3600"},
		ReadinessProbe: execProbe(2, 1, "sleep", "5"),
	})

	p := waitPod(t, ctx, client, "ready", func(p *v1.Pod) bool { return p.Status.ContainerStatuses[0].State.Running != nil })
	if cs := p.Status.ContainerStatuses[0]; cs.Started == nil || *cs.Started || cs.Ready || podReady(p) {
		t.Errorf("before the startup probe passed: started %v ready %v podReady %v", cs.Started, cs.Ready, podReady(p))
	}
	p = waitPod(t, ctx, client, "ready", func(p *v1.Pod) bool {
		cs := p.Status.ContainerStatuses[0]
		return cs.Started != nil && *cs.Started
	})
	p = waitPod(t, ctx, client, "ready", podReady)
	if c := cond(p.Status, v1.ContainersReady); c.Status != v1.ConditionTrue {
		t.Errorf("ContainersReady %+v", c)
	}
	exec(p, "/bin/busybox", "rm", "/tmp/ready")
	p = waitPod(t, ctx, client, "ready", func(p *v1.Pod) bool { return !podReady(p) })
	if c := cond(p.Status, v1.PodReady); c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [c]" {
		t.Errorf("Ready after the readiness probe failed: %+v", c)
	}
	if p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("readiness failure restarted the container")
	}
	exec(p, "/bin/sh", "-c", ": > /tmp/ready")
	waitPod(t, ctx, client, "ready", podReady)

	p = waitPod(t, ctx, client, "live", func(p *v1.Pod) bool {
		cs := p.Status.ContainerStatuses[0]
		return cs.RestartCount >= 1 && cs.State.Running != nil
	})
	if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 137 {
		t.Errorf("lastState after the liveness kill: %+v", last)
	}

	// Hooks: postStart runs before the container counts as running;
	// preStop writes into a hostPath volume on deletion.
	hostDir := filepath.Join(env.DataDir, "hooks")
	create("hooks", v1.RestartPolicyAlways, v1.Container{
		Command: []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"},
		Lifecycle: &v1.Lifecycle{
			PostStart: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"/bin/sh", "-c", "sleep 1; echo started > /tmp/post"}}},
			PreStop:   &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"/bin/sh", "-c", "echo bye from $HOSTNAME > /data/prestop"}}},
		},
		VolumeMounts: []v1.VolumeMount{{Name: "data", MountPath: "/data"}},
	}, v1.Volume{Name: "data", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{
		Path: hostDir, Type: ptr(v1.HostPathDirectoryOrCreate)}}})
	p = waitPod(t, ctx, client, "hooks", func(p *v1.Pod) bool { return p.Status.ContainerStatuses[0].State.Running != nil })
	if out := exec(p, "cat", "/tmp/post"); out != "started\n" {
		t.Errorf("running before postStart completed: /tmp/post = %q", out)
	}
	deleteWithGrace(t, ctx, client, p, 2)
	if data, err := os.ReadFile(filepath.Join(hostDir, "prestop")); err != nil || string(data) != "bye from hooks\n" {
		t.Errorf("preStop did not run: %q %v", data, err)
	}

	// A 2 s grace period: a container ignoring SIGTERM is killed after 2 s
	// and the pod is gone soon after.
	create("stubborn", v1.RestartPolicyAlways, v1.Container{Command: []string{"/bin/sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"}})
	p = waitPod(t, ctx, client, "stubborn", podReady)
	start := time.Now()
	deleteWithGrace(t, ctx, client, p, 2)
	if d := time.Since(start); d < 2*time.Second || d > 6*time.Second {
		t.Errorf("pod with a 2 s grace period was gone after %v", d)
	}

	// A failing postStart hook kills the container, which restarts.
	create("badhook", v1.RestartPolicyAlways, v1.Container{
		Command:   []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"},
		Lifecycle: &v1.Lifecycle{PostStart: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"/bin/sh", "-c", "exit 3"}}}},
	})
	p = waitPod(t, ctx, client, "badhook", func(p *v1.Pod) bool {
		cs := p.Status.ContainerStatuses[0]
		return cs.RestartCount >= 1 && cs.State.Waiting != nil
	})
	if w := p.Status.ContainerStatuses[0].State.Waiting; w.Reason != "PostStartHookError" && w.Reason != "CrashLoopBackOff" {
		t.Errorf("waiting after a failed postStart hook: %+v", w)
	}

	// Events as upstream words them.
	waitFor(t, ctx, "probe events", func() bool {
		return hasEvents(ctx, client,
			"live Unhealthy: Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n",
			"live Killing: Container c failed liveness probe, will be restarted",
			"ready Unhealthy: Startup probe failed: cat: can't open '/tmp/started': No such file or directory\n",
			"ready Unhealthy: Readiness probe failed: cat: can't open '/tmp/ready': No such file or directory\n",
			`slow Unhealthy: Readiness probe failed: command "sleep 5" timed out`,
			"hooks Killing: Stopping container c",
			"badhook FailedPostStartHook: PostStartHook failed",
			"badhook Killing: FailedPostStartHook",
		) == ""
	})
	if missing := hasEvents(ctx, client); missing != "" {
		t.Error(missing)
	}
	stop()
}

// hasEvents returns "" when every "<pod> <reason>: <message>" was
// recorded, else what is missing.
func hasEvents(ctx context.Context, client *fake.Clientset, want ...string) string {
	events, _ := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	seen := map[string]bool{}
	for _, e := range events.Items {
		seen[e.InvolvedObject.Name+" "+e.Reason+": "+e.Message] = true
	}
	for _, w := range want {
		if !seen[w] {
			var have []string
			for s := range seen {
				have = append(have, s)
			}
			return "no event " + w + "; have " + strings.Join(have, " | ")
		}
	}
	return ""
}

// deleteWithGrace deletes a pod as the API server does for a graceful
// delete and waits for the kubelet to remove it.
func deleteWithGrace(t *testing.T, ctx context.Context, client *fake.Clientset, p *v1.Pod, grace int64) {
	t.Helper()
	p = p.DeepCopy()
	p.DeletionTimestamp = &metav1.Time{Time: time.Now().Add(time.Duration(grace) * time.Second)}
	p.DeletionGracePeriodSeconds = ptr(grace)
	if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "pod "+p.Name+" deleted", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}
