package kubelet

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kedge-dev/kedge/internal/network"
	"github.com/kedge-dev/kedge/internal/version"
	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	maxPods           = 110
	kubeletPort       = 10250
	nodeLeaseNS       = "kube-node-lease"
	leaseDuration     = 40
	leaseRenew        = 10 * time.Second
	statusCheck       = 10 * time.Second
	statusMaxInterval = 30 * time.Second
	// Upstream's default hard eviction thresholds, taken off allocatable.
	evictionMemory = 100 << 20
)

// nodeFacts is what the kubelet knows about its machine, gathered once
// (static) or per status update (dynamic).
type nodeFacts struct {
	Name, IP          string
	Labels            map[string]string
	CPUs              int
	MemoryBytes       int64
	EphemeralBytes    int64
	MachineID, BootID string
	SystemUUID        string
	KernelVersion     string
	OSImage           string
	RuntimeVersion    string
	OS, Arch          string
	Images            []v1.ContainerImage
	// KubeletPort is the kubelet API's port (kubeletPort when 0).
	KubeletPort int
}

// nodeHealth is the readiness input of the Ready condition: "" when ready,
// else the reason message.
type nodeHealth struct {
	NotReadyMessage string
	// Pressure sets the MemoryPressure, DiskPressure and PIDPressure
	// conditions (eviction.go).
	Pressure nodePressure
}

func (f nodeFacts) labels() map[string]string {
	l := map[string]string{
		v1.LabelHostname:          f.Name,
		v1.LabelOSStable:          f.OS,
		v1.LabelArchStable:        f.Arch,
		"beta.kubernetes.io/os":   f.OS,
		"beta.kubernetes.io/arch": f.Arch,
	}
	for k, v := range f.Labels {
		l[k] = v
	}
	return l
}

// initialNode is the Node object a kubelet registers.
func initialNode(f nodeFacts) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   f.Name,
			Labels: f.labels(),
			Annotations: map[string]string{
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
		},
	}
}

// mergeNodeLabels adds the kubelet's labels to an existing node; it
// reports whether anything changed.
func mergeNodeLabels(node *v1.Node, f nodeFacts) bool {
	changed := false
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	for k, v := range f.labels() {
		if old, ok := node.Labels[k]; !ok || old != v {
			node.Labels[k] = v
			changed = true
		}
	}
	return changed
}

type conditionSpec struct {
	Type    v1.NodeConditionType
	Status  v1.ConditionStatus
	Reason  string
	Message string
}

func nodeConditionSpecs(h nodeHealth) []conditionSpec {
	ready := conditionSpec{v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"}
	if h.NotReadyMessage != "" {
		ready = conditionSpec{v1.NodeReady, v1.ConditionFalse, "KubeletNotReady", h.NotReadyMessage}
	}
	return append(pressureConditionSpecs(h.Pressure), ready)
}

// nodeEvent is a node event to record after a status change.
type nodeEvent struct {
	Type, Reason string
}

// setNodeStatus fills node.Status from the facts and health. Conditions
// keep their lastTransitionTime unless their status changes; the events
// upstream records for condition changes are returned.
func setNodeStatus(node *v1.Node, f nodeFacts, h nodeHealth, now time.Time) []nodeEvent {
	t := apiTime(now)
	s := &node.Status
	capacity := v1.ResourceList{
		v1.ResourceCPU:              *resource.NewQuantity(int64(f.CPUs), resource.DecimalSI),
		v1.ResourceMemory:           *resource.NewQuantity(f.MemoryBytes, resource.BinarySI),
		v1.ResourcePods:             *resource.NewQuantity(maxPods, resource.DecimalSI),
		v1.ResourceEphemeralStorage: *resource.NewQuantity(f.EphemeralBytes, resource.BinarySI),
		"hugepages-1Gi":             *resource.NewQuantity(0, resource.DecimalSI),
		"hugepages-2Mi":             *resource.NewQuantity(0, resource.DecimalSI),
	}
	allocatable := capacity.DeepCopy()
	allocatable[v1.ResourceMemory] = *resource.NewQuantity(max(0, f.MemoryBytes-evictionMemory), resource.BinarySI)
	allocatable[v1.ResourceEphemeralStorage] = *resource.NewQuantity(f.EphemeralBytes-f.EphemeralBytes/10, resource.DecimalSI)
	s.Capacity, s.Allocatable = capacity, allocatable
	s.Addresses = []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: f.IP}, {Type: v1.NodeHostName, Address: f.Name}}
	port := int32(kubeletPort)
	if f.KubeletPort > 0 {
		port = int32(f.KubeletPort)
	}
	s.DaemonEndpoints = v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: port}}
	s.NodeInfo = v1.NodeSystemInfo{
		MachineID:               f.MachineID,
		SystemUUID:              f.SystemUUID,
		BootID:                  f.BootID,
		KernelVersion:           f.KernelVersion,
		OSImage:                 f.OSImage,
		ContainerRuntimeVersion: f.RuntimeVersion,
		KubeletVersion:          version.GitVersion,
		OperatingSystem:         f.OS,
		Architecture:            f.Arch,
	}
	if f.Images != nil {
		s.Images = f.Images
	}

	var events []nodeEvent
	for _, spec := range nodeConditionSpecs(h) {
		var cur *v1.NodeCondition
		for i := range s.Conditions {
			if s.Conditions[i].Type == spec.Type {
				cur = &s.Conditions[i]
			}
		}
		if cur == nil {
			s.Conditions = append(s.Conditions, v1.NodeCondition{Type: spec.Type})
			cur = &s.Conditions[len(s.Conditions)-1]
		}
		if cur.Status != spec.Status {
			cur.LastTransitionTime = t
			switch {
			case spec.Type == v1.NodeReady && spec.Status == v1.ConditionTrue:
				events = append(events, nodeEvent{v1.EventTypeNormal, "NodeReady"})
			case spec.Type == v1.NodeReady && cur.Status == v1.ConditionTrue:
				events = append(events, nodeEvent{v1.EventTypeNormal, "NodeNotReady"})
			case spec.Type != v1.NodeReady:
				events = append(events, nodeEvent{v1.EventTypeNormal, "Node" + strings.TrimPrefix(spec.Reason, "Kubelet")})
			}
		}
		cur.Status, cur.Reason, cur.Message = spec.Status, spec.Reason, spec.Message
		cur.LastHeartbeatTime = t
	}
	return events
}

// statusChanged reports whether two node statuses differ in more than
// heartbeat times.
func statusChanged(a, b *v1.NodeStatus) bool {
	strip := func(s *v1.NodeStatus) *v1.NodeStatus {
		c := s.DeepCopy()
		for i := range c.Conditions {
			c.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return c
	}
	return !apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

// gatherFacts reads the machine's facts (I/O).
func (k *Kubelet) gatherFacts(ctx context.Context) nodeFacts {
	f := nodeFacts{
		Name:           k.cfg.NodeName,
		IP:             k.cfg.NodeIP,
		Labels:         k.cfg.NodeLabels,
		CPUs:           runtime.NumCPU(),
		MemoryBytes:    k.memoryCapacity,
		MachineID:      readTrim("/etc/machine-id"),
		BootID:         readTrim("/proc/sys/kernel/random/boot_id"),
		SystemUUID:     strings.ToLower(readTrim("/sys/class/dmi/id/product_uuid")),
		KernelVersion:  readTrim("/proc/sys/kernel/osrelease"),
		OSImage:        osImage(),
		RuntimeVersion: k.runtimeVersion,
		OS:             runtime.GOOS,
		Arch:           runtime.GOARCH,
		KubeletPort:    k.cfg.Port,
	}
	if f.SystemUUID == "" {
		f.SystemUUID = f.MachineID
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(k.cfg.DataDir, &st); err == nil {
		f.EphemeralBytes = int64(st.Blocks) * st.Bsize
	}
	if resp, err := k.runtime.ListImages(ctx, &runtimeapi.ListImagesRequest{}); err == nil {
		f.Images = []v1.ContainerImage{}
		for _, img := range resp.Images {
			names := append(append([]string{}, img.RepoDigests...), img.RepoTags...)
			if len(names) == 0 {
				continue
			}
			f.Images = append(f.Images, v1.ContainerImage{Names: names, SizeBytes: int64(img.GetSize())})
		}
		// Largest first, at most 50, as upstream reports them.
		sort.SliceStable(f.Images, func(i, j int) bool { return f.Images[i].SizeBytes > f.Images[j].SizeBytes })
		if len(f.Images) > 50 {
			f.Images = f.Images[:50]
		}
	}
	return f
}

// health checks the runtime and the pod network.
func (k *Kubelet) health(ctx context.Context) nodeHealth {
	st, err := k.runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return nodeHealth{NotReadyMessage: fmt.Sprintf("container runtime is down: %v", err)}
	}
	for _, c := range st.GetStatus().GetConditions() {
		if c.Status {
			continue
		}
		switch c.Type {
		case runtimeapi.RuntimeReady:
			return nodeHealth{NotReadyMessage: fmt.Sprintf("container runtime not ready: RuntimeReady=false reason:%s message:%s", c.Reason, c.Message)}
		case runtimeapi.NetworkReady:
			return nodeHealth{NotReadyMessage: fmt.Sprintf("container runtime network not ready: NetworkReady=false reason:%s message:%s", c.Reason, c.Message)}
		}
	}
	if !k.cniConfigured.Load() {
		return nodeHealth{NotReadyMessage: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:no pod CIDR assigned to this node yet"}
	}
	return nodeHealth{}
}

func (k *Kubelet) nodeRef() *v1.ObjectReference {
	return &v1.ObjectReference{Kind: "Node", Name: k.cfg.NodeName, UID: types.UID(k.cfg.NodeName)}
}

// nodeLoop registers the node, then keeps its status, pod network config
// and Lease current until ctx ends.
func (k *Kubelet) nodeLoop(ctx context.Context) {
	log := slog.With("node", k.cfg.NodeName)
	for {
		err := k.registerNode(ctx)
		if err == nil {
			break
		}
		log.Error("register node", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
	k.recorder.Event(k.nodeRef(), v1.EventTypeNormal, "Starting", "Starting kubelet.")
	k.recorder.Event(k.nodeRef(), v1.EventTypeNormal, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")

	var lastPost, lastLease time.Time
	for {
		now := time.Now()
		if now.Sub(lastLease) >= leaseRenew {
			if err := k.renewLease(ctx, now); err != nil {
				log.Error("renew node lease", "err", err)
			} else {
				lastLease = now
			}
		}
		posted, err := k.updateNodeStatus(ctx, now.Sub(lastPost) >= statusMaxInterval)
		if err != nil {
			log.Error("update node status", "err", err)
		} else if posted {
			lastPost = now
		}
		interval := statusCheck
		if !k.cniConfigured.Load() {
			interval = time.Second // waiting for the pod CIDR
		}
		select {
		case <-ctx.Done():
			return
		case <-k.statusNow:
		case <-time.After(interval):
		}
	}
}

func (k *Kubelet) registerNode(ctx context.Context) error {
	f := k.gatherFacts(ctx)
	nodes := k.client.CoreV1().Nodes()
	node, err := nodes.Create(ctx, initialNode(f), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		node, err = nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err == nil && mergeNodeLabels(node, f) {
			node, err = nodes.Update(ctx, node, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.nodeUID = node.UID
	k.mu.Unlock()
	slog.Info("node registered", "node", node.Name, "uid", node.UID)
	return nil
}

// updateNodeStatus writes the CNI config once the pod CIDR is known and
// posts the node status when it changed or force is set.
func (k *Kubelet) updateNodeStatus(ctx context.Context, force bool) (bool, error) {
	nodes := k.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Deleted under us: register again, as upstream does on restart.
		return false, k.registerNode(ctx)
	}
	if err != nil {
		return false, err
	}
	k.mu.Lock()
	k.nodeUID = node.UID
	k.mu.Unlock()
	if cidr := node.Spec.PodCIDR; cidr != "" {
		changed, err := network.WriteCNIConfig(k.cniConfDir(), network.CNIConfig{
			PodCIDR:     cidr,
			IPAMDataDir: filepath.Join(k.cfg.DataDir, "cni/networks"),
		})
		if err != nil {
			return false, err
		}
		if changed {
			slog.Info("pod network configured", "podCIDR", cidr, "bridge", network.BridgeName)
		}
		k.cniConfigured.Store(true)
	}
	f := k.gatherFacts(ctx)
	h := k.health(ctx)
	h.Pressure = k.nodePressure()
	updated := node.DeepCopy()
	events := setNodeStatus(updated, f, h, time.Now())
	k.mu.Lock()
	k.allocatable = updated.Status.Allocatable.DeepCopy()
	k.mu.Unlock()
	if !force && !statusChanged(&node.Status, &updated.Status) {
		return false, nil
	}
	if _, err := nodes.UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return false, err
	}
	for _, e := range events {
		k.recorder.Eventf(k.nodeRef(), e.Type, e.Reason, "Node %s status is now: %s", k.cfg.NodeName, e.Reason)
	}
	return true, nil
}

// renewLease creates or renews the node's Lease in kube-node-lease.
func (k *Kubelet) renewLease(ctx context.Context, now time.Time) error {
	k.mu.Lock()
	nodeUID := k.nodeUID
	k.mu.Unlock()
	leases := k.client.CoordinationV1().Leases(nodeLeaseNS)
	renew := metav1.NewMicroTime(now)
	lease, err := leases.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Namespace: nodeLeaseNS},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr(k.cfg.NodeName),
				LeaseDurationSeconds: ptr(int32(leaseDuration)),
				RenewTime:            &renew,
			},
		}
		setLeaseOwner(lease, k.cfg.NodeName, nodeUID)
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.HolderIdentity = ptr(k.cfg.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr(int32(leaseDuration))
	lease.Spec.RenewTime = &renew
	setLeaseOwner(lease, k.cfg.NodeName, nodeUID)
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

func setLeaseOwner(lease *coordinationv1.Lease, node string, uid types.UID) {
	if uid == "" {
		return
	}
	lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node, UID: uid}}
}

func readTrim(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// osImage is PRETTY_NAME from /etc/os-release.
func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return strings.Trim(v, `"'`)
		}
	}
	return "Linux"
}

// memTotal is MemTotal from /proc/meminfo in bytes.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
