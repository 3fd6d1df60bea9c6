package nodeipam

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

func TestNewAllocatorValidates(t *testing.T) {
	tests := []struct {
		cidr string
		mask int
		ok   bool
	}{
		{"10.42.0.0/16", 24, true},
		{"10.42.7.9/16", 24, true}, // host bits are masked
		{"10.42.0.0/24", 24, true},
		{"10.42.0.0/24", 16, false},
		{"10.0.0.0/8", 28, false}, // too many subnets
		{"fd00::/48", 64, false},
		{"bogus", 24, false},
	}
	for _, tt := range tests {
		_, err := NewAllocator(tt.cidr, tt.mask)
		if (err == nil) != tt.ok {
			t.Errorf("NewAllocator(%s, %d) err = %v", tt.cidr, tt.mask, err)
		}
	}
}

func TestAllocator(t *testing.T) {
	a, err := NewAllocator("10.42.0.0/22", 24)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Occupy("10.42.1.0/24") {
		t.Fatal("occupy a valid subnet")
	}
	for _, bad := range []string{"10.43.0.0/24", "10.42.0.0/25", "10.42.0.128/24", "x"} {
		if a.Occupy(bad) {
			t.Errorf("Occupy(%s) must be refused", bad)
		}
	}
	var got []string
	for range 3 {
		c, err := a.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	want := []string{"10.42.0.0/24", "10.42.2.0/24", "10.42.3.0/24"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocations = %v, want %v (the occupied one skipped)", got, want)
		}
	}
	if _, err := a.Allocate(); !errors.Is(err, ErrFull) {
		t.Errorf("err = %v, want ErrFull", err)
	}
	a.Release("10.42.2.0/24")
	if c, _ := a.Allocate(); c != "10.42.2.0/24" {
		t.Errorf("after release got %s", c)
	}
}

func node(name string, cidrs ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if len(cidrs) > 0 {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidrs[0], cidrs
	}
	return n
}

func TestControllerNeverReusesHeldCIDRs(t *testing.T) {
	cs := ctrltest.NewClientset(node("a", "10.42.0.0/24"), node("b"), node("c", "10.42.1.0/24"))
	f := informers.NewSharedInformerFactory(cs, 0)
	c, err := New(Options{Client: cs, Informers: f, Recorder: record.NewFakeRecorder(10), ClusterCIDR: "10.42.0.0/16", NodeCIDRMaskSize: 24, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)
	go c.Run(ctx)
	ctrltest.Eventually(t, "node b gets a CIDR", func() bool {
		n, _ := cs.CoreV1().Nodes().Get(ctx, "b", metav1.GetOptions{})
		return n.Spec.PodCIDR != ""
	})
	n, _ := cs.CoreV1().Nodes().Get(ctx, "b", metav1.GetOptions{})
	if n.Spec.PodCIDR != "10.42.2.0/24" || len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
		t.Errorf("node b: podCIDR %q podCIDRs %v", n.Spec.PodCIDR, n.Spec.PodCIDRs)
	}
}

func TestControllerReportsExhaustion(t *testing.T) {
	cs := ctrltest.NewClientset(node("a", "10.42.0.0/24"), node("b"))
	f := informers.NewSharedInformerFactory(cs, 0)
	rec := record.NewFakeRecorder(10)
	c, err := New(Options{Client: cs, Informers: f, Recorder: rec, ClusterCIDR: "10.42.0.0/24", NodeCIDRMaskSize: 24, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)
	c.occupy(node("a", "10.42.0.0/24"))
	if err := c.sync(ctx, "b"); err == nil {
		t.Fatal("want an error when the range is full")
	}
	if ev := ctrltest.Drain(rec.Events); len(ev) != 1 || ev[0] != "Normal CIDRNotAvailable Node b status is now: CIDRNotAvailable" {
		t.Errorf("events = %q", ev)
	}
}
