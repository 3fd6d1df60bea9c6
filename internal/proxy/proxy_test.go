package proxy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/proxy/snapshot"
)

// recordingBackend keeps every snapshot it is asked to program.
type recordingBackend struct {
	mu       sync.Mutex
	setups   int
	synced   []*snapshot.Snapshot
	setupErr error
	changed  chan struct{}
}

func newRecordingBackend() *recordingBackend {
	return &recordingBackend{changed: make(chan struct{}, 1)}
}

func (b *recordingBackend) Setup(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setups++
	return b.setupErr
}

func (b *recordingBackend) Sync(_ context.Context, s *snapshot.Snapshot) error {
	b.mu.Lock()
	b.synced = append(b.synced, s)
	b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return nil
}

// waitFor polls the latest programmed snapshot until cond holds.
func (b *recordingBackend) waitFor(t *testing.T, what string, cond func(*snapshot.Snapshot) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		var last *snapshot.Snapshot
		if len(b.synced) > 0 {
			last = b.synced[len(b.synced)-1]
		}
		b.mu.Unlock()
		if last != nil && cond(last) {
			return
		}
		select {
		case <-b.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for a sync where %s", what)
		}
	}
}

func webService() *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: v1.ServiceSpec{
			Type: v1.ServiceTypeClusterIP, ClusterIP: "10.43.0.10", ClusterIPs: []string{"10.43.0.10"},
			Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80}},
		},
	}
}

func webSlice(ips ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "web-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(v1.ProtocolTCP), Port: ptr.To[int32](8080)}},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return s
}

var webHTTP = snapshot.PortName{Namespace: "default", Name: "web", Port: "http", Protocol: v1.ProtocolTCP}

func endpointIPs(s *snapshot.Snapshot, name snapshot.PortName) []string {
	var ips []string
	for _, e := range s.Endpoints[name] {
		ips = append(ips, e.IP)
	}
	return ips
}

func runProxy(t *testing.T, p *Proxy) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not stop on cancel")
		}
	})
}

func testConfig() Config {
	return Config{NodeName: "node-a", MinSyncPeriod: 10 * time.Millisecond, SyncPeriod: time.Hour}
}

func TestProxyFollowsServicesAndSlices(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(webService(), webSlice("10.42.1.10"))
	b := newRecordingBackend()
	runProxy(t, newProxy(testConfig(), client, b))

	// The first sync already knows what existed before the start: the
	// caches are synced before anything is programmed.
	b.waitFor(t, "the first sync holds web", func(*snapshot.Snapshot) bool { return true })
	b.mu.Lock()
	first := b.synced[0]
	setups := b.setups
	b.mu.Unlock()
	if got := endpointIPs(first, webHTTP); len(got) != 1 || got[0] != "10.42.1.10" {
		t.Fatalf("first sync endpoints = %v, want [10.42.1.10]", got)
	}
	if setups != 1 {
		t.Errorf("Setup called %d times, want 1", setups)
	}

	if _, err := client.DiscoveryV1().EndpointSlices("default").Update(ctx, webSlice("10.42.1.10", "10.42.2.11"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, "web has two endpoints", func(s *snapshot.Snapshot) bool { return len(s.Endpoints[webHTTP]) == 2 })

	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, "web is gone", func(s *snapshot.Snapshot) bool { return s.Services[webHTTP] == nil })
}

func TestProxyRunFailsWhenSetupFails(t *testing.T) {
	b := newRecordingBackend()
	b.setupErr = errors.New("no iptables")
	err := newProxy(testConfig(), fake.NewClientset(), b).Run(context.Background())
	if err == nil {
		t.Fatal("Run succeeded although Setup failed")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	rc := &rest.Config{Host: "https://127.0.0.1:6443"}
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{RestConfig: rc, NodeName: "n"}, true},
		{"no rest config", Config{NodeName: "n"}, false},
		{"unknown mode", Config{RestConfig: rc, NodeName: "n", Mode: "ebpf"}, false},
		{"bad cluster CIDR", Config{RestConfig: rc, NodeName: "n", ClusterCIDR: "10.42.0.0"}, false},
		{"bad node IP", Config{RestConfig: rc, NodeName: "n", NodeIP: "node"}, false},
		{"sync period below minimum", Config{RestConfig: rc, NodeName: "n", MinSyncPeriod: time.Minute, SyncPeriod: time.Second}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New error = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (p.cfg.Mode != ModeIPTables || p.cfg.ClusterCIDR != "10.42.0.0/16" || p.cfg.MinSyncPeriod != time.Second || p.cfg.SyncPeriod != 30*time.Second) {
				t.Errorf("defaults not applied: %+v", p.cfg)
			}
		})
	}
}
