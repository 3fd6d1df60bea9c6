package kubelet

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestThresholdsMet(t *testing.T) {
	const gi = int64(1) << 30
	for _, tc := range []struct {
		name string
		obs  map[string]signalObservation
		want []string // signal=quantity/available
		p    nodePressure
	}{
		{"plenty", map[string]signalObservation{
			signalMemoryAvailable: {Available: 2 * gi, Capacity: 8 * gi},
			signalNodeFsAvailable: {Available: 50 * gi, Capacity: 100 * gi},
		}, nil, nodePressure{}},
		{"low memory", map[string]signalObservation{
			signalMemoryAvailable: {Available: 50 << 20, Capacity: 8 * gi},
		}, []string{"memory.available=100Mi/50Mi"}, nodePressure{Memory: true}},
		{"low disk and inodes", map[string]signalObservation{
			signalNodeFsAvailable:  {Available: 9 * gi, Capacity: 100 * gi},
			signalImageFsAvailable: {Available: 16 * gi, Capacity: 100 * gi},
			signalNodeFsInodesFree: {Available: 400, Capacity: 10000},
		}, []string{"nodefs.available=10Gi/9Gi", "nodefs.inodesFree=500/400"}, nodePressure{Disk: true}},
		{"imagefs", map[string]signalObservation{
			signalImageFsAvailable: {Available: 14 * gi, Capacity: 100 * gi},
		}, []string{"imagefs.available=15Gi/14Gi"}, nodePressure{Disk: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			met := thresholdsMet(defaultEvictionThresholds(), tc.obs)
			var got []string
			for _, m := range met {
				got = append(got, m.Threshold.Signal+"="+m.Quantity.String()+"/"+m.Available.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
			if p := pressureOf(met); p != tc.p {
				t.Errorf("pressure %+v, want %+v", p, tc.p)
			}
		})
	}
}

func TestPressureConditionSpecs(t *testing.T) {
	specs := pressureConditionSpecs(nodePressure{})
	if specs[0].Reason != "KubeletHasSufficientMemory" || specs[0].Message != "kubelet has sufficient memory available" ||
		specs[1].Reason != "KubeletHasNoDiskPressure" || specs[2].Reason != "KubeletHasSufficientPID" {
		t.Errorf("no pressure: %+v", specs)
	}
	specs = pressureConditionSpecs(nodePressure{Memory: true, Disk: true})
	if specs[0].Status != v1.ConditionTrue || specs[0].Reason != "KubeletHasInsufficientMemory" ||
		specs[1].Status != v1.ConditionTrue || specs[1].Reason != "KubeletHasDiskPressure" || specs[2].Status != v1.ConditionFalse {
		t.Errorf("pressure: %+v", specs)
	}
}

func TestEvictionMessageAndRanking(t *testing.T) {
	hog := testPod(v1.RestartPolicyAlways, []string{"c"})
	hog.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceMemory: resource.MustParse("10Mi")}
	met := thresholdsMet(defaultEvictionThresholds(), map[string]signalObservation{
		signalMemoryAvailable: {Available: 50 << 20, Capacity: 8 << 30}})[0]
	usage := podUsage{"c": resource.MustParse("200Mi")}
	want := "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. " +
		"Container c was using 200Mi, request is 10Mi, has larger consumption of memory. "
	msg := evictionMessage(hog, met, usage)
	if msg != want {
		t.Errorf("message\n got %q\nwant %q", msg, want)
	}
	st := evictedStatus(hog, v1.PodStatus{Phase: v1.PodRunning, ContainerStatuses: []v1.ContainerStatus{{Name: "c", Ready: true}}}, msg, t0)
	if st.Phase != v1.PodFailed || st.Reason != "Evicted" || st.Message != msg || st.ContainerStatuses[0].Ready ||
		cond(st, v1.DisruptionTarget).Reason != "TerminationByKubelet" {
		t.Errorf("evicted status %+v", st)
	}

	small := testPod(v1.RestartPolicyAlways, []string{"c"})
	small.UID = "uid-small"
	small.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceMemory: resource.MustParse("100Mi")}
	high := testPod(v1.RestartPolicyAlways, []string{"c"})
	high.UID, high.Spec.Priority = "uid-high", ptr(int32(1000))
	ranked := rankForEviction([]*v1.Pod{small, high, hog}, v1.ResourceMemory, map[string]podUsage{
		"uid-1": usage, "uid-small": {"c": resource.MustParse("20Mi")}, "uid-high": {"c": resource.MustParse("500Mi")},
	})
	if ranked[0] != hog || ranked[1] != high || ranked[2] != small {
		t.Errorf("ranking: %s %s %s", ranked[0].UID, ranked[1].UID, ranked[2].UID)
	}
}

func TestObserveSignals(t *testing.T) {
	if v, ok := statValue("cache 5\ntotal_inactive_file 1234\n", "total_inactive_file"); !ok || v != 1234 {
		t.Errorf("statValue %d %v", v, ok)
	}
	k := &Kubelet{cfg: Config{DataDir: t.TempDir()}}
	obs := k.observeSignals()
	for _, s := range []string{signalMemoryAvailable, signalNodeFsAvailable, signalImageFsAvailable, signalNodeFsInodesFree} {
		if o, ok := obs[s]; !ok || o.Capacity <= 0 || o.Available < 0 || o.Available > o.Capacity {
			t.Errorf("%s: %+v", s, o)
		}
	}
}
