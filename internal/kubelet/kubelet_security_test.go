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
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestKubeletSecurityAndResources runs pods on a real containerd: a pod
// with runAsUser/fsGroup runs as that user with the group owning its
// emptyDir, runAsNonRoot with a root image is refused with upstream's
// CreateContainerConfigError, and a container past its memory limit is
// reported OOMKilled; a sidecar init container runs beside the regular
// container and the pod still completes.
func TestKubeletSecurityAndResources(t *testing.T) {
	env := critest.Start(t)
	client := statusSubresourceClient()
	node := "ks-" + strings.TrimPrefix(filepath.Base(env.DataDir), "kedge-critest-")
	cfg := Config{
		NodeName: node, NodeIP: "192.0.2.2", DataDir: env.DataDir, RunDir: env.RunDir,
		RuntimeEndpoint: env.Containerd.Address(), Client: client,
		PodLogsDir: filepath.Join(env.DataDir, "logs"), NoGuard: true,
	}
	t.Cleanup(func() { removeCgroupTree("/kedge/" + node) })
	stop := startKubelet(t, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	readyTestNode(t, ctx, client, node, "10.88.11.0/24")

	create := func(pod *v1.Pod) {
		t.Helper()
		pod.Namespace = "default"
		pod.UID = types.UID("uid-" + pod.Name)
		pod.Spec.NodeName = node
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// runAsUser, runAsGroup, fsGroup.
	create(&v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "user"},
		Spec: v1.PodSpec{
			RestartPolicy: v1.RestartPolicyNever,
			SecurityContext: &v1.PodSecurityContext{
				RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(3000)), FSGroup: ptr(int64(2000)),
			},
			Volumes: []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}},
			Containers: []v1.Container{{
				Name: "c", Image: "localhost/busybox:1.36",
				Command:      []string{"/bin/sh", "-c", "id -u; echo groups=$(id -G); touch /data/f && echo file-group=$(stat -c %g /data/f)"},
				VolumeMounts: []v1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
		},
	})
	p := waitPod(t, ctx, client, "user", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed })
	logFile := filepath.Join(cfg.PodLogsDir, "default_user_uid-user", "c", "0.log")
	data, _ := os.ReadFile(logFile)
	log := string(data)
	if p.Status.Phase != v1.PodSucceeded || !strings.Contains(log, "stdout F 1000\n") ||
		!strings.Contains(log, "groups=3000 2000") || !strings.Contains(log, "file-group=2000") {
		t.Errorf("runAsUser pod: phase %s, log:\n%s", p.Status.Phase, log)
	}

	// runAsNonRoot with an image that runs as root.
	create(&v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nonroot"},
		Spec: v1.PodSpec{
			RestartPolicy: v1.RestartPolicyAlways,
			Containers: []v1.Container{{
				Name: "c", Image: "localhost/busybox:1.36", Command: []string{"sleep", "3600"},
				SecurityContext: &v1.SecurityContext{RunAsNonRoot: ptr(true)},
			}},
		},
	})
	p = waitPod(t, ctx, client, "nonroot", func(p *v1.Pod) bool {
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonCreateContainerConfigError
	})
	want := `container has runAsNonRoot and image will run as root (pod: "nonroot_default(uid-nonroot)", container: c)`
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; msg != want {
		t.Errorf("runAsNonRoot message %q, want %q", msg, want)
	}
	if !hasEvent(ctx, client, "default", "Failed", "Error: "+want) {
		t.Errorf("no Failed event for runAsNonRoot")
	}

	// A sidecar runs beside the regular container and does not keep a
	// finished pod alive.
	create(&v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sidecar"},
		Spec: v1.PodSpec{
			RestartPolicy: v1.RestartPolicyNever, TerminationGracePeriodSeconds: ptr(int64(1)),
			InitContainers: []v1.Container{{
				Name: "side", Image: "localhost/busybox:1.36", Command: []string{"sh", "-c", "touch /shared/up; exec sleep 3600"},
				RestartPolicy: ptr(v1.ContainerRestartPolicyAlways),
				VolumeMounts:  []v1.VolumeMount{{Name: "shared", MountPath: "/shared"}},
			}},
			Volumes: []v1.Volume{{Name: "shared", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}},
			Containers: []v1.Container{{
				Name: "main", Image: "localhost/busybox:1.36", Command: []string{"sh", "-c", "sleep 2; test -f /shared/up && echo sidecar-was-up"},
				VolumeMounts: []v1.VolumeMount{{Name: "shared", MountPath: "/shared"}},
			}},
		},
	})
	waitPod(t, ctx, client, "sidecar", func(p *v1.Pod) bool {
		return len(p.Status.InitContainerStatuses) == 1 && p.Status.InitContainerStatuses[0].State.Running != nil &&
			len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil && p.Status.Phase == v1.PodRunning
	})
	p = waitPod(t, ctx, client, "sidecar", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed })
	data, _ = os.ReadFile(filepath.Join(cfg.PodLogsDir, "default_sidecar_uid-sidecar", "main", "0.log"))
	if p.Status.Phase != v1.PodSucceeded || !strings.Contains(string(data), "sidecar-was-up") {
		t.Errorf("sidecar pod: phase %s, main log %q", p.Status.Phase, data)
	}

	// A memory hog past its limit is OOMKilled.
	create(&v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hog"},
		Spec: v1.PodSpec{
			RestartPolicy: v1.RestartPolicyNever,
			Containers: []v1.Container{{
				Name: "c", Image: "localhost/busybox:1.36",
				Command: []string{"sh", "-c", "x=a; while true; do x=$x$x; done"},
				Resources: v1.ResourceRequirements{
					Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("32Mi")},
				},
			}},
		},
	})
	p = waitPod(t, ctx, client, "hog", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("memory hog: terminated %+v, want OOMKilled with exit code 137", term)
	}
	if p.Status.QOSClass != v1.PodQOSBurstable {
		t.Errorf("hog qosClass %s", p.Status.QOSClass)
	}
	limit, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory/kedge", node, "kubepods/burstable/poduid-hog/memory.limit_in_bytes"))
	if err == nil && strings.TrimSpace(string(limit)) != "33554432" {
		t.Errorf("pod cgroup memory limit %s", limit)
	}
}
