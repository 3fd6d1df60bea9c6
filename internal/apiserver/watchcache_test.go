package apiserver_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"

	"github.com/kedge-dev/kedge/internal/apiserver"
	"github.com/kedge-dev/kedge/internal/apiserver/apitest"
	"github.com/kedge-dev/kedge/internal/storage/watchcache"
)

// etcdWatchers is etcd's count of its watchers (all members of the process).
func etcdWatchers(t *testing.T) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "etcd_debugging_mvcc_watcher_total" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("etcd_debugging_mvcc_watcher_total not found")
	return 0
}

func rvOf(t *testing.T, rv string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", rv, err)
	}
	return n
}

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return watch.Event{}
}

func TestManyWatchersCostOneEtcdWatch(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableWatchCache=%v", disabled), func(t *testing.T) {
			s := apitest.NewWithOptions(t, apitest.Options{Configure: func(c *apiserver.Config) { c.DisableWatchCache = disabled }})
			ctx := context.Background()
			l, err := s.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			before := etcdWatchers(t)
			var ws []watch.Interface
			for range 30 {
				w, err := s.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion})
				if err != nil {
					t.Fatal(err)
				}
				defer w.Stop()
				ws = append(ws, w)
			}
			p, err := s.Client.CoreV1().Pods("default").Create(ctx, pod("fan"), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range ws {
				if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.Pod).ResourceVersion != p.ResourceVersion {
					t.Fatalf("got %s %v", ev.Type, ev.Object)
				}
			}
			added := etcdWatchers(t) - before
			if !disabled && added > 1 {
				t.Errorf("30 watchers opened %v etcd watches, want at most 1", added)
			}
			if disabled && added < 30 {
				t.Errorf("without the cache 30 watchers opened %v etcd watches", added)
			}
		})
	}
}

func TestInformerSyncsThroughWatchList(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 30 {
		p := pod(fmt.Sprintf("p%02d", i))
		if i%3 == 0 {
			p.Labels["tier"] = "db"
		}
		if _, err := s.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	all := informers.NewSharedInformerFactory(s.client, 0)
	db := informers.NewSharedInformerFactoryWithOptions(s.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = "tier=db"
	}))
	allPods, dbPods := all.Core().V1().Pods().Lister(), db.Core().V1().Pods().Lister()
	all.Start(ctx.Done())
	db.Start(ctx.Done())
	for _, f := range []informers.SharedInformerFactory{all, db} {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				t.Fatalf("%v did not sync", typ)
			}
		}
	}
	count := func(l interface {
		List(labels.Selector) ([]*corev1.Pod, error)
	}) int {
		ps, _ := l.List(labels.Everything())
		return len(ps)
	}
	if n, m := count(allPods), count(dbPods); n != 30 || m != 10 {
		t.Fatalf("after sync: %d pods, %d db pods; want 30, 10", n, m)
	}
	// Relabel one pod into the selection and delete another.
	p, _ := s.client.CoreV1().Pods("default").Get(ctx, "p01", metav1.GetOptions{})
	p.Labels["tier"] = "db"
	if _, err := s.client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.client.CoreV1().Pods("default").Delete(ctx, "p00", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for count(allPods) != 29 || count(dbPods) != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("informers did not follow: %d pods, %d db pods; want 29, 10", count(allPods), count(dbPods))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWatchListSendsInitialEventsThenTheEndBookmark(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := s.client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{
		SendInitialEvents: new(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var names []string
	for range 3 {
		ev := nextEvent(t, w)
		if ev.Type != watch.Added {
			t.Fatalf("initial event %s", ev.Type)
		}
		names = append(names, ev.Object.(*corev1.ConfigMap).Name)
	}
	if fmt.Sprint(names) != "[c0 c1 c2]" {
		t.Errorf("initial events in key order: %v", names)
	}
	ev := nextEvent(t, w)
	cm, _ := ev.Object.(*corev1.ConfigMap)
	if ev.Type != watch.Bookmark || cm == nil || cm.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
		t.Fatalf("want the initial-events-end bookmark, got %s %+v", ev.Type, ev.Object)
	}
	made, err := s.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "later"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).ResourceVersion != made.ResourceVersion {
		t.Fatalf("after the bookmark: %s %+v", ev.Type, ev.Object)
	}
}

func TestPeriodicBookmarks(t *testing.T) {
	s := apitest.NewWithOptions(t, apitest.Options{Configure: func(c *apiserver.Config) {
		c.WatchCache = watchcache.Config{BookmarkInterval: 100 * time.Millisecond}
	}})
	ctx := context.Background()
	l, err := s.Client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Writes elsewhere move etcd's revision; bookmarks follow it.
	ns, err := s.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev := nextEvent(t, w)
		if ev.Type != watch.Bookmark {
			t.Fatalf("got %s, want only bookmarks", ev.Type)
		}
		if rv := ev.Object.(*corev1.ConfigMap).ResourceVersion; rv == ns.ResourceVersion {
			return
		}
	}
}

func TestConsistentListIsServedFresh(t *testing.T) {
	s := apitest.NewWithOptions(t, apitest.Options{Configure: func(c *apiserver.Config) {
		// A cache that did not catch up would make the list wait this long.
		c.WatchCache = watchcache.Config{FreshTimeout: 20 * time.Second}
	}})
	ctx := context.Background()
	if _, err := s.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		p, err := s.Client.CoreV1().Pods("default").Create(ctx, pod(fmt.Sprintf("p%d", i)), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// A write elsewhere: only a progress notification tells the pods
		// cache that it is up to date.
		if _, err := s.Client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		l, err := s.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("consistent list took %s", d)
		}
		if len(l.Items) != i+1 || l.Items[i].Name != p.Name || rvOf(t, l.ResourceVersion) < rvOf(t, p.ResourceVersion) {
			t.Fatalf("list after create %d: %d items at %s", i, len(l.Items), l.ResourceVersion)
		}
	}
}

func TestCachedListPagesContinueFromEtcd(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	for i := range 7 {
		if _, err := s.client.CoreV1().Pods("default").Create(ctx, pod(fmt.Sprintf("p%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, rv := range []string{"", "0"} {
		var names []string
		opts := metav1.ListOptions{Limit: 3, ResourceVersion: rv}
		listRV := ""
		for {
			l, err := s.client.CoreV1().Pods("default").List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if listRV == "" {
				listRV = l.ResourceVersion
			} else if l.ResourceVersion != listRV {
				t.Errorf("page at %s, first page at %s", l.ResourceVersion, listRV)
			}
			for _, p := range l.Items {
				names = append(names, p.Name)
			}
			if l.Continue == "" {
				break
			}
			opts = metav1.ListOptions{Limit: 3, Continue: l.Continue}
		}
		if fmt.Sprint(names) != "[p0 p1 p2 p3 p4 p5 p6]" {
			t.Fatalf("resourceVersion=%q: pages gave %v", rv, names)
		}
	}
}

func TestWatchSelectorTranslation(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	w, err := s.client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: "0", LabelSelector: "tier=db"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	p, err := s.client.CoreV1().Pods("default").Create(ctx, pod("x"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["tier"] = "db"
	if p, err = s.client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Labels["tier"] = "web"
	if p, err = s.client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Type != watch.Added {
		t.Fatalf("starts matching: got %s", ev.Type)
	}
	ev := nextEvent(t, w)
	if ev.Type != watch.Deleted || ev.Object.(*corev1.Pod).ResourceVersion != p.ResourceVersion {
		t.Fatalf("stops matching: got %s %+v", ev.Type, ev.Object)
	}
}
