package serviceaccount

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

func TestNeedsDefault(t *testing.T) {
	active := &corev1.Namespace{Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	noPhase := &corev1.Namespace{}
	terminating := &corev1.Namespace{Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	deleting := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{}}}
	sa := &corev1.ServiceAccount{}
	tests := []struct {
		name string
		ns   *corev1.Namespace
		sa   *corev1.ServiceAccount
		want bool
	}{
		{"active without default", active, nil, true},
		{"phase not set yet", noPhase, nil, true},
		{"already there", active, sa, false},
		{"terminating", terminating, nil, false},
		{"being deleted", deleting, nil, false},
	}
	for _, tt := range tests {
		if got := NeedsDefault(tt.ns, tt.sa); got != tt.want {
			t.Errorf("%s: NeedsDefault = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestControllerCreatesAndRecreatesDefault(t *testing.T) {
	cs := ctrltest.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dying"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
	)
	f := informers.NewSharedInformerFactory(cs, 0)
	c, err := New(Options{Client: cs, Informers: f, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)
	go c.Run(ctx)
	has := func(ns string) bool {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, DefaultName, metav1.GetOptions{})
		return err == nil
	}
	ctrltest.Eventually(t, "default serviceaccount in apps", func() bool { return has("apps") })
	if err := cs.CoreV1().ServiceAccounts("apps").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "default serviceaccount recreated", func() bool { return has("apps") })
	if has("dying") {
		t.Error("a terminating namespace must not get a serviceaccount")
	}
}
