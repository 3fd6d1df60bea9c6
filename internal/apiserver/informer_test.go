package apiserver_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kedge-dev/kedge/internal/apiserver/apitest"
)

// TestInformersSurviveAPIServerRestart: shared informers over 1,000 pods stay
// in sync through a restart of the API server, during which etcd is
// compacted, so the reflectors' watches come back with 410 and they re-list.
func TestInformersSurviveAPIServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,000 pods")
	}
	s := apitest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fast := rest.CopyConfig(s.Config)
	fast.QPS, fast.Burst = 1000, 1000 // client-go's default 5 QPS would make this a test of its throttle
	client := kubernetes.NewForConfigOrDie(fast)
	createPods(t, client, 0, 1000)

	factory := informers.NewSharedInformerFactory(kubernetes.NewForConfigOrDie(s.Config), 0)
	pods := factory.Core().V1().Pods().Informer()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), pods.HasSynced) {
		t.Fatal("informer did not sync")
	}
	if n := len(pods.GetStore().List()); n != 1000 {
		t.Fatalf("informer holds %d pods, want 1000", n)
	}

	// While no API server serves: changes happen and history is compacted.
	err := s.RestartAPIServer(func() error {
		bg := context.Background()
		for i := 0; i < 20; i++ {
			if _, err := s.Store.Delete(bg, fmt.Sprintf("/registry/pods/default/p%04d", i), 0, nil); err != nil {
				return err
			}
		}
		rev, err := s.Store.CurrentRev(bg)
		if err != nil {
			return err
		}
		_, err = s.Member.Client().Compact(bg, rev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// And after the restart, through the new server.
	createPods(t, client, 1000, 1050)
	for i := 20; i < 30; i++ {
		p, err := s.Client.CoreV1().Pods("default").Get(ctx, fmt.Sprintf("p%04d", i), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Labels = map[string]string{"touched": "yes"}
		if _, err := s.Client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	want, err := s.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Items) != 1030 {
		t.Fatalf("server holds %d pods, want 1030", len(want.Items))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		diff := storeDiff(pods.GetStore(), want.Items)
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("informer out of sync after the restart: %s", diff)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// storeDiff says how an informer's store differs from the server's pods
// (by name and resourceVersion); "" when it holds exactly them.
func storeDiff(store cache.Store, want []corev1.Pod) string {
	have := map[string]string{}
	for _, obj := range store.List() {
		p := obj.(*corev1.Pod)
		have[p.Name] = p.ResourceVersion
	}
	if len(have) != len(want) {
		return fmt.Sprintf("%d pods in the informer, %d on the server", len(have), len(want))
	}
	for _, p := range want {
		if rv, ok := have[p.Name]; !ok || rv != p.ResourceVersion {
			return fmt.Sprintf("pod %s: informer has resourceVersion %q, server %q", p.Name, rv, p.ResourceVersion)
		}
	}
	return ""
}

// createPods creates pods p<from>..p<to-1> in default, 16 at a time.
func createPods(t *testing.T, c kubernetes.Interface, from, to int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, to-from)
	sem := make(chan struct{}, 16)
	for i := from; i < to; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			p := pod(fmt.Sprintf("p%04d", i))
			p.Labels["n"] = strconv.Itoa(i)
			if _, err := c.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
