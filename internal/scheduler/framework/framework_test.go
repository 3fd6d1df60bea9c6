package framework

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func reqs(cpu, mem string) v1.ResourceRequirements {
	rl := v1.ResourceList{}
	if cpu != "" {
		rl[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		rl[v1.ResourceMemory] = resource.MustParse(mem)
	}
	return v1.ResourceRequirements{Requests: rl}
}

func TestPodRequests(t *testing.T) {
	always := v1.ContainerRestartPolicyAlways
	tests := []struct {
		name    string
		spec    v1.PodSpec
		nonZero bool
		wantCPU int64
		wantMem int64
	}{
		{
			name:    "containers add up",
			spec:    v1.PodSpec{Containers: []v1.Container{{Resources: reqs("100m", "1Mi")}, {Resources: reqs("200m", "2Mi")}}},
			wantCPU: 300, wantMem: 3 << 20,
		},
		{
			name: "largest init container wins per resource",
			spec: v1.PodSpec{
				InitContainers: []v1.Container{{Resources: reqs("2", "1G")}, {Resources: reqs("2", "3G")}},
				Containers:     []v1.Container{{Resources: reqs("2", "1G")}, {Resources: reqs("1", "1G")}},
			},
			wantCPU: 3000, wantMem: 3_000_000_000,
		},
		{
			name: "sidecars add to what starts after them",
			spec: v1.PodSpec{
				InitContainers: []v1.Container{
					{Resources: reqs("100m", "")},
					{Resources: reqs("200m", ""), RestartPolicy: &always},
					{Resources: reqs("1", "")},
				},
				Containers: []v1.Container{{Resources: reqs("300m", "")}},
			},
			// steady: 300m + 200m sidecar = 500m; init peak: 1 + 200m = 1200m
			wantCPU: 1200,
		},
		{
			name: "overhead is added",
			spec: v1.PodSpec{
				Containers: []v1.Container{{Resources: reqs("100m", "")}},
				Overhead:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("50m")},
			},
			wantCPU: 150,
		},
		{
			name: "pod-level requests replace the container sum",
			spec: v1.PodSpec{
				Containers: []v1.Container{{Resources: reqs("100m", "")}},
				Resources:  &v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1")}},
			},
			wantCPU: 1000,
		},
		{
			name:    "non-zero defaults for scoring",
			spec:    v1.PodSpec{Containers: []v1.Container{{}, {Resources: reqs("0", "")}}},
			nonZero: true,
			wantCPU: DefaultMilliCPURequest, wantMem: 2 * DefaultMemoryRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodRequests(&v1.Pod{Spec: tt.spec}, tt.nonZero)
			if got.MilliCPU != tt.wantCPU || got.Memory != tt.wantMem {
				t.Errorf("got cpu=%dm mem=%d, want cpu=%dm mem=%d", got.MilliCPU, got.Memory, tt.wantCPU, tt.wantMem)
			}
		})
	}
}

func TestFitErrorSortsReasonsAsStrings(t *testing.T) {
	statuses := map[string]*Status{}
	for i := 0; i < 10; i++ {
		statuses[string(rune('a'+i))] = NewStatus(Unschedulable, "Insufficient cpu")
	}
	statuses["z1"] = NewStatus(UnschedulableAndUnresolvable, "node(s) were unschedulable")
	statuses["z2"] = NewStatus(Unschedulable, "Insufficient cpu", "Insufficient memory")
	fe := &FitError{NumAllNodes: 12, Diagnosis: Diagnosis{NodeToStatus: statuses, PostFilterMsg: "preemption: x."}}
	want := "0/12 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable, 11 Insufficient cpu. preemption: x."
	if got := fe.Error(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestFitErrorPreFilterMessage(t *testing.T) {
	fe := &FitError{NumAllNodes: 2, Diagnosis: Diagnosis{
		PreFilterMsg: "node(s) didn't satisfy plugin NodeAffinity",
		NodeToStatus: map[string]*Status{"a": NewStatus(Unschedulable, "ignored")},
	}}
	if got, want := fe.Error(), "0/2 nodes are available: node(s) didn't satisfy plugin NodeAffinity."; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestDefaultNormalizeScore(t *testing.T) {
	s := []NodeScore{{"a", 0}, {"b", 5}, {"c", 10}}
	DefaultNormalizeScore(s, false)
	if s[0].Score != 0 || s[1].Score != 50 || s[2].Score != 100 {
		t.Errorf("normal: %v", s)
	}
	s = []NodeScore{{"a", 0}, {"b", 5}, {"c", 10}}
	DefaultNormalizeScore(s, true)
	if s[0].Score != 100 || s[1].Score != 50 || s[2].Score != 0 {
		t.Errorf("reverse: %v", s)
	}
	s = []NodeScore{{"a", 0}}
	DefaultNormalizeScore(s, true)
	if s[0].Score != 100 {
		t.Errorf("all zero reversed: %v", s)
	}
}

func TestNodeInfoAddRemove(t *testing.T) {
	p := &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{{
		Resources: reqs("500m", "1Mi"),
		Ports:     []v1.ContainerPort{{HostPort: 80}},
	}}}}
	p.UID = "u1"
	n := NewNodeInfo(&v1.Node{}, p)
	c := n.Clone()
	if !c.RemovePod("u1") || c.Requested.MilliCPU != 0 || len(c.UsedPorts) != 0 || len(c.Pods) != 0 {
		t.Fatalf("after remove: %+v", c)
	}
	if n.Requested.MilliCPU != 500 || len(n.UsedPorts) != 1 || len(n.Pods) != 1 {
		t.Fatalf("clone shared state with original: %+v", n)
	}
}
