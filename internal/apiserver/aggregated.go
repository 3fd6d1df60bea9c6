package apiserver

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// aggregatedContentType is the media type of aggregated discovery
// (apidiscovery.k8s.io/v2): one document with every group, version and
// resource, so that a client needs one request instead of one per group
// version.
const aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// wantsAggregated tells whether the client accepts aggregated discovery
// (kubectl and client-go ask for it first and fall back to the legacy
// documents).
func wantsAggregated(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "application/json" {
			continue
		}
		if params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList" {
			return true
		}
		if params["g"] == "" {
			return false // plain JSON comes first: the legacy document
		}
	}
	return false
}

// serveAggregated writes the aggregated discovery of the legacy group
// (/api) or of the named groups (/apis).
func (s *Server) serveAggregated(w http.ResponseWriter, r *http.Request, legacy bool) {
	list := apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	index := map[string]int{}
	for _, gv := range s.reg.GroupVersions() {
		if (gv.Group == "") != legacy {
			continue
		}
		i, ok := index[gv.Group]
		if !ok {
			index[gv.Group] = len(list.Items)
			list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: gv.Group}})
			i = len(list.Items) - 1
		}
		list.Items[i].Versions = append(list.Items[i].Versions, s.versionDiscovery(gv))
	}
	b, err := json.Marshal(list)
	if err != nil {
		writeError(w, err)
		return
	}
	// The ETag changes with the served resources (custom resources come
	// and go): clients revalidate their cached discovery with it.
	etag := fmt.Sprintf("%q", fmt.Sprintf("%X", sha512.Sum512(b)))
	w.Header().Set("Content-Type", aggregatedContentType)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Etag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && match == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// versionDiscovery describes one group version from its legacy resource
// list, so that both forms always agree.
func (s *Server) versionDiscovery(gv schema.GroupVersion) apidiscoveryv2.APIVersionDiscovery {
	v := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
	byName := map[string]int{}
	for _, r := range s.resourceList(gv).APIResources {
		parent, sub, isSub := strings.Cut(r.Name, "/")
		kind := &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
		if kind.Version == "" {
			kind.Group, kind.Version = gv.Group, gv.Version
		}
		if isSub {
			if i, ok := byName[parent]; ok {
				v.Resources[i].Subresources = append(v.Resources[i].Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource: sub, ResponseKind: kind, Verbs: r.Verbs,
				})
			}
			continue
		}
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		byName[r.Name] = len(v.Resources)
		v.Resources = append(v.Resources, apidiscoveryv2.APIResourceDiscovery{
			Resource: r.Name, ResponseKind: kind, Scope: scope, SingularResource: r.SingularName,
			Verbs: r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories,
		})
	}
	return v
}
