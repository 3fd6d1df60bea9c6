package kubelet

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kedge-dev/kedge/internal/kubelet/cri/critest"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestKubeletLocalStorageEviction runs pods on a real containerd and
// fills disks for real: a pod writing past its emptyDir sizeLimit is
// evicted with upstream's message; a pod that drives nodefs.available
// below the hard threshold raises DiskPressure and is evicted as the pod
// using most local storage, its emptyDir removed, and the pressure goes.
func TestKubeletLocalStorageEviction(t *testing.T) {
	env := critest.Start(t)
	client := statusSubresourceClient()
	node := "ke-" + strings.TrimPrefix(filepath.Base(env.DataDir), "kedge-critest-")
	var st syscall.Statfs_t
	if err := syscall.Statfs(env.DataDir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < 2<<30 {
		t.Skipf("needs 2 GiB free on %s", env.DataDir)
	}
	// Pressure once 200Mi of what is free now are used.
	threshold := resource.NewQuantity((free-200<<20)>>20<<20, resource.BinarySI)
	cfg := Config{
		NodeName: node, NodeIP: "192.0.2.2", DataDir: env.DataDir, RunDir: env.RunDir,
		RuntimeEndpoint: env.Containerd.Address(), Client: client,
		PodLogsDir: filepath.Join(env.DataDir, "logs"), NoGuard: true,
		EvictionHard: "nodefs.available<" + threshold.String(), EvictionPressureTransitionPeriod: 3 * time.Second,
	}
	t.Cleanup(func() { removeCgroupTree("/kedge/" + node) })
	stop := startKubelet(t, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	readyTestNode(t, ctx, client, node, "10.88.12.0/24")

	writer := func(name, sizeLimit string, mib int) *v1.Pod {
		ed := &v1.EmptyDirVolumeSource{}
		if sizeLimit != "" {
			q := resource.MustParse(sizeLimit)
			ed.SizeLimit = &q
		}
		pod := &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
			Spec: v1.PodSpec{
				NodeName: node, TerminationGracePeriodSeconds: ptr(int64(1)),
				Volumes: []v1.Volume{{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: ed}}},
				Containers: []v1.Container{{
					Name: "c", Image: "localhost/busybox:1.36",
					Command:      []string{"/bin/sh", "-c", fmt.Sprintf("dd if=/dev/zero of=/scratch/fill bs=1M count=%d; sleep 3600", mib)},
					VolumeMounts: []v1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}},
				}},
			},
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return pod
	}
	evicted := func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed && p.Status.Reason == reasonEvicted }

	// emptyDir sizeLimit.
	writer("limited", "8Mi", 16)
	p := waitPod(t, ctx, client, "limited", evicted)
	if want := `Usage of EmptyDir volume "scratch" exceeds the limit "8Mi". `; p.Status.Message != want {
		t.Errorf("sizeLimit eviction message %q, want %q", p.Status.Message, want)
	}

	// Disk pressure: 400Mi written where 200Mi make the node short.
	writer("hog", "", 400)
	waitNode(t, ctx, client, node, func(n *v1.Node) bool { return conditionIs(n, v1.NodeDiskPressure, v1.ConditionTrue) })
	p = waitPod(t, ctx, client, "hog", evicted)
	if !strings.HasPrefix(p.Status.Message, "The node was low on resource: ephemeral-storage. Threshold quantity: "+threshold.String()+", available: ") {
		t.Errorf("disk pressure eviction message %q", p.Status.Message)
	}
	var cond *v1.PodCondition
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == v1.DisruptionTarget {
			cond = &p.Status.Conditions[i]
		}
	}
	if cond == nil || cond.Reason != reasonTerminationByNode {
		t.Errorf("evicted pod's DisruptionTarget condition = %+v", cond)
	}
	// The evicted pod's emptyDir is removed, and the pressure goes
	// (after the transition period).
	waitNode(t, ctx, client, node, func(n *v1.Node) bool { return conditionIs(n, v1.NodeDiskPressure, v1.ConditionFalse) })
	events, _ := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	found := 0
	for _, e := range events.Items {
		if e.Reason == reasonEvicted && e.Type == v1.EventTypeWarning {
			found++
		}
	}
	if found < 2 {
		t.Errorf("want an Evicted event per evicted pod, found %d", found)
	}
}

func conditionIs(n *v1.Node, t v1.NodeConditionType, s v1.ConditionStatus) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == t {
			return c.Status == s
		}
	}
	return false
}
