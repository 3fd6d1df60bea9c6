package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// kubeletCollector reports a few of upstream's kubelet metrics, under
// their names, read from the runtime at scrape time.
type kubeletCollector struct {
	s                        *Server
	runningPods, runningCtrs *prometheus.Desc
	nodeName                 *prometheus.Desc
}

func newKubeletCollector(s *Server) *kubeletCollector {
	return &kubeletCollector{
		s:           s,
		runningPods: prometheus.NewDesc("kubelet_running_pods", "[ALPHA] Number of pods that have a running pod sandbox", nil, nil),
		runningCtrs: prometheus.NewDesc("kubelet_running_containers", "[ALPHA] Number of containers currently running", []string{"container_state"}, nil),
		nodeName:    prometheus.NewDesc("kubelet_node_name", "[ALPHA] The node's name. The count is always 1.", []string{"node"}, nil),
	}
}

func (k *kubeletCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- k.runningPods
	ch <- k.runningCtrs
	ch <- k.nodeName
}

func (k *kubeletCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(k.nodeName, prometheus.GaugeValue, 1, k.s.cfg.NodeName)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt := k.s.cfg.Runtime
	if sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}}); err == nil {
		ch <- prometheus.MustNewConstMetric(k.runningPods, prometheus.GaugeValue, float64(len(sbs.Items)))
	}
	if ctrs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); err == nil {
		counts := map[string]int{"running": 0, "exited": 0, "created": 0, "unknown": 0}
		for _, c := range ctrs.Containers {
			switch c.State {
			case runtimeapi.ContainerState_CONTAINER_RUNNING:
				counts["running"]++
			case runtimeapi.ContainerState_CONTAINER_EXITED:
				counts["exited"]++
			case runtimeapi.ContainerState_CONTAINER_CREATED:
				counts["created"]++
			default:
				counts["unknown"]++
			}
		}
		for state, n := range counts {
			ch <- prometheus.MustNewConstMetric(k.runningCtrs, prometheus.GaugeValue, float64(n), state)
		}
	}
}

func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newKubeletCollector(s))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	s.metrics.ServeHTTP(w, r)
}

// serveResourceMetrics is /metrics/resource: upstream's STABLE resource
// metrics (what metrics-server scrapes), from the summary.
func (s *Server) serveResourceMetrics(w http.ResponseWriter, r *http.Request) {
	sum, err := s.stats.summary(r.Context(), false)
	scrapeError := 0
	if err != nil {
		scrapeError = 1
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(resourceMetrics(sum, scrapeError))
}

// resourceMetrics writes the resource metrics in the Prometheus text
// format, each sample with the time it was taken.
func resourceMetrics(sum *Summary, scrapeError int) []byte {
	var b bytes.Buffer
	type sample struct {
		labels string
		value  float64
		ms     int64
	}
	family := func(name, typ, help string, samples []sample) {
		if len(samples) == 0 {
			return
		}
		fmt.Fprintf(&b, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range samples {
			if s.ms != 0 {
				fmt.Fprintf(&b, "%s%s %s %d\n", name, s.labels, formatFloat(s.value), s.ms)
			} else {
				fmt.Fprintf(&b, "%s%s %s\n", name, s.labels, formatFloat(s.value))
			}
		}
	}
	labels := func(kv ...string) string {
		var parts []string
		for i := 0; i+1 < len(kv); i += 2 {
			parts = append(parts, fmt.Sprintf("%s=%q", kv[i], kv[i+1]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	var ctrCPU, ctrMem, ctrStart, podCPU, podMem, nodeCPU, nodeMem []sample
	if sum != nil {
		if c := sum.Node.CPU; c != nil && c.UsageCoreNanoSeconds != nil {
			nodeCPU = append(nodeCPU, sample{"", float64(*c.UsageCoreNanoSeconds) / 1e9, c.Time.UnixMilli()})
		}
		if m := sum.Node.Memory; m != nil && m.WorkingSetBytes != nil {
			nodeMem = append(nodeMem, sample{"", float64(*m.WorkingSetBytes), m.Time.UnixMilli()})
		}
		for _, p := range sum.Pods {
			for _, c := range p.Containers {
				l := labels("container", c.Name, "namespace", p.PodRef.Namespace, "pod", p.PodRef.Name)
				if c.CPU != nil && c.CPU.UsageCoreNanoSeconds != nil {
					ctrCPU = append(ctrCPU, sample{l, float64(*c.CPU.UsageCoreNanoSeconds) / 1e9, c.CPU.Time.UnixMilli()})
				}
				if c.Memory != nil && c.Memory.WorkingSetBytes != nil {
					ctrMem = append(ctrMem, sample{l, float64(*c.Memory.WorkingSetBytes), c.Memory.Time.UnixMilli()})
				}
				ctrStart = append(ctrStart, sample{l, float64(c.StartTime.UnixNano()) / 1e9, 0})
			}
			l := labels("namespace", p.PodRef.Namespace, "pod", p.PodRef.Name)
			if p.CPU != nil && p.CPU.UsageCoreNanoSeconds != nil {
				podCPU = append(podCPU, sample{l, float64(*p.CPU.UsageCoreNanoSeconds) / 1e9, p.CPU.Time.UnixMilli()})
			}
			if p.Memory != nil && p.Memory.WorkingSetBytes != nil {
				podMem = append(podMem, sample{l, float64(*p.Memory.WorkingSetBytes), p.Memory.Time.UnixMilli()})
			}
		}
	}
	family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the container in core-seconds", ctrCPU)
	family("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes", ctrMem)
	family("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds", ctrStart)
	family("node_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the node in core-seconds", nodeCPU)
	family("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes", nodeMem)
	family("pod_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the pod in core-seconds", podCPU)
	family("pod_memory_working_set_bytes", "gauge", "Current working set of the pod in bytes", podMem)
	family("resource_scrape_error", "gauge", "1 if there was an error while getting container metrics, 0 otherwise", []sample{{"", float64(scrapeError), 0}})
	return b.Bytes()
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
