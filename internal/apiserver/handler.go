package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kedge-dev/kedge/internal/registry"
)

var namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// serveResource handles every request on a resource path.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	res, ok := s.reg.Lookup(ri.gv.WithResource(ri.resource))
	if !ok || (!res.Namespaced && ri.namespace != "") {
		// As upstream answers a path it does not serve (a custom
		// resource whose definition is gone, say).
		writeError(w, apierrors.NewGenericServerResponse(http.StatusNotFound, "", schema.GroupResource{}, "", "", 0, false))
		return
	}
	if res.Warning != "" {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", res.Warning))
	}
	if !allowed(res, ri.verb) {
		writeError(w, apierrors.NewMethodNotSupported(res.GroupVersionResource().GroupResource(), ri.verb))
		return
	}
	// Logs, exec, attach, port-forward and node proxy are the kubelets'
	// (proxy.go): streams of any media type, no request timeout.
	if ri.subresource != "" && s.serveConnect(w, r, res, ri) {
		return
	}
	as, err := negotiate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if ri.verb == "watch" {
		s.watch(w, r, res, ri.namespace, ri.name, as)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	if err := validateWriteOptions(r, ri.verb); err != nil {
		writeError(w, err)
		return
	}
	ctx = withManager(ctx, requestManager(r))
	if err := checkCustomPatch(r, res, ri); err != nil {
		writeError(w, err)
		return
	}
	switch ri.subresource {
	case "":
		s.serveMain(ctx, w, r, res, ri, as)
	case "status":
		if !res.Status {
			break
		}
		s.serveStatus(ctx, w, r, res, ri, as)
		return
	case "scale":
		if res.Scale == nil {
			break
		}
		s.serveScale(ctx, w, r, res, ri)
		return
	case "binding":
		if res.GVK.Kind == "Pod" && ri.verb == "create" {
			s.serveBinding(ctx, w, r, res, ri)
			return
		}
	case "eviction":
		if res.GVK.Kind == "Pod" && ri.verb == "create" {
			s.serveEviction(ctx, w, r, res, ri)
			return
		}
	case "token":
		if res.GVK.Kind == "ServiceAccount" && res.GVK.Group == "" && ri.verb == "create" {
			s.serveToken(ctx, w, r, ri)
			return
		}
	case "finalize":
		if res.GVK.Kind == "Namespace" && ri.verb == "update" {
			s.serveFinalize(ctx, w, r, res, ri, as)
			return
		}
	}
	if ri.subresource != "" {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{}, ""))
	}
}

func allowed(res *registry.Resource, verb string) bool {
	for _, v := range res.Verbs {
		if v == verb {
			return true
		}
	}
	return false
}

func isDryRun(r *http.Request) bool { return r.URL.Query().Get("dryRun") == "All" }

func fieldValidationOf(r *http.Request) (fieldValidation, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "", "Warn":
		return validateWarn, nil
	case "Strict":
		return validateStrict, nil
	case "Ignore":
		return validateIgnore, nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of Ignore, Warn, Strict, got %q", v))
	}
}

// decodeRequest reads and decodes the body of a create or update.
func (s *Server) decodeRequest(r *http.Request, res *registry.Resource) (runtime.Object, []string, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	fv, err := fieldValidationOf(r)
	if err != nil {
		return nil, nil, err
	}
	return s.codec.decodeBody(res, body, fv, contentType(r))
}

func contentType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return "application/json"
	}
	return mt
}

// writeObject writes one object in the representation the client asked for.
func (s *Server) writeObject(w http.ResponseWriter, res *registry.Resource, as accept, code int, obj runtime.Object, warnings []string) {
	for _, wn := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", wn))
	}
	var raw []byte
	var err error
	switch as.as {
	case outTable:
		raw, err = json.Marshal(s.table(res, []runtime.Object{obj}, "", nil, includeMetadata))
	case outMetadata:
		raw, err = json.Marshal(partial(obj))
	default:
		raw, err = s.codec.encode(res, obj)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeRaw(w, as, code, raw)
}

func (s *Server) serveMain(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo, as accept) {
	switch ri.verb {
	case "get":
		obj, _, err := s.get(ctx, res, ri.namespace, ri.name)
		if err != nil {
			writeError(w, err)
			return
		}
		s.writeObject(w, res, as, http.StatusOK, obj, nil)
	case "list":
		s.serveList(ctx, w, r, res, ri, as)
	case "create":
		if ri.name != "" {
			writeError(w, apierrors.NewMethodNotSupported(res.GroupVersionResource().GroupResource(), "create"))
			return
		}
		obj, warnings, err := s.decodeRequest(r, res)
		if err != nil {
			writeError(w, err)
			return
		}
		if res.Review != nil {
			out, err := res.Review(s.reviewContext(ctx), obj)
			if err != nil {
				writeError(w, err)
				return
			}
			s.writeObject(w, res, as, http.StatusCreated, out, warnings)
			return
		}
		out, err := s.create(ctx, res, ri.namespace, obj, isDryRun(r))
		if err != nil {
			writeError(w, err)
			return
		}
		s.writeObject(w, res, as, http.StatusCreated, out, warnings)
	case "update":
		s.serveUpdate(ctx, w, r, res, ri, as, updateMain)
	case "patch":
		s.servePatch(ctx, w, r, res, ri, as, updateMain)
	case "delete":
		opts, err := s.parseDeleteOptions(r)
		if err != nil {
			writeError(w, err)
			return
		}
		obj, gone, err := s.delete(ctx, res, ri.namespace, ri.name, opts)
		if err != nil {
			writeError(w, err)
			return
		}
		code := http.StatusOK
		if !gone {
			code = http.StatusAccepted
		}
		if gone && res.GVK.Kind != "Pod" && res.GVK.Kind != "Namespace" {
			writeValue(w, code, statusSuccess(deleteDetails(res, obj)))
			return
		}
		s.writeObject(w, res, as, code, obj, nil)
	case "deletecollection":
		opts, err := s.parseDeleteOptions(r)
		if err != nil {
			writeError(w, err)
			return
		}
		lr, err := s.list(ctx, res, ri.namespace, r.URL.Query())
		if err != nil {
			writeError(w, err)
			return
		}
		for _, obj := range lr.items {
			m := partial(obj)
			if _, _, err := s.delete(ctx, res, m.Namespace, m.Name, opts); err != nil && !apierrors.IsNotFound(err) {
				writeError(w, err)
				return
			}
		}
		s.writeList(w, res, as, r, lr)
	default:
		writeError(w, apierrors.NewMethodNotSupported(res.GroupVersionResource().GroupResource(), ri.verb))
	}
}

func (s *Server) serveList(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo, as accept) {
	lr, err := s.list(ctx, res, ri.namespace, r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeList(w, res, as, r, lr)
}

func (s *Server) writeList(w http.ResponseWriter, res *registry.Resource, as accept, r *http.Request, lr listResult) {
	rv := fmt.Sprint(lr.rev)
	switch as.as {
	case outTable:
		include := includeObject(r.URL.Query().Get("includeObject"))
		t := s.table(res, lr.items, rv, &lr.cont, include)
		t.RemainingItemCount = lr.remaining
		raw, err := json.Marshal(t)
		if err != nil {
			writeError(w, err)
			return
		}
		writeRaw(w, as, http.StatusOK, raw)
		return
	case outMetadata:
		l := metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"}}
		l.ResourceVersion, l.Continue, l.RemainingItemCount = rv, lr.cont, lr.remaining
		l.Items = make([]metav1.PartialObjectMetadata, 0, len(lr.items))
		for _, obj := range lr.items {
			l.Items = append(l.Items, *partial(obj))
		}
		raw, err := json.Marshal(l)
		if err != nil {
			writeError(w, err)
			return
		}
		writeRaw(w, as, http.StatusOK, raw)
		return
	}
	// The list document is assembled from the items' JSON.
	lm := metav1.ListMeta{ResourceVersion: rv, Continue: lr.cont, RemainingItemCount: lr.remaining}
	lmRaw, _ := json.Marshal(lm)
	var b strings.Builder
	fmt.Fprintf(&b, `{"kind":%q,"apiVersion":%q,"metadata":%s,"items":[`, listKind(res), res.GVK.GroupVersion().String(), lmRaw)
	for i, obj := range lr.items {
		raw, err := s.codec.encode(res, obj)
		if err != nil {
			writeError(w, err)
			return
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
	}
	b.WriteString("]}")
	writeRaw(w, as, http.StatusOK, []byte(b.String()))
}

func (s *Server) serveUpdate(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo, as accept, mode updateMode) {
	obj, warnings, err := s.decodeRequest(r, res)
	if err != nil {
		writeError(w, err)
		return
	}
	out, _, err := s.update(ctx, res, ri.namespace, ri.name, obj, mode, isDryRun(r))
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeObject(w, res, as, http.StatusOK, out, warnings)
}

func (s *Server) serveStatus(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo, as accept) {
	switch ri.verb {
	case "get":
		obj, _, err := s.get(ctx, res, ri.namespace, ri.name)
		if err != nil {
			writeError(w, err)
			return
		}
		s.writeObject(w, res, as, http.StatusOK, obj, nil)
	case "update":
		s.serveUpdate(ctx, w, r, res, ri, as, updateStatus)
	case "patch":
		s.servePatch(ctx, w, r, res, ri, as, updateStatus)
	default:
		writeError(w, apierrors.NewMethodNotSupported(res.GroupVersionResource().GroupResource(), ri.verb))
	}
}
