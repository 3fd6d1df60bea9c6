// Package plugins holds kedge's scheduler plugins, one small file per
// concern, named and worded like kube-scheduler's so that users' messages
// and mental model carry over. Every plugin is pure: it reads the pod and a
// framework.NodeInfo and returns a framework.Status or a score.
package plugins

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// Plugin names, as upstream spells them.
const (
	NodeUnschedulableName = "NodeUnschedulable"
	NodeNameName          = "NodeName"
	TaintTolerationName   = "TaintToleration"
	NodeReadyName         = "NodeReady"
	NodeAffinityName      = "NodeAffinity"
	NodePortsName         = "NodePorts"
	NodeResourcesFitName  = "NodeResourcesFit"
	SelectorSpreadName    = "SelectorSpread"
	DynamicResourcesName  = "DynamicResources"
	DefaultPreemptionName = "DefaultPreemption"
)

// DefaultProfile is the plugin set kedge's scheduler runs, in upstream's
// order so that the first rejecting plugin (whose reason is shown) is the
// one upstream would show.
func DefaultProfile() framework.Profile {
	fit := &NodeResourcesFit{}
	affinity := &NodeAffinity{}
	taints := &TaintToleration{}
	spread := &SelectorSpread{}
	ports := &NodePorts{}
	return framework.Profile{
		PreFilter: []framework.PreFilterPlugin{fit, ports, affinity},
		Filter: []framework.FilterPlugin{
			&NodeUnschedulable{},
			&NodeName{},
			taints,
			&NodeReady{},
			affinity,
			ports,
			fit,
		},
		PostFilter: []framework.PostFilterPlugin{
			&DynamicResources{},
			&DefaultPreemption{},
		},
		PreScore: []framework.PreScorePlugin{spread, affinity, taints},
		Score: []framework.WeightedScore{
			{Plugin: fit, Weight: 1},
			{Plugin: spread, Weight: 2},
			{Plugin: affinity, Weight: 2},
			{Plugin: taints, Weight: 3},
		},
	}
}

// tolerates reports whether any toleration tolerates the taint.
func tolerates(tolerations []v1.Toleration, taint *v1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(klog.Background(), taint, true) {
			return true
		}
	}
	return false
}
