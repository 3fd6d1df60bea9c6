// Package apiextensions holds the strategy of apiextensions.k8s.io/v1
// CustomResourceDefinitions and builds, from a CRD, the strategies that
// serve its custom resources as unstructured objects:
//
//	CRD ──CustomResourceDefinitions()──► defaults, validation (names, versions,
//	                                     structural schema), cleanup finalizer
//	    ──NameStatus()────────────────► acceptedNames, NamesAccepted, Established
//	    ──CustomResources()───────────► one registry.Resource per served version:
//	          request body ─Coerce─► pruned (unknown fields reported), defaulted
//	          object ─Validate─► schema (kube-openapi), scale paths, list types
//	          etcd ◄─Storage─► /registry/<group>/<plural>/, storage version
//	          Table ◄─printer columns (JSONPath)
//	    ──PublishedSchema()───────────► the kind's schema in OpenAPI v2/v3
//
// Words: a structural schema declares a type for every field outside of
// anyOf/allOf/oneOf/not; pruning drops the fields it does not declare
// (unless x-kubernetes-preserve-unknown-fields); an embedded resource
// (x-kubernetes-embedded-resource) is an object with its own apiVersion,
// kind and metadata. Facts (paths, messages, conditions) follow upstream's
// apiextensions-apiserver; the code is ours.
package apiextensions
