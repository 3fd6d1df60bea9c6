package controller

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/rest"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

type noDiscovery struct{}

func (noDiscovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: metav1.Verbs{"get", "list", "watch", "delete"}},
	}}}, nil
}

func TestManagerRunsAndStops(t *testing.T) {
	cs := ctrltest.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}},
	)
	scheme := runtime.NewScheme()
	metav1.AddMetaToScheme(scheme)
	m, err := newManager(Config{}, cs, metafake.NewSimpleMetadataClient(scheme), noDiscovery{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	ctrltest.Eventually(t, "default serviceaccount", func() bool {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	ctrltest.Eventually(t, "node pod CIDR", func() bool {
		n, err := cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
		return err == nil && n.Spec.PodCIDR == "10.42.0.0/24"
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewManagerNeedsRestConfig(t *testing.T) {
	if _, err := NewManager(Config{}); err == nil {
		t.Error("want an error without a REST config")
	}
	if _, err := NewManager(Config{RestConfig: &rest.Config{Host: "https://127.0.0.1:6443"}}); err != nil {
		t.Errorf("NewManager: %v", err)
	}
	if _, err := NewManager(Config{RestConfig: &rest.Config{Host: "https://127.0.0.1:6443"}, ClusterCIDR: "nonsense"}); err == nil {
		t.Error("want an error for a bad cluster CIDR")
	}
}
