// Command apiserver benchmarks kedge's API server: a real server on a real
// embedded etcd member in this process, driven with client-go over TLS.
//
//	go run ./bench/apiserver [-pods 10000] [-concurrency 32] [-watchers 100] [-watch-events 1000]
//
// It measures, and prints next to upstream's SLOs (mutating calls p99 ≤ 1 s,
// single-object reads p99 ≤ 1 s, cluster-wide lists p99 ≤ 30 s):
//
//   - create of -pods pods with -concurrency workers: throughput, p50/p99;
//   - get of random pods: throughput, p50/p99;
//   - list of all pods, cluster-wide, both consistent (resourceVersion unset,
//     read from etcd) and resourceVersion=0 (may be served from the cache);
//   - watch fan-out: -watchers watchers (each its own connection) receive
//     -watch-events new pods: deliveries/s and the delay from the client's
//     create call to each watcher's receipt, p50/p99.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kedge-dev/kedge/internal/apiserver"
	"github.com/kedge-dev/kedge/internal/apiserver/apitest"
)

const sentAnnotation = "bench.kedge.dev/sent-unix-nano"

type options struct {
	pods, concurrency, gets, lists int
	watchers, watchEvents          int
	noWatchCache                   bool
}

func main() {
	var o options
	flag.IntVar(&o.pods, "pods", 10000, "pods to create")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients for create and get")
	flag.IntVar(&o.gets, "gets", 10000, "gets of random pods")
	flag.IntVar(&o.lists, "lists", 5, "lists of all pods, per kind of list")
	flag.IntVar(&o.watchers, "watchers", 100, "watchers for the fan-out")
	flag.IntVar(&o.watchEvents, "watch-events", 1000, "pods created while the watchers watch")
	flag.BoolVar(&o.noWatchCache, "no-watch-cache", false, "serve watches straight from etcd (one etcd watch per watcher)")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "kedge-bench-apiserver-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	srv, err := apitest.Start(ctx, dir, apitest.Options{HTTP2: true, Configure: func(c *apiserver.Config) {
		setNoWatchCache(c, o.noWatchCache)
	}})
	if err != nil {
		return err
	}
	defer srv.Close()
	cfg := rest.CopyConfig(srv.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("kedge API server benchmark: in-process server on embedded etcd, client-go over TLS (HTTP/2), GOMAXPROCS=%d, watch cache: %v\n\n",
		runtime.GOMAXPROCS(0), !o.noWatchCache)
	for _, ns := range []string{"bench", "fanout"} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}

	// create
	lat, wall, err := parallel(o.pods, o.concurrency, func(i int) error {
		_, err := c.CoreV1().Pods("bench").Create(ctx, benchPod(fmt.Sprintf("pod-%05d", i)), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	report(fmt.Sprintf("create %d pods (%d clients)", o.pods, o.concurrency), lat, wall, "mutating p99 ≤ 1 s")

	// get
	lat, wall, err = parallel(o.gets, o.concurrency, func(int) error {
		_, err := c.CoreV1().Pods("bench").Get(ctx, fmt.Sprintf("pod-%05d", rand.IntN(o.pods)), metav1.GetOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	report(fmt.Sprintf("get (%d clients)", o.concurrency), lat, wall, "single-object read p99 ≤ 1 s")

	// list: typed (what a client sees, with client-go's decoding), and raw
	// (the server's share: the response read, not decoded). The first list
	// also fills the watch cache.
	for _, rv := range []string{"", "0"} {
		for _, raw := range []bool{false, true} {
			var lat []time.Duration
			start := time.Now()
			for range o.lists {
				t := time.Now()
				n, err := listPods(ctx, c, rv, raw)
				if err != nil {
					return fmt.Errorf("list: %w", err)
				}
				lat = append(lat, time.Since(t))
				if n != o.pods {
					return fmt.Errorf("list returned %d pods, want %d", n, o.pods)
				}
			}
			name := fmt.Sprintf("list %d pods, all namespaces, resourceVersion=%q", o.pods, rv)
			if raw {
				name += ", response read but not decoded"
			}
			report(name, lat, time.Since(start), "cluster-wide list p99 ≤ 30 s")
		}
	}

	return fanout(ctx, cfg, c, o)
}

// fanout starts the watchers, creates watchEvents pods and measures how
// fast and how late every watcher sees every one of them.
func fanout(ctx context.Context, cfg *rest.Config, c kubernetes.Interface, o options) error {
	l, err := c.CoreV1().Pods("fanout").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu         sync.Mutex
		delays     = make([]time.Duration, 0, o.watchers*o.watchEvents)
		done       sync.WaitGroup
		closed     atomic.Int64 // watches the server ended (then resumed)
		failed     atomic.Int64 // watches that could not resume
		unfinished atomic.Int64 // watchers still waiting at the time limit
	)
	for i := range o.watchers {
		wc := rest.CopyConfig(cfg)
		wc.Dial = (&net.Dialer{}).DialContext // a transport (and connection) of its own
		wc.QPS, wc.Burst = -1, 0
		client, err := kubernetes.NewForConfig(wc)
		if err != nil {
			return err
		}
		w, err := client.CoreV1().Pods("fanout").Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion})
		if err != nil {
			return fmt.Errorf("watcher %d: %w", i, err)
		}
		done.Add(1)
		go func() {
			defer done.Done()
			defer w.Stop()
			local := make([]time.Duration, 0, o.watchEvents)
			rv := l.ResourceVersion
			for len(local) < o.watchEvents {
				ev, ok := <-w.ResultChan()
				if !ok {
					if ctx.Err() != nil {
						unfinished.Add(1)
						break
					}
					// The server closed the watch: resume from the last
					// version seen, as a reflector does.
					closed.Add(1)
					if w, err = client.CoreV1().Pods("fanout").Watch(ctx, metav1.ListOptions{ResourceVersion: rv}); err != nil {
						failed.Add(1)
						slog.Error("fan-out watcher could not resume", "err", err)
						break
					}
					continue
				}
				if ev.Type == watch.Error {
					slog.Error("fan-out watcher got an error event", "object", ev.Object)
				}
				if ev.Type != watch.Added {
					continue
				}
				p := ev.Object.(*corev1.Pod)
				rv = p.ResourceVersion
				sent, _ := strconv.ParseInt(p.Annotations[sentAnnotation], 10, 64)
				local = append(local, time.Since(time.Unix(0, sent)))
			}
			mu.Lock()
			delays = append(delays, local...)
			mu.Unlock()
		}()
	}
	start := time.Now()
	_, createWall, err := parallel(o.watchEvents, min(o.concurrency, 8), func(i int) error {
		p := benchPod(fmt.Sprintf("fan-%05d", i))
		p.Annotations = map[string]string{sentAnnotation: strconv.FormatInt(time.Now().UnixNano(), 10)}
		_, err := c.CoreV1().Pods("fanout").Create(ctx, p, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("fan-out create: %w", err)
	}
	waited := make(chan struct{})
	go func() { done.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Minute):
		cancel()
		<-waited
	}
	wall := time.Since(start)
	want := o.watchers * o.watchEvents
	fmt.Printf("watch fan-out: %d watchers × %d new pods (created at %.0f/s)\n", o.watchers, o.watchEvents, float64(o.watchEvents)/createWall.Seconds())
	fmt.Printf("  delivered %d/%d events in %.2f s: %.0f events/s; watches closed by the server (and resumed): %d\n",
		len(delays), want, wall.Seconds(), float64(len(delays))/wall.Seconds(), closed.Load())
	if failed.Load() > 0 || unfinished.Load() > 0 {
		fmt.Printf("  watchers that could not resume: %d; still waiting after 5 minutes: %d\n", failed.Load(), unfinished.Load())
	}
	p50, p99, max := percentiles(delays)
	fmt.Printf("  delay create call → watcher: p50 %s  p99 %s  max %s   (upstream SLO: none for watch; mutating p99 ≤ 1 s)\n\n",
		ms(p50), ms(p99), ms(max))
	if len(delays) != want {
		return fmt.Errorf("watchers missed %d events", want-len(delays))
	}
	return nil
}

// listPods lists all pods and returns how many there are.
func listPods(ctx context.Context, c kubernetes.Interface, rv string, raw bool) (int, error) {
	if !raw {
		l, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			return 0, err
		}
		return len(l.Items), nil
	}
	req := c.CoreV1().RESTClient().Get().AbsPath("/api/v1/pods")
	if rv != "" {
		req = req.Param("resourceVersion", rv)
	}
	b, err := req.DoRaw(ctx)
	if err != nil {
		return 0, err
	}
	return bytes.Count(b, []byte(`"kind":"Pod"`)), nil
}

func benchPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench", "tier": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "localhost/echo:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}},
		}}},
	}
}

// parallel runs f(0..n-1) on workers goroutines and returns each call's
// latency and the wall time.
func parallel(n, workers int, f func(i int) error) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	return lat, time.Since(start), firstErr
}

func report(name string, lat []time.Duration, wall time.Duration, slo string) {
	p50, p99, max := percentiles(lat)
	fmt.Printf("%s\n  %.0f/s over %.2f s; latency p50 %s  p99 %s  max %s   (upstream SLO: %s)\n\n",
		name, float64(len(lat))/wall.Seconds(), wall.Seconds(), ms(p50), ms(p99), ms(max), slo)
}

func percentiles(d []time.Duration) (p50, p99, max time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99), s[len(s)-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func setNoWatchCache(c *apiserver.Config, v bool) { c.DisableWatchCache = v }
