package plugins

import (
	"errors"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

const controlPlane = "node-role.kubernetes.io/control-plane"

func newFramework(seed uint64) *framework.Framework {
	return framework.New(DefaultProfile(), rand.New(rand.NewPCG(seed, seed)))
}

// The failure message is what users read in `kubectl describe pod`; it
// must match upstream kube-scheduler word for word.
func TestFailureMessages(t *testing.T) {
	never := v1.PreemptNever
	tests := []struct {
		name  string
		nodes []*v1.Node
		pods  []*v1.Pod // already placed
		pod   *v1.Pod
		want  string
	}{
		{
			name: "insufficient cpu and control-plane taints",
			nodes: []*v1.Node{
				node("cp1", withTaint(controlPlane, "", v1.TaintEffectNoSchedule)),
				node("cp2", withTaint(controlPlane, "", v1.TaintEffectNoSchedule)),
				node("w1"),
			},
			pods: []*v1.Pod{pod("big", cpu("1500m"), on("w1"))},
			pod:  pod("p", cpu("1")),
			want: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). " +
				"no new claims to deallocate, preemption: 0/3 nodes are available: " +
				"1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
		},
		{
			name:  "request larger than any node: preemption cannot help",
			nodes: []*v1.Node{node("a"), node("b"), node("c")},
			pod:   pod("p", cpu("64")),
			want: "0/3 nodes are available: 3 Insufficient cpu. no new claims to deallocate, " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name:  "cpu and memory both short count separately",
			nodes: []*v1.Node{node("a")},
			pods:  []*v1.Pod{pod("x", cpu("2"), mem("4Gi"), on("a"))},
			pod:   pod("p", cpu("100m"), mem("1Gi")),
			want: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. no new claims to deallocate, " +
				"preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		{
			name:  "node selector",
			nodes: []*v1.Node{node("a"), node("b", withLabel("disk", "hdd"))},
			pod:   pod("p", selector("disk", "ssd")),
			want: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. no new claims to deallocate, " +
				"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		{
			name:  "cordoned and not ready",
			nodes: []*v1.Node{node("a", cordoned), node("b", withReady(v1.ConditionFalse)), node("c", withReady(v1.ConditionUnknown))},
			pod:   pod("p"),
			want: "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) were not ready. no new claims to deallocate, " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name:  "host port taken",
			nodes: []*v1.Node{node("a")},
			pods:  []*v1.Pod{pod("web", hostPort(8080), on("a"))},
			pod:   pod("p", hostPort(8080)),
			want: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. no new claims to deallocate, " +
				"preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		{
			name:  "too many pods",
			nodes: []*v1.Node{node("a", withAlloc(v1.ResourcePods, "1"))},
			pods:  []*v1.Pod{pod("x", on("a"))},
			pod:   pod("p"),
			want: "0/1 nodes are available: 1 Too many pods. no new claims to deallocate, " +
				"preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		{
			name:  "preemptionPolicy Never",
			nodes: []*v1.Node{node("a")},
			pods:  []*v1.Pod{pod("x", cpu("2"), on("a"))},
			pod:   pod("p", cpu("1"), func(p *v1.Pod) { p.Spec.PreemptionPolicy = &never }),
			want:  "0/1 nodes are available: 1 Insufficient cpu. no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never.",
		},
		{
			name:  "daemonset pod pinned to a full node",
			nodes: []*v1.Node{node("a"), node("b"), node("c")},
			pods:  []*v1.Pod{pod("x", cpu("2"), on("b"))},
			pod: pod("ds", cpu("1"), required(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"b"}},
			}})),
			want: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. no new claims to deallocate, " +
				"preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
		},
		{
			name:  "daemonset pod for a node that is gone",
			nodes: []*v1.Node{node("a")},
			pod: pod("ds", required(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"gone"}},
			}})),
			want: "0/1 nodes are available: 1 node(s) didn't satisfy plugin(s) [NodeAffinity]. no new claims to deallocate, " +
				"preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
		},
		{
			name:  "lower-priority pods that would not free enough",
			nodes: []*v1.Node{node("a")},
			pods:  []*v1.Pod{pod("low", cpu("500m"), priority(1), on("a")), pod("high", cpu("1500m"), priority(100), on("a"))},
			pod:   pod("p", cpu("1"), priority(10)),
			want: "0/1 nodes are available: 1 Insufficient cpu. no new claims to deallocate, " +
				"preemption: 0/1 nodes are available: 1 Insufficient cpu.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newFramework(1).Schedule(tt.pod, snapshot(tt.nodes, tt.pods...))
			var fe *framework.FitError
			if !errors.As(err, &fe) {
				t.Fatalf("Schedule() error = %v, want a FitError", err)
			}
			if got := fe.Error(); got != tt.want {
				t.Errorf("message:\n got: %s\nwant: %s", got, tt.want)
			}
			if fe.Nomination != nil {
				t.Errorf("unexpected nomination %+v", fe.Nomination)
			}
		})
	}
}

func TestNoNodes(t *testing.T) {
	_, err := newFramework(1).Schedule(pod("p"), &framework.Snapshot{})
	if !errors.Is(err, framework.ErrNoNodesAvailable) || err.Error() != "no nodes available to schedule pods" {
		t.Fatalf("error = %v", err)
	}
}

func TestFeasibility(t *testing.T) {
	exists := v1.TolerationOpExists
	tests := []struct {
		name string
		node *v1.Node
		pod  *v1.Pod
		fits bool
	}{
		{"plain", node("a"), pod("p", cpu("1")), true},
		{"exact fit", node("a"), pod("p", cpu("2"), mem("4Gi")), true},
		{"tolerated NoSchedule taint", node("a", withTaint("k", "v", v1.TaintEffectNoSchedule)), pod("p", tolerate("k", v1.TolerationOpEqual, "v", v1.TaintEffectNoSchedule)), true},
		{"wrong value", node("a", withTaint("k", "v", v1.TaintEffectNoSchedule)), pod("p", tolerate("k", v1.TolerationOpEqual, "w", v1.TaintEffectNoSchedule)), false},
		{"NoExecute taint", node("a", withTaint("k", "", v1.TaintEffectNoExecute)), pod("p"), false},
		{"PreferNoSchedule does not filter", node("a", withTaint("k", "", v1.TaintEffectPreferNoSchedule)), pod("p"), true},
		{"tolerate everything", node("a", withTaint("k", "v", v1.TaintEffectNoExecute)), pod("p", tolerate("", exists, "", "")), true},
		{"cordoned but tolerated", node("a", cordoned), pod("p", tolerate(v1.TaintNodeUnschedulable, exists, "", v1.TaintEffectNoSchedule)), true},
		{"not ready but tolerated", node("a", withReady(v1.ConditionFalse)), pod("p", tolerate(v1.TaintNodeNotReady, exists, "", v1.TaintEffectNoSchedule)), true},
		{"no Ready condition", node("a", func(n *v1.Node) { n.Status.Conditions = nil }), pod("p"), false},
		{"selector matches", node("a", withLabel("disk", "ssd")), pod("p", selector("disk", "ssd")), true},
		{"In", node("a", withLabel("zone", "z1")), pod("p", required(term(req("zone", v1.NodeSelectorOpIn, "z1", "z2")))), true},
		{"NotIn", node("a", withLabel("zone", "z1")), pod("p", required(term(req("zone", v1.NodeSelectorOpNotIn, "z1")))), false},
		{"NotIn on missing label", node("a"), pod("p", required(term(req("zone", v1.NodeSelectorOpNotIn, "z1")))), true},
		{"Exists", node("a", withLabel("gpu", "")), pod("p", required(term(req("gpu", v1.NodeSelectorOpExists)))), true},
		{"DoesNotExist", node("a", withLabel("gpu", "")), pod("p", required(term(req("gpu", v1.NodeSelectorOpDoesNotExist)))), false},
		{"Gt", node("a", withLabel("cores", "8")), pod("p", required(term(req("cores", v1.NodeSelectorOpGt, "4")))), true},
		{"Lt", node("a", withLabel("cores", "8")), pod("p", required(term(req("cores", v1.NodeSelectorOpLt, "4")))), false},
		{"terms are ORed", node("a", withLabel("zone", "z2")), pod("p", required(term(req("zone", v1.NodeSelectorOpIn, "z1")), term(req("zone", v1.NodeSelectorOpIn, "z2")))), true},
		{"expressions are ANDed", node("a", withLabel("zone", "z1")), pod("p", required(term(req("zone", v1.NodeSelectorOpIn, "z1"), req("gpu", v1.NodeSelectorOpExists)))), false},
		{"empty term matches nothing", node("a"), pod("p", required(v1.NodeSelectorTerm{})), false},
		{"matchFields NotIn", node("a"), pod("p", required(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpNotIn, Values: []string{"a"}}}})), false},
		{"extended resource missing", node("a"), pod("p", func(p *v1.Pod) {
			p.Spec.Containers[0].Resources.Requests = v1.ResourceList{"example.com/gpu": mustQ("1")}
		}), false},
		{"extended resource present", node("a", withAlloc("example.com/gpu", "2")), pod("p", func(p *v1.Pod) {
			p.Spec.Containers[0].Resources.Requests = v1.ResourceList{"example.com/gpu": mustQ("2")}
		}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := newFramework(1).Schedule(tt.pod, snapshot([]*v1.Node{tt.node}))
			if tt.fits && (err != nil || res.SuggestedHost != tt.node.Name) {
				t.Fatalf("want fit, got host %q err %v", res.SuggestedHost, err)
			}
			if !tt.fits && err == nil {
				t.Fatalf("want no fit, got host %q", res.SuggestedHost)
			}
		})
	}
}

func term(reqs ...v1.NodeSelectorRequirement) v1.NodeSelectorTerm {
	return v1.NodeSelectorTerm{MatchExpressions: reqs}
}

func req(key string, op v1.NodeSelectorOperator, values ...string) v1.NodeSelectorRequirement {
	return v1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func TestHostPortConflicts(t *testing.T) {
	tests := []struct {
		name     string
		used     framework.HostPort
		want     framework.HostPort
		conflict bool
	}{
		{"same port any ip", framework.HostPort{Protocol: "TCP", Port: 80}, framework.HostPort{Protocol: "TCP", Port: 80}, true},
		{"other protocol", framework.HostPort{Protocol: "UDP", Port: 80}, framework.HostPort{Protocol: "TCP", Port: 80}, false},
		{"different ips", framework.HostPort{IP: "10.0.0.1", Protocol: "TCP", Port: 80}, framework.HostPort{IP: "10.0.0.2", Protocol: "TCP", Port: 80}, false},
		{"wildcard vs ip", framework.HostPort{IP: "0.0.0.0", Protocol: "TCP", Port: 80}, framework.HostPort{IP: "10.0.0.2", Protocol: "TCP", Port: 80}, true},
		{"other port", framework.HostPort{Protocol: "TCP", Port: 81}, framework.HostPort{Protocol: "TCP", Port: 80}, false},
	}
	for _, tt := range tests {
		if got := tt.want.Conflicts(tt.used); got != tt.conflict {
			t.Errorf("%s: Conflicts = %v, want %v", tt.name, got, tt.conflict)
		}
	}
}

func TestScoringPrefersLeastAllocated(t *testing.T) {
	nodes := []*v1.Node{node("busy"), node("idle")}
	placed := []*v1.Pod{pod("x", cpu("1500m"), mem("3Gi"), on("busy"))}
	for seed := uint64(0); seed < 20; seed++ {
		res, err := newFramework(seed).Schedule(pod("p", cpu("100m")), snapshot(nodes, placed...))
		if err != nil || res.SuggestedHost != "idle" {
			t.Fatalf("seed %d: host %q err %v, want idle", seed, res.SuggestedHost, err)
		}
	}
}

func TestScoringSpreadsReplicas(t *testing.T) {
	// Same load on both nodes; a has two replicas of the ReplicaSet, b one
	// unrelated pod with the same requests.
	nodes := []*v1.Node{node("a"), node("b")}
	placed := []*v1.Pod{
		pod("r1", cpu("100m"), ownedBy("rs-1"), on("a")),
		pod("o1", cpu("100m"), ownedBy("rs-2"), on("b")),
	}
	for seed := uint64(0); seed < 20; seed++ {
		res, err := newFramework(seed).Schedule(pod("r2", cpu("100m"), ownedBy("rs-1")), snapshot(nodes, placed...))
		if err != nil || res.SuggestedHost != "b" {
			t.Fatalf("seed %d: host %q err %v, want b", seed, res.SuggestedHost, err)
		}
	}
}

func TestScoringSpreadsServicePods(t *testing.T) {
	nodes := []*v1.Node{node("a"), node("b")}
	placed := []*v1.Pod{
		pod("w1", cpu("100m"), labeled("app", "web"), on("a")),
		pod("o1", cpu("100m"), labeled("app", "db"), on("b")),
	}
	snap := snapshot(nodes, placed...)
	snap.Services = []*v1.Service{{
		ObjectMeta: metaNS("default", "web"),
		Spec:       v1.ServiceSpec{Selector: map[string]string{"app": "web"}},
	}}
	for seed := uint64(0); seed < 20; seed++ {
		res, err := newFramework(seed).Schedule(pod("w2", cpu("100m"), labeled("app", "web")), snap)
		if err != nil || res.SuggestedHost != "b" {
			t.Fatalf("seed %d: host %q err %v, want b", seed, res.SuggestedHost, err)
		}
	}
}

func TestScoringAvoidsPreferNoSchedule(t *testing.T) {
	nodes := []*v1.Node{node("a", withTaint("k", "", v1.TaintEffectPreferNoSchedule)), node("b")}
	for seed := uint64(0); seed < 20; seed++ {
		res, err := newFramework(seed).Schedule(pod("p"), snapshot(nodes))
		if err != nil || res.SuggestedHost != "b" {
			t.Fatalf("seed %d: host %q err %v, want b", seed, res.SuggestedHost, err)
		}
	}
}

func TestTiesAreBrokenRandomly(t *testing.T) {
	nodes := []*v1.Node{node("a"), node("b"), node("c")}
	seen := map[string]int{}
	for seed := uint64(0); seed < 60; seed++ {
		res, err := newFramework(seed).Schedule(pod("p"), snapshot(nodes))
		if err != nil {
			t.Fatal(err)
		}
		seen[res.SuggestedHost]++
	}
	if len(seen) != 3 {
		t.Fatalf("ties went to %v, want all three nodes", seen)
	}
}

func TestPreemptionChoosesLowestPriorityVictims(t *testing.T) {
	nodes := []*v1.Node{node("a"), node("b")}
	placed := []*v1.Pod{
		pod("a-mid", cpu("1500m"), priority(50), on("a")),
		pod("b-low", cpu("1"), priority(1), on("b")),
		pod("b-low2", cpu("1"), priority(2), on("b")),
	}
	_, err := newFramework(1).Schedule(pod("p", cpu("1"), priority(100)), snapshot(nodes, placed...))
	var fe *framework.FitError
	if !errors.As(err, &fe) || fe.Nomination == nil {
		t.Fatalf("want a nomination, got %v", err)
	}
	if fe.Nomination.NominatedNodeName != "b" || len(fe.Nomination.Victims) != 1 || fe.Nomination.Victims[0].Name != "b-low" {
		t.Fatalf("nomination = %s %v, want b with victim b-low", fe.Nomination.NominatedNodeName, names(fe.Nomination.Victims))
	}
	want := "0/2 nodes are available: 2 Insufficient cpu."
	if fe.Error() != want {
		t.Errorf("message %q, want %q", fe.Error(), want)
	}
}

func names(ps []*v1.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}
