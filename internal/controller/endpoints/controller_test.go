package endpoints

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

func TestControllerCreatesAndDeletesEndpoints(t *testing.T) {
	svc := service(svcPort("http", 80, intstr.FromInt32(8080)))
	noSelector := service()
	noSelector.Name, noSelector.Spec.Selector = "manual", nil
	manualEP := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: "default"}}
	leftover := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: "default"}}
	cs := ctrltest.NewClientset(svc, noSelector, manualEP, leftover, pod("a", "10.42.0.9"))
	f := informers.NewSharedInformerFactory(cs, 0)
	c, err := New(Options{Client: cs, Informers: f, Recorder: record.NewFakeRecorder(10), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)
	go c.Run(ctx)

	ctrltest.Eventually(t, "endpoints for web", func() bool {
		ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && ep.Subsets[0].Addresses[0].IP == "10.42.0.9"
	})
	ctrltest.Eventually(t, "leftover endpoints deleted", func() bool {
		_, err := cs.CoreV1().Endpoints("default").Get(ctx, "gone", metav1.GetOptions{})
		return err != nil
	})
	if _, err := cs.CoreV1().Endpoints("default").Get(ctx, "manual", metav1.GetOptions{}); err != nil {
		t.Error("endpoints of a selector-less service must be left alone")
	}
	if err := cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "endpoints deleted with the service", func() bool {
		_, err := cs.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		return err != nil
	})
}
