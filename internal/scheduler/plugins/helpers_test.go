package plugins

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// Small builders so that test tables read like the cluster they describe.

type nodeOpt func(*v1.Node)

func node(name string, opts ...nodeOpt) *v1.Node {
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{
				v1.ResourceCPU:    resource.MustParse("2"),
				v1.ResourceMemory: resource.MustParse("4Gi"),
				v1.ResourcePods:   resource.MustParse("110"),
			},
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withTaint(key, value string, effect v1.TaintEffect) nodeOpt {
	return func(n *v1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func withAlloc(name v1.ResourceName, q string) nodeOpt {
	return func(n *v1.Node) { n.Status.Allocatable[name] = resource.MustParse(q) }
}

func withLabel(k, v string) nodeOpt { return func(n *v1.Node) { n.Labels[k] = v } }

func cordoned(n *v1.Node) { n.Spec.Unschedulable = true }

func withReady(s v1.ConditionStatus) nodeOpt {
	return func(n *v1.Node) { n.Status.Conditions = []v1.NodeCondition{{Type: v1.NodeReady, Status: s}} }
}

type podOpt func(*v1.Pod)

var uidSeq int

func pod(name string, opts ...podOpt) *v1.Pod {
	uidSeq++
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(fmt.Sprintf("uid-%s-%d", name, uidSeq))},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "busybox"}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func cpu(q string) podOpt {
	return func(p *v1.Pod) {
		c := &p.Spec.Containers[0]
		if c.Resources.Requests == nil {
			c.Resources.Requests = v1.ResourceList{}
		}
		c.Resources.Requests[v1.ResourceCPU] = resource.MustParse(q)
	}
}

func mem(q string) podOpt {
	return func(p *v1.Pod) {
		c := &p.Spec.Containers[0]
		if c.Resources.Requests == nil {
			c.Resources.Requests = v1.ResourceList{}
		}
		c.Resources.Requests[v1.ResourceMemory] = resource.MustParse(q)
	}
}

func on(node string) podOpt { return func(p *v1.Pod) { p.Spec.NodeName = node } }

func priority(v int32) podOpt { return func(p *v1.Pod) { p.Spec.Priority = &v } }

func hostPort(port int32) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, v1.ContainerPort{ContainerPort: 80, HostPort: port})
	}
}

func tolerate(key string, op v1.TolerationOperator, value string, effect v1.TaintEffect) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, v1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	}
}

func selector(kv ...string) podOpt {
	return func(p *v1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func required(terms ...v1.NodeSelectorTerm) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: terms},
		}}
	}
}

func ownedBy(uid string) podOpt {
	return func(p *v1.Pod) {
		t := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: types.UID(uid), Controller: &t}}
	}
}

func labeled(kv ...string) podOpt {
	return func(p *v1.Pod) {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		for i := 0; i < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

// snapshot places pods (which must name their node) on nodes.
func snapshot(nodes []*v1.Node, pods ...*v1.Pod) *framework.Snapshot {
	s := &framework.Snapshot{}
	for _, n := range nodes {
		var mine []*v1.Pod
		for _, p := range pods {
			if p.Spec.NodeName == n.Name {
				mine = append(mine, p)
			}
		}
		s.Nodes = append(s.Nodes, framework.NewNodeInfo(n, mine...))
	}
	return s
}

func mustQ(s string) resource.Quantity { return resource.MustParse(s) }

func metaNS(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("svc-" + name)}
}
