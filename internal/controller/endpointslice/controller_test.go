package endpointslice

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

func TestControllerPublishesAndCleansUp(t *testing.T) {
	cs := ctrltest.NewClientset(service(), pod(0), pod(1))
	f := informers.NewSharedInformerFactory(cs, 0)
	c, err := New(Options{Client: cs, Informers: f, Recorder: record.NewFakeRecorder(10), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)
	go c.Run(ctx)

	ctrltest.Eventually(t, "a slice with both pods", func() bool {
		l, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 1 && len(l.Items[0].Endpoints) == 2
	})
	if err := cs.CoreV1().Pods("default").Delete(ctx, "web-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "the deleted pod leaves the slice", func() bool {
		l, _ := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{})
		return len(l.Items) == 1 && len(l.Items[0].Endpoints) == 1
	})
	if err := cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "slices removed with the service", func() bool {
		l, _ := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{})
		return len(l.Items) == 0
	})
}
