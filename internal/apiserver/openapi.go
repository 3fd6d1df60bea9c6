package apiserver

import (
	"bytes"
	"mime"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kedge-dev/kedge/internal/apiserver/openapi"
)

func (s *Server) openAPI() *openapi.Service { return s.openapi }

// serveOpenAPI serves the OpenAPI documents kubectl and client-go read:
//
//	/openapi/v2                    Swagger 2.0 of every group version
//	/openapi/v3                    the URL (with ?hash=) of each document below
//	/openapi/v3/api/v1             OpenAPI 3.0 of one group version
//	/openapi/v3/apis/<g>/<v>
//
// Documents are JSON; /openapi/v2 is also served as protobuf (gnostic's
// OpenAPIv2 message), which kubectl asks for. Other protobuf requests get 406.
// A v3 document asked for with its current hash is immutable and may be
// cached for good; a stale hash is redirected to the current one.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, apierrors.NewMethodNotSupported(schema.GroupResource{}, r.Method))
		return
	}
	if wantsProtoV2(r.Header.Get("Accept")) && strings.TrimSuffix(r.URL.Path, "/") == "/openapi/v2" {
		doc, err := s.openAPI().V2()
		if err != nil {
			writeError(w, err)
			return
		}
		s.serveProtoV2(w, r, doc)
		return
	}
	if !acceptsJSON(r.Header.Get("Accept")) {
		writeError(w, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "",
			"only the following media types are accepted: application/json", 0, false))
		return
	}
	svc := s.openAPI()
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case p == "/openapi/v2":
		doc, err := svc.V2()
		if err != nil {
			writeError(w, err)
			return
		}
		serveDocument(w, r, doc)
	case p == "/openapi/v3":
		doc, err := svc.V3Discovery()
		if err != nil {
			writeError(w, err)
			return
		}
		serveDocument(w, r, doc)
	default:
		gv, ok := parseOpenAPIV3Path(p)
		var doc *openapi.Document
		var err error
		if ok {
			doc, ok, err = svc.V3(gv)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		if !ok {
			writeError(w, statusError(http.StatusNotFound, "NotFound", "the server could not find the requested resource"))
			return
		}
		if hash := r.URL.Query().Get("hash"); hash != "" {
			if hash != doc.Hash {
				http.Redirect(w, r, "/openapi/v3/"+openapi.V3Path(gv)+"?hash="+doc.Hash, http.StatusMovedPermanently)
				return
			}
			w.Header().Set("Cache-Control", "public, immutable")
			w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
		}
		serveDocument(w, r, doc)
	}
}

// parseOpenAPIV3Path reads the group version of /openapi/v3/api/v1 or
// /openapi/v3/apis/<group>/<version>.
func parseOpenAPIV3Path(p string) (schema.GroupVersion, bool) {
	parts := strings.Split(strings.TrimPrefix(p, "/openapi/v3/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "api":
		return schema.GroupVersion{Version: parts[1]}, true
	case len(parts) == 3 && parts[0] == "apis":
		return schema.GroupVersion{Group: parts[1], Version: parts[2]}, true
	}
	return schema.GroupVersion{}, false
}

// acceptsJSON says whether an Accept header admits application/json.
func acceptsJSON(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "application/*", "*/*":
			return true
		}
	}
	return false
}

// serveDocument writes a document with its ETag (answering 304 to a
// matching If-None-Match), gzip-compressed when the client accepts it:
// the documents are megabytes of JSON.
func serveDocument(w http.ResponseWriter, r *http.Request, doc *openapi.Document) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Etag", `"`+doc.Hash+`"`)
	h.Add("Vary", "Accept-Encoding")
	body := doc.JSON
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && r.Header.Get("Range") == "" {
		if gz := doc.Gzip(); gz != nil {
			h.Set("Content-Encoding", "gzip")
			body = gz
		}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
