package apiserver

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"

	"github.com/kedge-dev/kedge/internal/apiserver/openapi"
)

// protoV2MediaTypes name the protobuf form of the Swagger 2.0 document that
// kubectl asks for when it validates a kind OpenAPI v3 does not describe.
var protoV2MediaTypes = []string{
	"application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
	"application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
}

// protoV2 holds the protobuf encoding of the current v2 document; it is
// recomputed when the document changes.
type protoV2 struct {
	mu   sync.Mutex
	doc  *openapi.Document
	body []byte
}

// encode returns doc as a gnostic OpenAPIv2 protobuf message.
func (p *protoV2) encode(doc *openapi.Document) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.doc == doc {
		return p.body, nil
	}
	parsed, err := openapiv2.ParseDocument(doc.JSON)
	if err != nil {
		return nil, fmt.Errorf("openapi v2 to protobuf: %w", err)
	}
	body, err := proto.Marshal(parsed)
	if err != nil {
		return nil, fmt.Errorf("openapi v2 to protobuf: %w", err)
	}
	p.doc, p.body = doc, body
	return body, nil
}

// wantsProtoV2 says whether the client prefers the protobuf v2 document.
func wantsProtoV2(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		// Not mime.ParseMediaType: "@" is no token character.
		mt, _, _ := strings.Cut(part, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		for _, p := range protoV2MediaTypes {
			if mt == p {
				return true
			}
		}
		if mt == "application/json" {
			return false
		}
	}
	return false
}

// serveProtoV2 writes the v2 document as protobuf, with its own ETag.
func (s *Server) serveProtoV2(w http.ResponseWriter, r *http.Request, doc *openapi.Document) {
	body, err := s.openapiProto.encode(doc)
	if err != nil {
		writeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", protoV2MediaTypes[1]) // the "@" form is not a valid media type
	h.Add("Vary", "Accept")
	h.Set("Etag", `"`+doc.Hash+`-pb"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
