// Package ctrltest helps controller unit tests: a fake clientset that
// behaves a little more like a real API server (generated names, UIDs) and
// a way to run informers against it. Only tests import it.
package ctrltest

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// NewClientset returns a fake clientset whose creates fill in
// metadata.name from generateName and a UID, as the API server would.
// Seed objects without a UID get one derived from their name.
func NewClientset(objs ...runtime.Object) *fake.Clientset {
	var n atomic.Int64
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err == nil && m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%s-%s", m.GetNamespace(), m.GetName())))
		}
	}
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateAction)
		if !ok {
			return false, nil, nil
		}
		m, err := meta.Accessor(ca.GetObject())
		if err != nil {
			return false, nil, nil
		}
		i := n.Add(1)
		if m.GetName() == "" && m.GetGenerateName() != "" {
			m.SetName(m.GetGenerateName() + strconv.FormatInt(i, 36) + "x")
		}
		if m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-created-%d", i)))
		}
		return false, nil, nil
	})
	return cs
}

// StartInformers starts the factory and waits for its caches; informers
// stop when the test ends.
func StartInformers(t *testing.T, f informers.SharedInformerFactory) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		f.Shutdown()
	})
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache for %v did not sync", typ)
		}
	}
	return ctx
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Drain returns the events a fake recorder has buffered so far.
func Drain(ch chan string) []string {
	var out []string
	for {
		select {
		case e := <-ch:
			out = append(out, e)
		default:
			return out
		}
	}
}
