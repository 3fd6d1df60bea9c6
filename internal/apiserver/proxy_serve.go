package apiserver

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kedge-dev/kedge/internal/registry"
)

// maxKubeletError bounds how much of a kubelet's error answer becomes
// the message of ours.
const maxKubeletError = 50000

// servePodLog serves pods/log: the log of one container, streamed from
// its node's kubelet.
func (s *Server) servePodLog(w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo) {
	name, skipVerify, query, err := podLogQuery(ri.name, r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	pod, err := s.getPod(ctx, res, ri)
	if err != nil {
		writeError(w, err)
		return
	}
	container, err := podContainer(pod, name)
	if err != nil {
		writeError(w, err)
		return
	}
	if pod.Spec.NodeName == "" {
		// Not scheduled yet: no log, as upstream answers.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		return
	}
	loc, err := s.kubeletLocation(ctx, pod.Spec.NodeName)
	if err != nil {
		writeError(w, err)
		return
	}
	loc.Path = fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container)
	loc.RawQuery = query.Encode()
	transport, err := s.kubeletTransport(skipVerify)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	client := &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		writeError(w, unknownError(err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		writeError(w, kubeletError(resp, schema.GroupResource{Resource: "pods/log"}, ri.name))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flushCopy(w, resp.Body)
}

// kubeletError turns a kubelet's error answer into the API error upstream
// reports for it: the kubelet's text becomes the message.
func kubeletError(resp *http.Response, gr schema.GroupResource, name string) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKubeletError))
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	text := string(body)
	switch resp.StatusCode {
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(fmt.Errorf("%s", text))
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(text)
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, "", gr, name, text, 0, false)
}

// unknownError is how upstream reports an error that has no API status
// (a kubelet that cannot be reached): code 500, no reason, the error's
// text, which kubectl prints as "Error from server: <text>".
func unknownError(err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error()}}
}

// flushCopy copies a stream to the client, flushing after every read so
// that followed logs arrive as they are written.
func flushCopy(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// servePodStream serves pods/exec, pods/attach and pods/portforward: the
// options become the kubelet's query and the (upgrading) request is
// proxied to the kubelet of the pod's node.
func (s *Server) servePodStream(w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo) {
	ctx := r.Context()
	q := r.URL.Query()
	pod, err := s.getPod(ctx, res, ri)
	if err != nil {
		writeError(w, err)
		return
	}
	params := url.Values{}
	var path string
	if ri.subresource == "portforward" {
		for _, p := range q["ports"] {
			for _, one := range strings.Split(p, ",") {
				n, err := strconv.ParseUint(strings.TrimSpace(one), 10, 16)
				if err != nil || n == 0 {
					writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid port %q", one)))
					return
				}
				params.Add("port", strconv.FormatUint(n, 10))
			}
		}
		path = fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name)
	} else {
		container, err := podContainer(pod, q.Get("container"))
		if err != nil {
			writeError(w, err)
			return
		}
		// Stdout and stderr default to on, as in PodExecOptions and
		// PodAttachOptions.
		for _, o := range []struct {
			option, param string
			def           bool
		}{{"stdin", "input", false}, {"stdout", "output", true}, {"stderr", "error", true}, {"tty", "tty", false}} {
			if queryBool(q, o.option, o.def) {
				params.Set(o.param, "1")
			}
		}
		if ri.subresource == "exec" {
			for _, c := range q["command"] {
				params.Add("command", c)
			}
		}
		path = fmt.Sprintf("/%s/%s/%s/%s", ri.subresource, pod.Namespace, pod.Name, container)
	}
	if pod.Spec.NodeName == "" {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name)))
		return
	}
	loc, err := s.kubeletLocation(ctx, pod.Spec.NodeName)
	if err != nil {
		writeError(w, err)
		return
	}
	loc.Path, loc.RawQuery = path, params.Encode()
	s.proxyToKubelet(w, r, loc)
}

// serveNodeProxy serves nodes/proxy: /api/v1/nodes/<name>[:<port>]/proxy/<path>
// reaches https://<node>:<kubelet port>/<path>.
func (s *Server) serveNodeProxy(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	name, port, _ := strings.Cut(ri.name, ":")
	loc, err := s.kubeletLocation(r.Context(), name)
	if err != nil {
		writeError(w, err)
		return
	}
	if port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid port %q", port)))
			return
		}
		host, _, _ := net.SplitHostPort(loc.Host)
		loc.Host = net.JoinHostPort(host, port)
	}
	loc.Path = proxyPath(r.URL.Path, ri.name)
	loc.RawQuery = r.URL.RawQuery
	s.proxyToKubelet(w, r, loc)
}

// proxyPath is what follows /<name>/proxy in a proxy request's path ("/"
// if nothing).
func proxyPath(p, name string) string {
	marker := "/" + name + "/proxy"
	i := strings.Index(p, marker)
	if i < 0 {
		return "/"
	}
	rest := p[i+len(marker):]
	if rest == "" {
		return "/"
	}
	return rest
}

// proxyToKubelet forwards a request to a kubelet with the API server's
// credentials (the client's own are dropped); a connection upgrade is
// passed through and the bytes copied both ways until either side ends.
func (s *Server) proxyToKubelet(w http.ResponseWriter, r *http.Request, loc *url.URL) {
	transport, err := s.kubeletTransport(false)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *loc
			pr.Out.URL = &u
			pr.Out.Host = u.Host
			for _, h := range []string{"Authorization", "Impersonate-User", "Impersonate-Group", "Impersonate-Uid"} {
				pr.Out.Header.Del(h)
			}
		},
		Transport:     transport,
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, unknownError(fmt.Errorf("error dialing backend: %v", err)))
		},
	}
	rp.ServeHTTP(w, r)
}
