package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// serveOpenAPI serves the OpenAPI v3 discovery document and, per group
// version, the operations kubectl looks at to learn that the server does
// field validation (so it sends fieldValidation=Strict and lets the server
// judge). Full schemas for `kubectl explain` come with the API server issue.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	if p == "/openapi/v2" {
		writeError(w, statusError(http.StatusNotFound, "NotFound", "the server could not find the requested resource"))
		return
	}
	if p == "/openapi/v3" {
		paths := map[string]interface{}{}
		for _, gv := range s.reg.GroupVersions() {
			paths[gvPath(gv)] = map[string]string{"serverRelativeURL": "/openapi/v3/" + gvPath(gv) + "?hash=kedge"}
		}
		writeValue(w, http.StatusOK, map[string]interface{}{"paths": paths})
		return
	}
	rest := strings.TrimPrefix(p, "/openapi/v3/")
	var gv schema.GroupVersion
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 2 && parts[0] == "api":
		gv = schema.GroupVersion{Version: parts[1]}
	case len(parts) == 3 && parts[0] == "apis":
		gv = schema.GroupVersion{Group: parts[1], Version: parts[2]}
	default:
		writeError(w, statusError(http.StatusNotFound, "NotFound", "the server could not find the requested resource"))
		return
	}
	writeValue(w, http.StatusOK, s.openAPIDoc(gv))
}

func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

func (s *Server) openAPIDoc(gv schema.GroupVersion) map[string]interface{} {
	paths := map[string]interface{}{}
	fieldValidation := map[string]interface{}{
		"name": "fieldValidation", "in": "query", "schema": map[string]interface{}{"type": "string", "uniqueItems": true},
		"description": "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.",
	}
	for _, res := range s.reg.Resources() {
		if res.GVK.GroupVersion() != gv {
			continue
		}
		gvk := map[string]string{"group": res.GVK.Group, "version": res.GVK.Version, "kind": res.GVK.Kind}
		op := func(action string) map[string]interface{} {
			return map[string]interface{}{
				"operationId":                      action + res.GVK.Kind,
				"parameters":                       []interface{}{fieldValidation},
				"x-kubernetes-action":              action,
				"x-kubernetes-group-version-kind": gvk,
				"responses":                        map[string]interface{}{"200": map[string]string{"description": "OK"}},
			}
		}
		base := "/" + gvPath(gv)
		if res.Namespaced {
			base += "/namespaces/{namespace}"
		}
		paths[fmt.Sprintf("%s/%s", base, res.Name)] = map[string]interface{}{"post": op("post")}
		paths[fmt.Sprintf("%s/%s/{name}", base, res.Name)] = map[string]interface{}{"put": op("put"), "patch": op("patch")}
	}
	return map[string]interface{}{
		"openapi": "3.0.0",
		"info":    map[string]string{"title": "Kubernetes", "version": "v1.37.2"},
		"paths":   paths,
		"components": map[string]interface{}{"schemas": map[string]interface{}{}},
	}
}
