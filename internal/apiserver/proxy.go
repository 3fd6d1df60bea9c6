package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
)

// The connect subresources are served by the kubelet of the pod's (or
// the named) node: the API server checks the request, finds the node's
// address and kubelet port, and proxies there with its own client
// certificate. Upgraded connections (SPDY, WebSocket) pass through
// unchanged; the kubelet speaks every protocol kubectl 1.27–1.33 asks
// for.
//
//	pods/log          GET         → /containerLogs/<ns>/<pod>/<container>
//	pods/exec         GET, POST   → /exec/<ns>/<pod>/<container>
//	pods/attach       GET, POST   → /attach/<ns>/<pod>/<container>
//	pods/portforward  GET, POST   → /portForward/<ns>/<pod>
//	nodes/proxy       any         → /<path>

// defaultKubeletPort is used when a node does not say its kubelet port.
const defaultKubeletPort = 10250

// kubeletTransports reach kubelets; made once, on first use.
type kubeletTransports struct {
	once             sync.Once
	verify, insecure *http.Transport
	err              error
}

// kubeletTransport is the transport to kubelets; skipVerify leaves their
// serving certificate unchecked (PodLogOptions'
// insecureSkipTLSVerifyBackend).
func (s *Server) kubeletTransport(skipVerify bool) (http.RoundTripper, error) {
	k := &s.kubelets
	k.once.Do(func() {
		base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
		if s.cfg.KubeletClientCertFile != "" {
			cert, err := tls.LoadX509KeyPair(s.cfg.KubeletClientCertFile, s.cfg.KubeletClientKeyFile)
			if err != nil {
				k.err = fmt.Errorf("kubelet client certificate: %w", err)
				return
			}
			base.Certificates = []tls.Certificate{cert}
		}
		newTransport := func(tc *tls.Config) *http.Transport {
			return &http.Transport{
				TLSClientConfig:     tc,
				DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				TLSHandshakeTimeout: 10 * time.Second,
				MaxIdleConnsPerHost: 25,
				IdleConnTimeout:     90 * time.Second,
			}
		}
		insecure := base.Clone()
		insecure.InsecureSkipVerify = true
		k.insecure = newTransport(insecure)
		if s.cfg.KubeletCA != nil {
			verify := base.Clone()
			verify.RootCAs = s.cfg.KubeletCA
			k.verify = newTransport(verify)
		} else {
			k.verify = k.insecure
		}
	})
	if k.err != nil {
		return nil, k.err
	}
	if skipVerify {
		return k.insecure, nil
	}
	return k.verify, nil
}

// serveConnect serves the subresources kubelets answer; false if ri is
// none of them.
func (s *Server) serveConnect(w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo) bool {
	if res.GVK.Group != "" || res.GVK.Version != "v1" {
		return false
	}
	gr := schema.GroupResource{Resource: res.Name + "/" + ri.subresource}
	switch {
	case res.GVK.Kind == "Pod" && ri.subresource == "log":
		if ri.verb != "get" {
			writeError(w, apierrors.NewMethodNotSupported(gr, ri.verb))
			return true
		}
		s.servePodLog(w, r, res, ri)
	case res.GVK.Kind == "Pod" && (ri.subresource == "exec" || ri.subresource == "attach" || ri.subresource == "portforward"):
		if ri.verb != "get" && ri.verb != "create" {
			writeError(w, apierrors.NewMethodNotSupported(gr, ri.verb))
			return true
		}
		s.servePodStream(w, r, res, ri)
	case res.GVK.Kind == "Node" && ri.subresource == "proxy":
		s.serveNodeProxy(w, r, ri)
	default:
		return false
	}
	return true
}

// kubeletLocation is the base URL of a node's kubelet API: its
// InternalIP (else another address) and the port its status gives.
func (s *Server) kubeletLocation(ctx context.Context, nodeName string) (*url.URL, error) {
	nodes, ok := s.reg.Lookup(nodesGVR)
	if !ok {
		return nil, fmt.Errorf("nodes are not served")
	}
	obj, _, err := s.get(ctx, nodes, "", nodeName)
	if err != nil {
		return nil, err
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return nil, fmt.Errorf("node %s: unexpected object %T", nodeName, obj)
	}
	host := nodeAddress(node)
	if host == "" {
		return nil, apierrors.NewInternalError(fmt.Errorf("no preferred addresses found; known addresses: %v", node.Status.Addresses))
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port <= 0 {
		port = defaultKubeletPort
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(port))}, nil
}

// nodeAddress picks the address the API server dials a node's kubelet
// at: the InternalIP first (a node's host name may resolve to loopback
// on the API server's machine).
func nodeAddress(node *corev1.Node) string {
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeInternalDNS, corev1.NodeHostName, corev1.NodeExternalIP, corev1.NodeExternalDNS} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return a.Address
			}
		}
	}
	return ""
}

// podContainer picks the container a request means: the named one, which
// must exist, or the pod's only container (upstream's rules and words).
func podContainer(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		}
		var names []string
		for _, c := range pod.Spec.InitContainers {
			names = append(names, c.Name)
		}
		for _, c := range pod.Spec.Containers {
			names = append(names, c.Name)
		}
		for _, c := range pod.Spec.EphemeralContainers {
			names = append(names, c.Name)
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, names))
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

func (s *Server) getPod(ctx context.Context, res *registry.Resource, ri requestInfo) (*corev1.Pod, error) {
	obj, _, err := s.get(ctx, res, ri.namespace, ri.name)
	if err != nil {
		return nil, err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("pod %s: unexpected object %T", ri.name, obj)
	}
	return pod, nil
}

// queryBool reads a boolean option as the API's parameter codec does: a
// present value other than false, f or 0 is true.
func queryBool(q url.Values, name string, def bool) bool {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return def
	}
	switch strings.ToLower(v[0]) {
	case "false", "f", "0":
		return false
	}
	return true
}

func queryInt64(q url.Values, name string) (*int64, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s: %v", name, err))
	}
	return &n, nil
}

// podLogQuery checks PodLogOptions (upstream's validation, its words)
// and turns them into the kubelet's containerLogs query.
func podLogQuery(name string, q url.Values) (container string, skipVerify bool, out url.Values, err error) {
	out = url.Values{}
	for _, b := range []string{"follow", "previous", "timestamps"} {
		if queryBool(q, b, false) {
			out.Set(b, "true")
		}
	}
	var errs field.ErrorList
	tail, err := queryInt64(q, "tailLines")
	if err != nil {
		return "", false, nil, err
	}
	if tail != nil {
		if *tail < 0 {
			errs = append(errs, field.Invalid(field.NewPath("tailLines"), *tail, "must be greater than or equal to 0"))
		}
		out.Set("tailLines", strconv.FormatInt(*tail, 10))
	}
	limit, err := queryInt64(q, "limitBytes")
	if err != nil {
		return "", false, nil, err
	}
	if limit != nil {
		if *limit < 1 {
			errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *limit, "must be greater than 0"))
		}
		out.Set("limitBytes", strconv.FormatInt(*limit, 10))
	}
	since, err := queryInt64(q, "sinceSeconds")
	if err != nil {
		return "", false, nil, err
	}
	sinceTime := q.Get("sinceTime")
	switch {
	case since != nil && sinceTime != "":
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case since != nil:
		if *since < 1 {
			errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *since, "must be greater than 0"))
		}
		out.Set("sinceSeconds", strconv.FormatInt(*since, 10))
	case sinceTime != "":
		t, err := time.Parse(time.RFC3339, sinceTime)
		if err != nil {
			return "", false, nil, apierrors.NewBadRequest(fmt.Sprintf("sinceTime: %v", err))
		}
		out.Set("sinceTime", t.Format(time.RFC3339))
	}
	if st := q.Get("stream"); st != "" {
		switch st {
		case "All", "Stdout", "Stderr":
			if st != "All" && tail != nil {
				errs = append(errs, field.Forbidden(field.NewPath(""), "`tailLines` and specific `stream` are mutually exclusive for now"))
			}
			out.Set("stream", st)
		default:
			errs = append(errs, field.NotSupported(field.NewPath("stream"), st, []string{"All", "Stderr", "Stdout"}))
		}
	}
	if len(errs) > 0 {
		return "", false, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, name, errs)
	}
	return q.Get("container"), queryBool(q, "insecureSkipTLSVerifyBackend", false), out, nil
}
