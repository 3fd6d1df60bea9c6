package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestInfo is what a resource request's path and method say.
type requestInfo struct {
	gv          schema.GroupVersion
	namespace   string
	resource    string
	name        string
	subresource string
	verb        string // get list watch create update patch delete deletecollection
}

// namespaceSubresources are the subresources of a namespace itself, as
// opposed to resources inside it.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseResourcePath parses /api/v1/... and /apis/<group>/<version>/...; ok is
// false for anything else (discovery and other non-resource paths).
func parseResourcePath(r *http.Request) (requestInfo, bool) {
	parts := splitPath(r.URL.Path)
	var ri requestInfo
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		ri.gv = schema.GroupVersion{Version: parts[1]}
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		ri.gv = schema.GroupVersion{Group: parts[1], Version: parts[2]}
		parts = parts[3:]
	default:
		return ri, false
	}
	watchPath := false
	if parts[0] == "watch" {
		watchPath = true
		parts = parts[1:]
		if len(parts) == 0 {
			return ri, false
		}
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		ri.namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	ri.resource = parts[0]
	if len(parts) > 1 {
		ri.name = parts[1]
	}
	if len(parts) > 2 {
		ri.subresource = parts[2]
	}
	if len(parts) > 3 && ri.subresource != "proxy" { // .../proxy/<path> goes to a node or pod
		return ri, false
	}
	if ri.resource == "namespaces" && ri.name == "" && ri.namespace != "" {
		// /api/v1/namespaces/<name>
		ri.name, ri.namespace = ri.namespace, ""
	}
	if ri.resource == "namespaces" {
		ri.namespace = ""
	}
	q := r.URL.Query()
	isWatch := watchPath || q.Get("watch") == "true" || q.Get("watch") == "1"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case isWatch:
			ri.verb = "watch"
		case ri.name == "":
			ri.verb = "list"
		default:
			ri.verb = "get"
		}
	case http.MethodPost:
		ri.verb = "create"
	case http.MethodPut:
		ri.verb = "update"
	case http.MethodPatch:
		ri.verb = "patch"
	case http.MethodDelete:
		if ri.name == "" {
			ri.verb = "deletecollection"
		} else {
			ri.verb = "delete"
		}
	default:
		ri.verb = strings.ToLower(r.Method)
	}
	return ri, true
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
