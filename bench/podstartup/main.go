// Command podstartup measures pod startup latency on a running kedge node:
// it creates pods (image present) at a steady rate, watches them, and
// reports create → Running (as seen through the watch) at p50/p99, then the
// memory the node spends per pod (the kedge process and each pause
// container's RSS).
//
//	KUBECONFIG=/var/lib/kedge/admin.kubeconfig go run ./bench/podstartup -pods 100 -qps 10
//
// Reference (issue 4): upstream's SLO is p99 ≤ 5 s; a bare CRI client on
// this machine starts a pod in ~0.3 s; the target is p99 ≤ 1 s.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	pods := flag.Int("pods", 100, "pods to start")
	qps := flag.Float64("qps", 10, "pod creations per second (0: all at once)")
	image := flag.String("image", "localhost/busybox:1.36", "image, already on the node")
	ns := flag.String("namespace", "bench-podstartup", "namespace (created and deleted)")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		log.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	c := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: *ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		log.Fatal(err)
	}
	defer cleanup(c, *ns)
	waitServiceAccount(ctx, c, *ns)

	w, err := c.CoreV1().Pods(*ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	created := map[string]time.Time{}
	scheduled := map[string]time.Time{} // spec.nodeName set
	seen := map[string]time.Time{}      // the kubelet's first status (hostIP set)
	running := map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			now := time.Now()
			mu.Lock()
			if _, ok := scheduled[p.Name]; !ok && p.Spec.NodeName != "" {
				scheduled[p.Name] = now
			}
			if _, ok := seen[p.Name]; !ok && p.Status.HostIP != "" {
				seen[p.Name] = now
			}
			mu.Unlock()
			if p.Status.Phase != corev1.PodRunning {
				continue
			}
			mu.Lock()
			if _, seen := running[p.Name]; !seen {
				running[p.Name] = time.Now()
				if len(running) == *pods {
					close(done)
				}
			}
			mu.Unlock()
		}
	}()

	start := time.Now()
	var interval time.Duration
	if *qps > 0 {
		interval = time.Duration(float64(time.Second) / *qps)
	}
	var wg sync.WaitGroup
	for i := range *pods {
		if interval > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("p-%03d", i)
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "podstartup"}},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64),
					Containers: []corev1.Container{{Name: "c", Image: *image, Command: []string{"sleep", "3600"},
						ImagePullPolicy: corev1.PullIfNotPresent}},
				},
			}
			t := time.Now()
			mu.Lock()
			created[name] = t
			mu.Unlock()
			if _, err := c.CoreV1().Pods(*ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				log.Fatalf("create %s: %v", name, err)
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		log.Fatalf("only %d of %d pods Running after 5 minutes", len(running), *pods)
	}
	total := time.Since(start)
	w.Stop()

	mu.Lock()
	defer mu.Unlock()
	lat := latencies(created, running)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Printf("pods %d at %.0f/s: create → Running p50 %v, p90 %v, p99 %v, max %v; all Running after %v\n",
		*pods, *qps, q(0.50).Round(time.Millisecond), q(0.90).Round(time.Millisecond), q(0.99).Round(time.Millisecond),
		lat[len(lat)-1].Round(time.Millisecond), total.Round(time.Millisecond))
	for _, step := range []struct {
		name     string
		from, to map[string]time.Time
	}{
		{"create → scheduled", created, scheduled},
		{"scheduled → kubelet's first status", scheduled, seen},
		{"kubelet's first status → Running", seen, running},
	} {
		l := latencies(step.from, step.to)
		if len(l) == 0 {
			continue
		}
		fmt.Printf("  %s: p50 %v, p99 %v\n", step.name, l[len(l)/2].Round(time.Millisecond), l[int(0.99*float64(len(l)-1))].Round(time.Millisecond))
	}
	reportMemory(*pods)
}

// latencies are to[name] - from[name] for the names in both, sorted.
func latencies(from, to map[string]time.Time) []time.Duration {
	var out []time.Duration
	for name, t := range to {
		if f, ok := from[name]; ok {
			out = append(out, t.Sub(f))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func waitServiceAccount(ctx context.Context, c kubernetes.Interface, ns string) {
	for range 100 {
		if _, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("no default service account in %s", ns)
}

func cleanup(c kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	for ctx.Err() == nil {
		if _, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// reportMemory prints the RSS of the kedge process(es) and of the pause
// processes (each pod's sandbox).
func reportMemory(pods int) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var kedge, pause []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		base := filepath.Base(args[0])
		pid, _ := strconv.Atoi(strings.Split(p, "/")[2])
		switch {
		case base == "kedge" || strings.HasPrefix(base, "kedge-"):
			if len(args) > 1 && (args[1] == "up" || args[1] == "agent" || args[1] == "kubelet") {
				kedge = append(kedge, rss(pid))
			}
		case base == "pause":
			pause = append(pause, rss(pid))
		}
	}
	sum := func(xs []int) int {
		s := 0
		for _, x := range xs {
			s += x
		}
		return s
	}
	fmt.Printf("kedge process RSS %d MiB with %d pods (%.2f MiB per pod); %d pause processes, %.2f MiB RSS each on average\n",
		sum(kedge)/1024, pods, float64(sum(kedge))/1024/float64(pods), len(pause), float64(sum(pause))/1024/float64(max(len(pause), 1)))
}

func rss(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}
