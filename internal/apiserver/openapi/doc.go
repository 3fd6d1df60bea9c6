// Package openapi generates the API server's OpenAPI documents from the
// registry at run time, the way kube-apiserver's read:
//
//	registry.Resources ──► paths: operations per resource and subresource
//	                         (operationId, x-kubernetes-action,
//	                         x-kubernetes-group-version-kind, query
//	                         parameters from metav1.*Options)
//	Go types (k8s.io/api) ──► definitions, by reflection over fields and
//	                         json tags; descriptions from SwaggerDoc();
//	                         patchStrategy/patchMergeKey struct tags;
//	                         comment markers (+enum, +listType, +optional,
//	                         +default, ...) from zz_generated.markers.go
//	                         ──► V3(gv): one OpenAPI 3.0 document per group
//	                             version; V2: one Swagger 2.0 document
//
// Nothing is written per kind: a kind added to the registry appears in the
// documents with its Go type's schema. Custom resources (unstructured
// objects) take their schema from Input.CustomSchema.
//
// Vocabulary. A definition is the schema of one Go type, named as upstream
// names it (io.k8s.api.core.v1.Pod). v3 documents wrap a reference that has
// siblings (a description, a default) in allOf and give zero-value
// defaults; v2 documents do neither. Markers are the // +key=value lines
// of the API types' source, which reflection cannot see; markergen copies
// them into zz_generated.markers.go (go generate).
//
// Service caches the documents as JSON with upstream's hash (SHA-512, the
// ETag, and the ?hash= of the v3 discovery's URLs) and rebuilds them when
// the set of resources changes. Serving them over HTTP is the API server's
// job (internal/apiserver/openapi.go).
package openapi
