package kubelet

import (
	"fmt"
	"strings"
	"testing"
	"time"

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

func TestParseEvictionHard(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string // signal=quantity or percentage
		err  bool
	}{
		{"", []string{"memory.available=100Mi", "nodefs.available=10%", "imagefs.available=15%", "nodefs.inodesFree=5%"}, false},
		{"memory.available<1Gi, nodefs.available<150Mi,pid.available<5%", []string{"memory.available=1Gi", "nodefs.available=150Mi", "pid.available=5%"}, false},
		{"imagefs.inodesFree<1000", []string{"imagefs.inodesFree=1k"}, false},
		{"memory.available>1Gi", nil, true},
		{"cpu.available<1", nil, true},
		{"nodefs.available<150%", nil, true},
		{"nodefs.available<lots", nil, true},
	} {
		got, err := parseEvictionHard(tc.spec)
		if (err != nil) != tc.err {
			t.Errorf("%q: err = %v, want error %v", tc.spec, err, tc.err)
			continue
		}
		var s []string
		for _, th := range got {
			if th.Quantity != nil {
				s = append(s, th.Signal+"="+th.Quantity.String())
			} else {
				s = append(s, fmt.Sprintf("%s=%g%%", th.Signal, th.Percentage*100))
			}
		}
		if strings.Join(s, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q: got %v, want %v", tc.spec, s, tc.want)
		}
	}
}

func TestPIDPressure(t *testing.T) {
	th, _ := parseEvictionHard("pid.available<10%")
	met := thresholdsMet(th, map[string]signalObservation{signalPIDAvailable: {Available: 500, Capacity: 10000}})
	if p := pressureOf(met); !p.PID || p.Disk || p.Memory {
		t.Errorf("pressure = %+v, want PID only", p)
	}
	if len(met) != 1 || met[0].Quantity.String() != "1k" || signalResource(met[0].Threshold.Signal) != "pids" {
		t.Errorf("met = %+v", met)
	}
}

func TestStorageLimitExceeded(t *testing.T) {
	mi := int64(1) << 20
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	pod := func(sizeLimit string, limits ...string) *v1.Pod {
		p := &v1.Pod{}
		if sizeLimit != "" {
			p.Spec.Volumes = []v1.Volume{{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: q(sizeLimit)}}}}
		}
		for i, l := range limits {
			c := v1.Container{Name: fmt.Sprintf("c%d", i)}
			if l != "" {
				c.Resources.Limits = v1.ResourceList{v1.ResourceEphemeralStorage: *q(l)}
			}
			p.Spec.Containers = append(p.Spec.Containers, c)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		pod  *v1.Pod
		use  storageUse
		want string
	}{
		{"no limits", pod("", ""), storageUse{Containers: map[string]int64{"c0": 900 * mi}}, ""},
		{"emptyDir within", pod("100Mi", ""), storageUse{EmptyDirs: map[string]int64{"scratch": 99 * mi}}, ""},
		{"emptyDir over", pod("100Mi", ""), storageUse{EmptyDirs: map[string]int64{"scratch": 101 * mi}},
			`Usage of EmptyDir volume "scratch" exceeds the limit "100Mi". `},
		{"container over", pod("", "10Mi", ""), storageUse{Containers: map[string]int64{"c0": 11 * mi, "c1": 500 * mi}},
			"Container c0 exceeded its local ephemeral storage limit \"10Mi\". "},
		{"pod over the containers' sum", pod("", "10Mi", "20Mi"),
			storageUse{Containers: map[string]int64{"c0": 9 * mi, "c1": 19 * mi}, EmptyDirs: map[string]int64{"x": 5 * mi}},
			"Pod ephemeral local storage usage exceeds the total limit of containers 30Mi. "},
	} {
		if got := storageLimitExceeded(tc.pod, tc.use); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if hasStorageLimit(tc.pod) != (tc.name != "no limits") {
			t.Errorf("%s: hasStorageLimit = %v", tc.name, hasStorageLimit(tc.pod))
		}
	}
	u := storageUse{Containers: map[string]int64{"c0": 3 * mi}, EmptyDirs: map[string]int64{"x": 5 * mi}}.podUsage()
	c0, dirs := u["c0"], u[""]
	if u.total() != 8*mi || c0.Value() != 3*mi || dirs.Value() != 5*mi {
		t.Errorf("podUsage = %v", u)
	}
}

func TestNotePressureTransition(t *testing.T) {
	k := &Kubelet{cfg: Config{EvictionPressureTransitionPeriod: 5 * time.Minute}, pressureLast: map[string]time.Time{},
		statusNow: make(chan struct{}, 1)}
	at := t0
	if p := k.notePressure(nodePressure{}, at); p != (nodePressure{}) {
		t.Fatalf("no pressure observed: %+v", p)
	}
	if p := k.notePressure(nodePressure{Disk: true}, at); !p.Disk || p.Memory {
		t.Fatalf("disk pressure observed: %+v", p)
	}
	select {
	case <-k.statusNow:
	default:
		t.Error("new pressure did not ask for a node status update")
	}
	if p := k.notePressure(nodePressure{}, at.Add(4*time.Minute)); !p.Disk {
		t.Error("disk pressure dropped within the transition period")
	}
	if p := k.notePressure(nodePressure{}, at.Add(5*time.Minute)); p.Disk {
		t.Error("disk pressure kept after the transition period")
	}
}
