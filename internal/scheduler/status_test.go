package scheduler

import (
	"encoding/json"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSchedulingStatusPatch(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	earlier := metav1.NewTime(now.Add(-time.Minute))
	failing := func(msg string) *v1.Pod {
		p := testPod("p", "", "")
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: "Unschedulable", Message: msg, LastTransitionTime: earlier}}
		return p
	}
	tests := []struct {
		name      string
		pod       *v1.Pod
		change    statusChange
		wantPatch bool
		wantLTT   time.Time
		wantNom   any // absent: not in patch
	}{
		{"first failure", testPod("p", "", ""), statusChange{Reason: "Unschedulable", Message: "m"}, true, now, "absent"},
		{"same failure again writes nothing", failing("m"), statusChange{Reason: "Unschedulable", Message: "m"}, false, time.Time{}, "absent"},
		{"new message keeps transition time", failing("m"), statusChange{Reason: "Unschedulable", Message: "m2"}, true, earlier.Time, "absent"},
		{"nomination is written", failing("m"), statusChange{Reason: "Unschedulable", Message: "m", Nominated: "n1"}, true, earlier.Time, "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := schedulingStatusPatch(tt.pod, tt.change, now)
			if (b != nil) != tt.wantPatch {
				t.Fatalf("patch = %s, want patch: %v", b, tt.wantPatch)
			}
			if b == nil {
				return
			}
			var got struct {
				Status map[string]json.RawMessage `json:"status"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			var conds []v1.PodCondition
			if err := json.Unmarshal(got.Status["conditions"], &conds); err != nil {
				t.Fatal(err)
			}
			c := conds[0]
			if c.Type != v1.PodScheduled || c.Status != v1.ConditionFalse || c.Reason != tt.change.Reason || c.Message != tt.change.Message {
				t.Errorf("condition = %+v", c)
			}
			if !c.LastTransitionTime.Time.Equal(tt.wantLTT) {
				t.Errorf("lastTransitionTime = %v, want %v", c.LastTransitionTime, tt.wantLTT)
			}
			nom, ok := got.Status["nominatedNodeName"]
			switch {
			case tt.wantNom == "absent" && ok:
				t.Errorf("nominatedNodeName in patch: %s", nom)
			case tt.wantNom != "absent" && string(nom) != `"`+tt.wantNom.(string)+`"`:
				t.Errorf("nominatedNodeName = %s, want %v", nom, tt.wantNom)
			}
		})
	}
}

func TestPendingAndPlaced(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name    string
		mutate  func(*v1.Pod)
		pending bool
	}{
		{"unbound default", func(*v1.Pod) {}, true},
		{"empty scheduler name means default", func(p *v1.Pod) { p.Spec.SchedulerName = "" }, true},
		{"other scheduler", func(p *v1.Pod) { p.Spec.SchedulerName = "other" }, false},
		{"bound", func(p *v1.Pod) { p.Spec.NodeName = "a" }, false},
		{"terminating", func(p *v1.Pod) { p.DeletionTimestamp = &now }, false},
		{"failed", func(p *v1.Pod) { p.Status.Phase = v1.PodFailed }, false},
	}
	for _, tt := range tests {
		p := testPod("p", "", "")
		tt.mutate(p)
		if got := isPendingFor(p, DefaultSchedulerName); got != tt.pending {
			t.Errorf("%s: isPendingFor = %v, want %v", tt.name, got, tt.pending)
		}
	}
}

func TestNodeUpdateMayHelp(t *testing.T) {
	base := testNode("a", "2")
	tests := []struct {
		name   string
		mutate func(*v1.Node)
		helps  bool
	}{
		{"heartbeat only", func(n *v1.Node) { n.Status.Conditions[0].LastHeartbeatTime = metav1.Now() }, false},
		{"became ready", func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse }, true},
		{"uncordoned", func(n *v1.Node) { n.Spec.Unschedulable = true }, true},
		{"taint", func(n *v1.Node) { n.Spec.Taints = []v1.Taint{{Key: "k", Effect: v1.TaintEffectNoSchedule}} }, true},
		{"label", func(n *v1.Node) { n.Labels = map[string]string{"disk": "ssd"} }, true},
		{"allocatable", func(n *v1.Node) { n.Status.Allocatable[v1.ResourceCPU] = resource.MustParse("4") }, true},
	}
	for _, tt := range tests {
		cur := base.DeepCopy()
		tt.mutate(cur)
		if got := nodeUpdateMayHelp(base, cur); got != tt.helps {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.helps)
		}
	}
}
