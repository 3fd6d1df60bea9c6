package apiserver

import (
	"net/http"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/version"
)

// serveNonResource serves discovery, version and health paths. It reports
// whether it handled the request.
func (s *Server) serveNonResource(w http.ResponseWriter, r *http.Request) bool {
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case p == "/version":
		writeValue(w, http.StatusOK, version.Info())
	case p == "/healthz" || p == "/livez" || p == "/readyz" || strings.HasPrefix(p, "/healthz/") ||
		strings.HasPrefix(p, "/livez/") || strings.HasPrefix(p, "/readyz/"):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write([]byte("ok"))
	case (p == "/api" || p == "/apis") && wantsAggregated(r):
		s.serveAggregated(w, r, p == "/api")
	case p == "/api":
		writeValue(w, http.StatusOK, metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: s.cfg.advertise()},
			},
		})
	case p == "/apis":
		writeValue(w, http.StatusOK, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: s.groups()})
	case p == "/api/v1":
		writeValue(w, http.StatusOK, s.resourceList(schema.GroupVersion{Version: "v1"}))
	case strings.HasPrefix(p, "/apis/") && strings.Count(p, "/") == 2:
		name := strings.TrimPrefix(p, "/apis/")
		for _, g := range s.groups() {
			if g.Name == name {
				g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
				writeValue(w, http.StatusOK, g)
				return true
			}
		}
		return false
	case strings.HasPrefix(p, "/apis/") && strings.Count(p, "/") == 3:
		parts := strings.Split(strings.TrimPrefix(p, "/apis/"), "/")
		gv := schema.GroupVersion{Group: parts[0], Version: parts[1]}
		l := s.resourceList(gv)
		if len(l.APIResources) == 0 {
			return false
		}
		writeValue(w, http.StatusOK, l)
	case p == "/openapi/v2" || strings.HasPrefix(p, "/openapi/v3"):
		s.serveOpenAPI(w, r)
	default:
		return false
	}
	return true
}

func (s *Server) groups() []metav1.APIGroup {
	var out []metav1.APIGroup
	index := map[string]int{}
	for _, gv := range s.reg.GroupVersions() {
		if gv.Group == "" {
			continue
		}
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		i, ok := index[gv.Group]
		if !ok {
			index[gv.Group] = len(out)
			out = append(out, metav1.APIGroup{Name: gv.Group, PreferredVersion: v})
			i = len(out) - 1
		}
		out[i].Versions = append(out[i].Versions, v)
	}
	return out
}

func (s *Server) resourceList(gv schema.GroupVersion) metav1.APIResourceList {
	l := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	var resources []*registry.Resource
	for _, res := range s.reg.Resources() {
		if res.GVK.GroupVersion() == gv {
			resources = append(resources, res)
		}
	}
	// Upstream lists a group version's resources by name (which is also the
	// order `kubectl get all` prints categories in).
	sort.Slice(resources, func(i, j int) bool { return resources[i].Name < resources[j].Name })
	for _, res := range resources {
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: res.Name, SingularName: res.Singular, Namespaced: res.Namespaced, Kind: res.GVK.Kind,
			Verbs: sortedVerbs(res.Verbs), ShortNames: res.ShortNames, Categories: res.Categories,
		})
		for _, sub := range subresources(res) {
			l.APIResources = append(l.APIResources, sub)
		}
	}
	return l
}

func subresources(res *registry.Resource) []metav1.APIResource {
	var out []metav1.APIResource
	if res.Status {
		out = append(out, metav1.APIResource{Name: res.Name + "/status", Namespaced: res.Namespaced, Kind: res.GVK.Kind, Verbs: []string{"get", "patch", "update"}})
	}
	if res.Scale != nil {
		out = append(out, metav1.APIResource{Name: res.Name + "/scale", Namespaced: res.Namespaced, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: []string{"get", "patch", "update"}})
	}
	switch res.GVK.Kind {
	case "Pod":
		out = append(out, metav1.APIResource{Name: "pods/binding", Namespaced: true, Kind: "Binding", Verbs: []string{"create"}},
			metav1.APIResource{Name: "pods/eviction", Namespaced: true, Group: "policy", Version: "v1", Kind: "Eviction", Verbs: []string{"create"}},
			// Served by the pod's kubelet (proxy.go).
			metav1.APIResource{Name: "pods/attach", Namespaced: true, Kind: "PodAttachOptions", Verbs: []string{"create", "get"}},
			metav1.APIResource{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
			metav1.APIResource{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}},
			metav1.APIResource{Name: "pods/portforward", Namespaced: true, Kind: "PodPortForwardOptions", Verbs: []string{"create", "get"}})
	case "Node":
		out = append(out, metav1.APIResource{Name: "nodes/proxy", Kind: "NodeProxyOptions", Verbs: []string{"create", "delete", "get", "patch", "update"}})
	case "Namespace":
		out = append(out, metav1.APIResource{Name: "namespaces/finalize", Kind: "Namespace", Verbs: []string{"update"}})
	case "ServiceAccount":
		out = append(out, metav1.APIResource{Name: "serviceaccounts/token", Namespaced: true, Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest", Verbs: []string{"create"}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sortedVerbs(v []string) []string {
	out := append([]string(nil), v...)
	sort.Strings(out)
	return out
}
