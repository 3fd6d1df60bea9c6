package framework

import (
	v1 "k8s.io/api/core/v1"
)

// Defaults used for scoring pods that request nothing, so that a node
// full of request-less pods does not look empty (same values as upstream).
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is an amount of node resources.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// AllowedPodNumber is only meaningful for allocatable amounts.
	AllowedPodNumber int64
	// Scalar holds extended resources (example.com/gpu, hugepages-2Mi...).
	Scalar map[v1.ResourceName]int64
}

// ResourceFromList converts a ResourceList.
func ResourceFromList(rl v1.ResourceList) Resource {
	var r Resource
	r.AddList(rl)
	return r
}

// AddList adds every quantity of rl.
func (r *Resource) AddList(rl v1.ResourceList) {
	for name, q := range rl {
		switch name {
		case v1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case v1.ResourceMemory:
			r.Memory += q.Value()
		case v1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case v1.ResourcePods:
			r.AllowedPodNumber += q.Value()
		default:
			if isScalar(name) {
				if r.Scalar == nil {
					r.Scalar = map[v1.ResourceName]int64{}
				}
				r.Scalar[name] += q.Value()
			}
		}
	}
}

// Add adds o to r.
func (r *Resource) Add(o Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.AllowedPodNumber += o.AllowedPodNumber
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[v1.ResourceName]int64{}
		}
		r.Scalar[k] += v
	}
}

// Sub subtracts o from r.
func (r *Resource) Sub(o Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.AllowedPodNumber -= o.AllowedPodNumber
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[v1.ResourceName]int64{}
		}
		r.Scalar[k] -= v
	}
}

// Max raises each dimension of r to at least o's.
func (r *Resource) Max(o Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	r.AllowedPodNumber = max(r.AllowedPodNumber, o.AllowedPodNumber)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[v1.ResourceName]int64{}
		}
		r.Scalar[k] = max(r.Scalar[k], v)
	}
}

// Clone returns a deep copy.
func (r Resource) Clone() Resource {
	c := r
	if r.Scalar != nil {
		c.Scalar = make(map[v1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			c.Scalar[k] = v
		}
	}
	return c
}

// IsZero reports whether no resource is requested.
func (r Resource) IsZero() bool {
	if r.MilliCPU != 0 || r.Memory != 0 || r.EphemeralStorage != 0 {
		return false
	}
	for _, v := range r.Scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

// isScalar reports whether a resource name is counted as a scalar
// (extended resources, hugepages, attachable volumes).
func isScalar(name v1.ResourceName) bool {
	s := string(name)
	switch {
	case len(s) > len(v1.ResourceHugePagesPrefix) && s[:len(v1.ResourceHugePagesPrefix)] == v1.ResourceHugePagesPrefix:
		return true
	case len(s) > len(v1.ResourceAttachableVolumesPrefix) && s[:len(v1.ResourceAttachableVolumesPrefix)] == v1.ResourceAttachableVolumesPrefix:
		return true
	}
	// Extended resources are fully qualified names outside kubernetes.io.
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			domain := s[:i]
			return domain != "kubernetes.io" && !hasSuffix(domain, ".kubernetes.io") && domain != "requests"
		}
	}
	return false
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// HostPort is one hostPort a pod occupies on its node.
type HostPort struct {
	IP       string // "" or 0.0.0.0 means every address
	Protocol v1.Protocol
	Port     int32
}

// Conflicts reports whether two host ports cannot coexist on one node.
func (p HostPort) Conflicts(o HostPort) bool {
	if p.Port != o.Port || p.Protocol != o.Protocol {
		return false
	}
	return isWildcard(p.IP) || isWildcard(o.IP) || p.IP == o.IP
}

func isWildcard(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

// PodInfo is a pod with what the scheduler derives from it, computed once.
type PodInfo struct {
	Pod      *v1.Pod
	Requests Resource
	// NonZero is Requests with cpu/memory defaulted per container, used for
	// scoring.
	NonZero Resource
	Ports   []HostPort
}

// NewPodInfo computes a PodInfo.
func NewPodInfo(pod *v1.Pod) *PodInfo {
	return &PodInfo{
		Pod:      pod,
		Requests: PodRequests(pod, false),
		NonZero:  PodRequests(pod, true),
		Ports:    PodHostPorts(pod),
	}
}

// NodeInfo is a node with the pods placed on it (running, or assumed by
// the scheduler and not yet confirmed by the API) and their sums.
type NodeInfo struct {
	Node        *v1.Node
	Pods        []*PodInfo
	Allocatable Resource
	// Requested is the sum of the pods' requests.
	Requested Resource
	// NonZeroRequested is the sum used for scoring.
	NonZeroRequested Resource
	UsedPorts        []HostPort
}

// NewNodeInfo builds a NodeInfo for node holding pods.
func NewNodeInfo(node *v1.Node, pods ...*v1.Pod) *NodeInfo {
	n := &NodeInfo{}
	n.SetNode(node)
	for _, p := range pods {
		n.AddPod(NewPodInfo(p))
	}
	return n
}

// Name is the node's name ("" when the node is unknown).
func (n *NodeInfo) Name() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}

// SetNode replaces the node object.
func (n *NodeInfo) SetNode(node *v1.Node) {
	n.Node = node
	n.Allocatable = Resource{}
	if node != nil {
		n.Allocatable = ResourceFromList(node.Status.Allocatable)
	}
}

// AddPod places a pod on the node.
func (n *NodeInfo) AddPod(p *PodInfo) {
	n.Pods = append(n.Pods, p)
	n.Requested.Add(p.Requests)
	n.NonZeroRequested.Add(p.NonZero)
	n.UsedPorts = append(n.UsedPorts, p.Ports...)
}

// RemovePod takes the pod with the given UID off the node and reports
// whether it was there.
func (n *NodeInfo) RemovePod(uid string) bool {
	for i, p := range n.Pods {
		if string(p.Pod.UID) != uid {
			continue
		}
		n.Pods = append(n.Pods[:i:i], n.Pods[i+1:]...)
		n.Requested.Sub(p.Requests)
		n.NonZeroRequested.Sub(p.NonZero)
		n.UsedPorts = n.UsedPorts[:0:0]
		for _, q := range n.Pods {
			n.UsedPorts = append(n.UsedPorts, q.Ports...)
		}
		return true
	}
	return false
}

// Clone copies the NodeInfo so that adding or removing pods does not
// affect the original; pod and node objects are shared (read-only).
func (n *NodeInfo) Clone() *NodeInfo {
	return &NodeInfo{
		Node:             n.Node,
		Pods:             append([]*PodInfo(nil), n.Pods...),
		Allocatable:      n.Allocatable.Clone(),
		Requested:        n.Requested.Clone(),
		NonZeroRequested: n.NonZeroRequested.Clone(),
		UsedPorts:        append([]HostPort(nil), n.UsedPorts...),
	}
}

// Snapshot is the cluster as one scheduling cycle sees it. It is never
// modified during the cycle.
type Snapshot struct {
	// Nodes, sorted by name.
	Nodes []*NodeInfo
	// Services are used to find the pods a new pod should be spread from.
	Services []*v1.Service
}

// Get returns the node with the given name, or nil.
func (s *Snapshot) Get(name string) *NodeInfo {
	for _, n := range s.Nodes {
		if n.Name() == name {
			return n
		}
	}
	return nil
}
