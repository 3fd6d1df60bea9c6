package kubelet

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kedge-dev/kedge/internal/network"
	"github.com/kedge-dev/kedge/internal/version"
	"google.golang.org/grpc"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"os"
)

func testFacts() nodeFacts {
	return nodeFacts{
		Name: "n1", IP: "192.0.2.2", Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""},
		CPUs: 2, MemoryBytes: 4 << 30, EphemeralBytes: 100 << 30, MachineID: "m", BootID: "b", SystemUUID: "u",
		KernelVersion: "6.1", OSImage: "Debian GNU/Linux 12 (bookworm)", RuntimeVersion: "containerd://1.6.20",
		OS: "linux", Arch: "amd64",
	}
}

func TestInitialNodeLabels(t *testing.T) {
	n := initialNode(testFacts())
	for k, want := range map[string]string{
		"kubernetes.io/hostname": "n1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", "node-role.kubernetes.io/control-plane": "",
	} {
		if got, ok := n.Labels[k]; !ok || got != want {
			t.Errorf("label %s = %q (%v), want %q", k, got, ok, want)
		}
	}
	existing := &v1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"custom": "x", "kubernetes.io/hostname": "n1"}}}
	if !mergeNodeLabels(existing, testFacts()) || existing.Labels["custom"] != "x" || existing.Labels["kubernetes.io/os"] != "linux" {
		t.Errorf("merged labels: %v", existing.Labels)
	}
	if mergeNodeLabels(existing, testFacts()) {
		t.Errorf("second merge reported a change")
	}
}

func TestSetNodeStatus(t *testing.T) {
	node := initialNode(testFacts())
	events := setNodeStatus(node, testFacts(), nodeHealth{NotReadyMessage: "container runtime network not ready: x"}, t0)
	s := node.Status
	if got := s.Capacity[v1.ResourcePods]; got.Value() != 110 {
		t.Errorf("pods capacity %v", got.String())
	}
	if got := s.Capacity[v1.ResourceMemory]; got.String() != "4Gi" {
		t.Errorf("memory capacity %s", got.String())
	}
	if got := s.Allocatable[v1.ResourceMemory]; got.Value() != 4<<30-100<<20 {
		t.Errorf("memory allocatable %s", got.String())
	}
	if s.NodeInfo.KubeletVersion != version.GitVersion || s.NodeInfo.OSImage != "Debian GNU/Linux 12 (bookworm)" || s.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("node info %+v endpoints %+v", s.NodeInfo, s.DaemonEndpoints)
	}
	if len(s.Addresses) != 2 || s.Addresses[0] != (v1.NodeAddress{Type: v1.NodeInternalIP, Address: "192.0.2.2"}) {
		t.Errorf("addresses %v", s.Addresses)
	}
	want := map[v1.NodeConditionType][3]string{
		v1.NodeMemoryPressure: {"False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
		v1.NodeDiskPressure:   {"False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
		v1.NodePIDPressure:    {"False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
		v1.NodeReady:          {"False", "KubeletNotReady", "container runtime network not ready: x"},
	}
	for _, c := range s.Conditions {
		w := want[c.Type]
		if string(c.Status) != w[0] || c.Reason != w[1] || c.Message != w[2] || !c.LastTransitionTime.Time.Equal(t0) {
			t.Errorf("condition %s = %s/%s/%q", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	if len(events) != 3 {
		t.Errorf("first status events %v, want the three pressure conditions", events)
	}

	// Becoming ready: one NodeReady event, only Ready's transition moves.
	t1 := t0.Add(time.Minute)
	before := node.Status.DeepCopy()
	events = setNodeStatus(node, testFacts(), nodeHealth{}, t1)
	if len(events) != 1 || events[0].Reason != "NodeReady" {
		t.Errorf("events %v, want NodeReady", events)
	}
	for _, c := range node.Status.Conditions {
		moved := c.LastTransitionTime.Time.Equal(t1)
		if moved != (c.Type == v1.NodeReady) {
			t.Errorf("%s transition time %v", c.Type, c.LastTransitionTime)
		}
		if c.Type == v1.NodeReady && (c.Reason != "KubeletReady" || c.Message != "kubelet is posting ready status") {
			t.Errorf("ready condition %+v", c)
		}
	}
	if !statusChanged(before, &node.Status) {
		t.Errorf("readiness change not detected")
	}
	same := node.Status.DeepCopy()
	setNodeStatus(node, testFacts(), nodeHealth{}, t1.Add(time.Minute))
	if statusChanged(same, &node.Status) {
		t.Errorf("a heartbeat alone counts as a change")
	}
	if events := setNodeStatus(node, testFacts(), nodeHealth{NotReadyMessage: "down"}, t1); len(events) != 1 || events[0].Reason != "NodeNotReady" {
		t.Errorf("events %v, want NodeNotReady", events)
	}
}

// fakeRuntime answers the CRI calls the node loop makes.
type fakeRuntime struct {
	runtimeService
	networkReady bool
}

func (f *fakeRuntime) Status(context.Context, *runtimeapi.StatusRequest, ...grpc.CallOption) (*runtimeapi.StatusResponse, error) {
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true},
		{Type: runtimeapi.NetworkReady, Status: f.networkReady, Reason: "NetworkPluginNotReady", Message: "cni plugin not initialized"},
	}}}, nil
}

func (f *fakeRuntime) ListImages(context.Context, *runtimeapi.ListImagesRequest, ...grpc.CallOption) (*runtimeapi.ListImagesResponse, error) {
	return &runtimeapi.ListImagesResponse{Images: []*runtimeapi.Image{
		{Id: "sha256:1", RepoTags: []string{"localhost/pause:3.10"}, Size: 1000},
		{Id: "sha256:2", RepoTags: []string{"localhost/echo:1"}, Size: 5000},
	}}, nil
}

func newTestKubelet(t *testing.T, client *fake.Clientset) (*Kubelet, *fakeRuntime) {
	t.Helper()
	k, err := New(Config{NodeName: "n1", NodeIP: "192.0.2.2", DataDir: t.TempDir(), Client: client, NoGuard: true})
	if err != nil {
		t.Fatal(err)
	}
	rt := &fakeRuntime{}
	k.runtime = rt
	k.runtimeVersion = "containerd://1.6.20"
	k.recorder = record.NewFakeRecorder(100)
	return k, rt
}

func TestNodeRegistrationStatusAndLease(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	k, rt := newTestKubelet(t, client)

	if err := k.registerNode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.registerNode(ctx); err != nil { // restart: already exists
		t.Fatalf("second registration: %v", err)
	}
	if _, err := k.updateNodeStatus(ctx, true); err != nil {
		t.Fatal(err)
	}
	n, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if nodeReady(n) {
		t.Errorf("node ready without a pod CIDR")
	}
	if got := n.Status.Images; len(got) != 2 || got[0].Names[0] != "localhost/echo:1" {
		t.Errorf("images %+v, want largest first", got)
	}

	// Node IPAM assigns a pod CIDR: the CNI config appears, then Ready.
	n.Spec.PodCIDR = "10.42.3.0/24"
	client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	rt.networkReady = true
	posted, err := k.updateNodeStatus(ctx, false)
	if err != nil || !posted {
		t.Fatalf("status update after pod CIDR: posted=%v err=%v", posted, err)
	}
	if _, err := os.Stat(filepath.Join(k.cfg.DataDir, "etc/cni/net.d", network.ConfFileName)); err != nil {
		t.Errorf("CNI config not written: %v", err)
	}
	n, _ = client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if !nodeReady(n) {
		t.Errorf("node not ready: %+v", n.Status.Conditions)
	}
	if posted, _ := k.updateNodeStatus(ctx, false); posted {
		t.Errorf("unchanged status posted again")
	}

	k.nodeUID = types.UID("node-uid")
	if err := k.renewLease(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if err := k.renewLease(ctx, t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	lease, err := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != "n1" || *lease.Spec.LeaseDurationSeconds != 40 || !lease.Spec.RenewTime.Time.Equal(t0.Add(10*time.Second)) {
		t.Errorf("lease spec %+v", lease.Spec)
	}
	if len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].Kind != "Node" || lease.OwnerReferences[0].UID != "node-uid" {
		t.Errorf("lease owner %+v", lease.OwnerReferences)
	}
}

func TestWriteStatusOnlyOnChange(t *testing.T) {
	ctx := context.Background()
	pod := testPod(v1.RestartPolicyAlways, []string{"a"})
	client := fake.NewClientset(pod)
	k, _ := newTestKubelet(t, client)
	st := computePodStatus(pod, statusInput{Runtime: runtimeOf(nil), Now: t0})
	if err := k.writeStatus(ctx, pod, st); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoreV1().Pods("ns").Get(ctx, "p", metav1.GetOptions{})
	if got.Status.Phase != v1.PodPending {
		t.Errorf("phase %s", got.Status.Phase)
	}
	client.ClearActions()
	if err := k.writeStatus(ctx, got, st); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Errorf("unchanged status made %d API calls", n)
	}
}
