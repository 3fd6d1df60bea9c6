package openapi

import (
	"reflect"
	"sort"
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kedge-dev/kedge/internal/registry"
)

// The operations of a group version, independent of the OpenAPI version
// they are written in.

type param struct {
	name, in, desc, typ string
	required            bool
}

type response struct {
	code int
	desc string
	body *kindRef // nil: no body
}

// kindRef says what a body is: a Go type, or the kind of a custom
// resource, whose objects are unstructured.
type kindRef struct {
	t    reflect.Type
	kind schema.GroupVersionKind // custom resources only
	list bool                    // the list of kind
}

func goType(t reflect.Type) *kindRef { return &kindRef{t: t} }

// stringBody marks responses that are plain text (logs, streams) rather
// than objects.
var stringBody = goType(reflect.TypeOf(""))

type operation struct {
	method   string // get, put, post, patch, delete, head, options
	id, desc string
	action   string // x-kubernetes-action; "" for none
	gvk      *schema.GroupVersionKind
	params   []param
	body     *kindRef
	consumes []string
	produces []string
	resps    []response
}

type pathItem struct {
	params []param // shared by all operations
	ops    []*operation
}

// Media types of bodies and responses. Only JSON and YAML are served.
var (
	mediaObject  = []string{"application/json", "application/yaml"}
	mediaList    = []string{"application/json", "application/yaml", "application/json;stream=watch"}
	mediaWatch   = mediaList
	mediaAny     = []string{"*/*"}
	mediaPatches = []string{"application/apply-patch+yaml", "application/json-patch+json",
		"application/merge-patch+json", "application/strategic-merge-patch+json"}
	// Custom resources have no patch strategies: no strategic merge patch
	// (kubectl apply reads this to choose a JSON merge patch instead).
	mediaCustomPatches = []string{"application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"}
)

var (
	typeStatus          = goType(reflect.TypeOf(metav1.Status{}))
	typeDeleteOptions   = goType(reflect.TypeOf(metav1.DeleteOptions{}))
	typePatch           = goType(reflect.TypeOf(metav1.Patch{}))
	typeWatchEvent      = goType(reflect.TypeOf(metav1.WatchEvent{}))
	typeAPIResourceList = goType(reflect.TypeOf(metav1.APIResourceList{}))
)

// Query parameters come from the fields of the options types, with their
// documentation, as upstream's do.
var (
	listParams       = optionParams(metav1.ListOptions{})
	deleteParams     = optionParams(metav1.DeleteOptions{})
	createParams     = optionParams(metav1.CreateOptions{})
	updateParams     = optionParams(metav1.UpdateOptions{})
	patchParams      = optionParams(metav1.PatchOptions{})
	deleteCollParams = append(without(listParams, "watch", "allowWatchBookmarks"), deleteParams...)
	prettyParam      = param{name: "pretty", in: "query", typ: "string", desc: "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."}
	namespaceParam   = param{name: "namespace", in: "path", typ: "string", required: true, desc: "object name and auth scope, such as for teams and projects"}
)

// optionParams turns the scalar fields of an options struct into query
// parameters. Nested structs (DeleteOptions.preconditions) and the type
// meta are not parameters.
func optionParams(opts interface{}) []param {
	t := reflect.TypeOf(opts)
	docs := fieldDocs(t)
	var out []param
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("json")
		name := strings.Split(tag, ",")[0]
		if !ok || f.Anonymous || name == "" || name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		typ, _ := simpleType(ft)
		if typ == "" {
			continue
		}
		out = append(out, param{name: name, in: "query", typ: typ, desc: docs[name]})
	}
	sortParams(out)
	return out
}

func without(ps []param, names ...string) []param {
	var out []param
	for _, p := range ps {
		keep := true
		for _, n := range names {
			keep = keep && p.name != n
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

func sortParams(ps []param) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].name < ps[j].name })
}

// groupPrefix is the group part of operation IDs: "" → Core,
// rbac.authorization.k8s.io → RbacAuthorization, stable.example.com →
// StableExampleCom.
func groupPrefix(group string) string {
	if group == "" {
		return "Core"
	}
	return camel(strings.TrimSuffix(group, ".k8s.io"), true)
}

// camel drops what may not appear in an operation ID and capitalizes the
// letter after each dropped character.
func camel(s string, upperFirst bool) string {
	var b strings.Builder
	up := upperFirst
	for i, r := range s {
		if unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r)) {
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			b.WriteRune(r)
		} else {
			up = true
		}
	}
	return b.String()
}

func tagOf(gv schema.GroupVersion) string {
	return camel(strings.TrimSuffix(coreGroup(gv.Group), ".k8s.io"), false) + "_" + gv.Version
}

func coreGroup(g string) string {
	if g == "" {
		return "core"
	}
	return g
}

// article is the article of a noun in operation descriptions: none for
// plurals ("create Endpoints"), "an" before a vowel.
func article(noun string) string {
	if strings.HasSuffix(noun, "s") && !strings.HasSuffix(noun, "ss") {
		return " "
	}
	if noun != "" && strings.ContainsRune("aeiouAEIOU", rune(noun[0])) {
		return " an "
	}
	return " a "
}

func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return "/apis/" + gv.Group + "/" + gv.Version
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// pathBuilder collects the path items of one group version.
type pathBuilder struct {
	scheme *runtime.Scheme
	gv     schema.GroupVersion
	gvID   string // "AppsV1"
	paths  map[string]*pathItem
}

func newPathBuilder(scheme *runtime.Scheme, gv schema.GroupVersion) *pathBuilder {
	return &pathBuilder{scheme: scheme, gv: gv, gvID: groupPrefix(gv.Group) + camel(gv.Version, true), paths: map[string]*pathItem{}}
}

func (b *pathBuilder) add(path string, ops ...*operation) {
	item := b.paths[path]
	if item == nil {
		item = &pathItem{}
		b.paths[path] = item
	}
	item.ops = append(item.ops, ops...)
}

// finish moves the parameters every operation of a path shares to the
// path, as upstream's documents have them.
func (b *pathBuilder) finish() map[string]*pathItem {
	for _, item := range b.paths {
		shared := map[string]int{}
		for _, op := range item.ops {
			for _, p := range op.params {
				if p.in != "body" {
					shared[p.in+"/"+p.name]++
				}
			}
		}
		if len(item.ops) > 0 {
			for _, p := range item.ops[0].params {
				if p.in != "body" && shared[p.in+"/"+p.name] == len(item.ops) {
					item.params = append(item.params, p)
				}
			}
		}
		for _, op := range item.ops {
			var keep []param
			for _, p := range op.params {
				if p.in == "body" || shared[p.in+"/"+p.name] != len(item.ops) {
					keep = append(keep, p)
				}
			}
			op.params = keep
			sortParams(op.params)
		}
		sortParams(item.params)
	}
	return b.paths
}

func okResponse(t *kindRef, codes ...int) []response {
	text := map[int]string{200: "OK", 201: "Created", 202: "Accepted"}
	var out []response
	for _, c := range codes {
		out = append(out, response{code: c, desc: text[c], body: t})
	}
	return append(out, response{code: 401, desc: "Unauthorized"})
}

// patchMedia are the patch formats a body kind takes.
func patchMedia(k *kindRef) []string {
	if k.kind.Kind != "" {
		return mediaCustomPatches
	}
	return mediaPatches
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

func cloneParams(ps ...[]param) []param {
	var out []param
	for _, p := range ps {
		out = append(out, p...)
	}
	return out
}

// resource adds the operations of one resource and its subresources.
func (b *pathBuilder) resource(res *registry.Resource, subs []metav1.APIResource) {
	kind := res.GVK.Kind
	gvk := res.GVK
	obj, list := kindRefs(res)
	ns, nsID := "", ""
	var scope []param
	if res.Namespaced {
		ns, nsID = "/namespaces/{namespace}", "Namespaced"
		scope = []param{namespaceParam}
	}
	root := gvPath(b.gv)
	collection := root + ns + "/" + res.Name
	item := collection + "/{name}"
	nameParam := param{name: "name", in: "path", typ: "string", required: true, desc: "name of the " + kind}
	verbs := res.Verbs
	deleteResult := typeStatus
	if res.GracePeriod != nil {
		// Graceful deletion answers with the object marked for deletion.
		deleteResult = obj
	}

	if hasVerb(verbs, "list") && list != nil {
		b.add(collection, &operation{method: "get", id: "list" + b.gvID + nsID + kind, desc: "list or watch objects of kind " + kind,
			action: "list", gvk: &gvk, params: cloneParams(scope, listParams, []param{prettyParam}),
			produces: mediaList, resps: okResponse(list, 200)})
		if res.Namespaced {
			b.add(root+"/"+res.Name, &operation{method: "get", id: "list" + b.gvID + kind + "ForAllNamespaces",
				desc: "list or watch objects of kind " + kind, action: "list", gvk: &gvk,
				params: cloneParams(listParams, []param{prettyParam}), produces: mediaList, resps: okResponse(list, 200)})
		}
	}
	if hasVerb(verbs, "create") {
		b.add(collection, &operation{method: "post", id: "create" + b.gvID + nsID + kind, desc: "create" + article(kind) + kind,
			action: "post", gvk: &gvk, params: cloneParams(scope, createParams, []param{prettyParam}), body: obj,
			consumes: mediaAny, produces: mediaObject, resps: okResponse(obj, 200, 201, 202)})
	}
	if hasVerb(verbs, "deletecollection") {
		b.add(collection, &operation{method: "delete", id: "delete" + b.gvID + "Collection" + nsID + kind,
			desc: "delete collection of " + kind, action: "deletecollection", gvk: &gvk,
			params: cloneParams(scope, deleteCollParams, []param{prettyParam}), body: typeDeleteOptions,
			consumes: mediaAny, produces: mediaObject, resps: okResponse(typeStatus, 200)})
	}
	itemParams := append([]param{nameParam}, scope...)
	if hasVerb(verbs, "get") {
		b.add(item, &operation{method: "get", id: "read" + b.gvID + nsID + kind, desc: "read the specified " + kind,
			action: "get", gvk: &gvk, params: cloneParams(itemParams, []param{prettyParam}),
			produces: mediaObject, resps: okResponse(obj, 200)})
	}
	if hasVerb(verbs, "update") {
		b.add(item, &operation{method: "put", id: "replace" + b.gvID + nsID + kind, desc: "replace the specified " + kind,
			action: "put", gvk: &gvk, params: cloneParams(itemParams, updateParams, []param{prettyParam}), body: obj,
			consumes: mediaAny, produces: mediaObject, resps: okResponse(obj, 200, 201)})
	}
	if hasVerb(verbs, "patch") {
		b.add(item, &operation{method: "patch", id: "patch" + b.gvID + nsID + kind, desc: "partially update the specified " + kind,
			action: "patch", gvk: &gvk, params: cloneParams(itemParams, patchParams, []param{prettyParam}), body: typePatch,
			consumes: patchMedia(obj), produces: mediaObject, resps: okResponse(obj, 200, 201)})
	}
	if hasVerb(verbs, "delete") {
		b.add(item, &operation{method: "delete", id: "delete" + b.gvID + nsID + kind, desc: "delete" + article(kind) + kind,
			action: "delete", gvk: &gvk, params: cloneParams(itemParams, deleteParams, []param{prettyParam}), body: typeDeleteOptions,
			consumes: mediaAny, produces: mediaObject, resps: okResponse(deleteResult, 200, 202)})
	}
	if hasVerb(verbs, "watch") {
		watch := root + "/watch" + ns + "/" + res.Name
		wparams := cloneParams(listParams, []param{prettyParam})
		b.add(watch, &operation{method: "get", id: "watch" + b.gvID + nsID + kind + "List",
			desc:   "watch individual changes to a list of " + kind + ". deprecated: use the 'watch' parameter with a list operation instead.",
			action: "watchlist", gvk: &gvk, params: cloneParams(scope, wparams), produces: mediaWatch, resps: okResponse(typeWatchEvent, 200)})
		b.add(watch+"/{name}", &operation{method: "get", id: "watch" + b.gvID + nsID + kind,
			desc:   "watch changes to an object of kind " + kind + ". deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
			action: "watch", gvk: &gvk, params: cloneParams(itemParams, wparams), produces: mediaWatch, resps: okResponse(typeWatchEvent, 200)})
		if res.Namespaced {
			b.add(root+"/watch/"+res.Name, &operation{method: "get", id: "watch" + b.gvID + kind + "ListForAllNamespaces",
				desc:   "watch individual changes to a list of " + kind + ". deprecated: use the 'watch' parameter with a list operation instead.",
				action: "watchlist", gvk: &gvk, params: cloneParams(wparams), produces: mediaWatch, resps: okResponse(typeWatchEvent, 200)})
		}
	}
	for _, sub := range subs {
		b.subresource(res, obj, sub, item, nsID, itemParams)
	}
}

// subresource adds the operations of one subresource, told apart by what
// discovery says of it: the kind of its object and its verbs.
func (b *pathBuilder) subresource(res *registry.Resource, parent *kindRef, sub metav1.APIResource, item, nsID string, itemParams []param) {
	parts := strings.SplitN(sub.Name, "/", 2)
	if len(parts) != 2 {
		return
	}
	name := parts[1]
	kind := res.GVK.Kind
	gvk := schema.GroupVersionKind{Group: sub.Group, Version: sub.Version, Kind: sub.Kind}
	if gvk.Version == "" {
		gvk.Group, gvk.Version = res.GVK.Group, res.GVK.Version
	}
	path := item + "/" + name
	subID := upperFirst(name)
	obj := parent
	if gvk != res.GVK {
		t, ok := b.typeOf(gvk)
		if !ok {
			return
		}
		obj = goType(t)
	}
	// Streaming subresources (exec, attach, portforward, proxy) take their
	// parameters from an options kind and answer with a stream.
	if strings.HasSuffix(gvk.Kind, "Options") {
		params := cloneParams(itemParams, optionParams(reflect.New(obj.t).Elem().Interface()))
		methods := map[string]string{"get": "get", "create": "post", "update": "put", "patch": "patch", "delete": "delete"}
		for _, verb := range sub.Verbs {
			m, ok := methods[verb]
			if !ok {
				continue
			}
			b.add(path, &operation{method: m, id: "connect" + b.gvID + upperFirst(m) + nsID + kind + subID,
				desc: "connect " + strings.ToUpper(m) + " requests to " + name + " of " + kind, action: "connect", gvk: &gvk,
				params: cloneParams(params), produces: mediaAny, resps: okResponse(stringBody, 200)})
		}
		return
	}
	// A read-only subresource of the kind itself with an options kind of
	// its own (pods/log → PodLogOptions) answers with text.
	if gvk == res.GVK && len(sub.Verbs) == 1 && sub.Verbs[0] == "get" {
		if t, ok := b.typeOf(res.GVK.GroupVersion().WithKind(kind + subID + "Options")); ok {
			b.add(path, &operation{method: "get", id: "read" + b.gvID + nsID + kind + subID,
				desc: "read " + name + " of the specified " + kind, action: "get", gvk: &gvk,
				params:   cloneParams(itemParams, optionParams(reflect.New(t).Elem().Interface()), []param{prettyParam}),
				produces: []string{"text/plain", "application/json", "application/yaml"}, resps: okResponse(stringBody, 200)})
			return
		}
	}
	params := func(p []param) []param { return cloneParams(itemParams, p, []param{prettyParam}) }
	for _, verb := range sub.Verbs {
		switch verb {
		case "get":
			b.add(path, &operation{method: "get", id: "read" + b.gvID + nsID + kind + subID,
				desc: "read " + name + " of the specified " + kind, action: "get", gvk: &gvk, params: params(nil),
				produces: mediaObject, resps: okResponse(obj, 200)})
		case "update":
			b.add(path, &operation{method: "put", id: "replace" + b.gvID + nsID + kind + subID,
				desc: "replace " + name + " of the specified " + kind, action: "put", gvk: &gvk, params: params(updateParams),
				body: obj, consumes: mediaAny, produces: mediaObject, resps: okResponse(obj, 200, 201)})
		case "patch":
			b.add(path, &operation{method: "patch", id: "patch" + b.gvID + nsID + kind + subID,
				desc: "partially update " + name + " of the specified " + kind, action: "patch", gvk: &gvk, params: params(patchParams),
				body: typePatch, consumes: patchMedia(obj), produces: mediaObject, resps: okResponse(obj, 200, 201)})
		case "create":
			b.add(path, &operation{method: "post", id: "create" + b.gvID + nsID + kind + subID,
				desc: "create " + name + " of" + article(kind) + kind, action: "post", gvk: &gvk, params: params(createParams),
				body: obj, consumes: mediaAny, produces: mediaObject, resps: okResponse(obj, 200, 201, 202)})
		case "delete":
			b.add(path, &operation{method: "delete", id: "delete" + b.gvID + nsID + kind + subID,
				desc: "delete " + name + " of" + article(kind) + kind, action: "delete", gvk: &gvk, params: params(deleteParams),
				body: typeDeleteOptions, consumes: mediaAny, produces: mediaObject, resps: okResponse(typeStatus, 200, 202)})
		}
	}
}

func (b *pathBuilder) typeOf(gvk schema.GroupVersionKind) (reflect.Type, bool) {
	if b.scheme == nil {
		return nil, false
	}
	obj, err := b.scheme.New(gvk)
	if err != nil {
		return nil, false
	}
	t := reflect.TypeOf(obj)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	return t.Elem(), true
}

// kindRefs are the bodies of a resource's objects and lists.
func kindRefs(res *registry.Resource) (obj, list *kindRef) {
	if _, ok := res.New().(runtime.Unstructured); ok {
		return &kindRef{kind: res.GVK}, &kindRef{kind: res.GVK, list: true}
	}
	obj = goType(reflect.TypeOf(res.New()).Elem())
	if res.NewList != nil {
		list = goType(reflect.TypeOf(res.NewList()).Elem())
	}
	return obj, list
}

// apiResources adds the discovery document of the group version.
func (b *pathBuilder) apiResources() {
	b.add(gvPath(b.gv)+"/", &operation{method: "get", id: "get" + b.gvID + "APIResources", desc: "get available resources",
		produces: mediaObject, resps: okResponse(typeAPIResourceList, 200)})
}
