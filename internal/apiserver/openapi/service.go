package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/kedge-dev/kedge/internal/registry"
)

// Config of a Service.
type Config struct {
	// Resources returns the resources served now; the documents are
	// rebuilt when the set changes.
	Resources    func() []*registry.Resource
	Subresources func(*registry.Resource) []metav1.APIResource
	Scheme       *runtime.Scheme
	Version      string
	// CustomSchema and CustomSchemaV2 give the schemas of custom
	// resources (see Input); the documents are rebuilt when the resources
	// change, so a changed schema comes with new resources.
	CustomSchema, CustomSchemaV2 func(gvk schema.GroupVersionKind) *spec.Schema
}

// Document is one generated document, as served.
type Document struct {
	JSON []byte
	// Hash is upstream's ETag of the document: the upper-case hex SHA-512
	// of its JSON.
	Hash string

	gzipOnce sync.Once
	gzip     []byte
}

// Gzip returns the document gzip-compressed, compressing it on first use.
func (d *Document) Gzip() []byte {
	d.gzipOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		if _, err := zw.Write(d.JSON); err == nil && zw.Close() == nil {
			d.gzip = b.Bytes()
		}
	})
	return d.gzip
}

func newDocument(v interface{}) (*Document, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &Document{JSON: b, Hash: fmt.Sprintf("%X", sha512.Sum512(b))}, nil
}

// Service generates the documents of the served resources on first use
// and keeps them, as JSON, until the set of resources changes.
type Service struct {
	cfg Config

	mu  sync.Mutex
	key string // the resources the cached documents describe
	v3  map[schema.GroupVersion]*Document
	dsc *Document // the v3 discovery document
	v2  *Document
}

// New returns a Service.
func New(cfg Config) *Service { return &Service{cfg: cfg} }

// V3Path is the path of a group version's v3 document below /openapi/v3/.
func V3Path(gv schema.GroupVersion) string {
	return strings.TrimPrefix(gvPath(gv), "/")
}

// refresh drops the cached documents when the resources changed and
// returns the current input.
func (s *Service) refresh() Input {
	res := s.cfg.Resources()
	var b strings.Builder
	for _, r := range res {
		b.WriteString(strconv.FormatUint(uint64(reflect.ValueOf(r).Pointer()), 16))
		b.WriteByte(',')
	}
	if key := b.String(); key != s.key {
		s.key, s.v3, s.dsc, s.v2 = key, nil, nil, nil
	}
	return Input{Resources: res, Subresources: s.cfg.Subresources, Scheme: s.cfg.Scheme, Version: s.cfg.Version,
		CustomSchema: s.cfg.CustomSchema, CustomSchemaV2: s.cfg.CustomSchemaV2}
}

func (s *Service) buildV3(in Input) error {
	if s.v3 != nil {
		return nil
	}
	gvks := gvksByType(in)
	docs := map[schema.GroupVersion]*Document{}
	type entry struct {
		ServerRelativeURL string `json:"serverRelativeURL"`
	}
	discovery := struct {
		Paths map[string]entry `json:"paths"`
	}{Paths: map[string]entry{}}
	for _, gv := range GroupVersions(in.Resources) {
		d, err := newDocument(v3(in, gv, gvks))
		if err != nil {
			return fmt.Errorf("openapi v3 %s: %w", gv, err)
		}
		docs[gv] = d
		discovery.Paths[V3Path(gv)] = entry{"/openapi/v3/" + V3Path(gv) + "?hash=" + d.Hash}
	}
	dsc, err := newDocument(discovery)
	if err != nil {
		return fmt.Errorf("openapi v3 discovery: %w", err)
	}
	s.v3, s.dsc = docs, dsc
	return nil
}

// V3Discovery returns the /openapi/v3 document: the URL of every group
// version's document, with its hash.
func (s *Service) V3Discovery() (*Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.buildV3(s.refresh()); err != nil {
		return nil, err
	}
	return s.dsc, nil
}

// V3 returns the document of one group version; false if none is served.
func (s *Service) V3(gv schema.GroupVersion) (*Document, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.buildV3(s.refresh()); err != nil {
		return nil, false, err
	}
	d, ok := s.v3[gv]
	return d, ok, nil
}

// V2 returns the /openapi/v2 document.
func (s *Service) V2() (*Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.refresh()
	if s.v2 == nil {
		d, err := newDocument(V2(in))
		if err != nil {
			return nil, fmt.Errorf("openapi v2: %w", err)
		}
		s.v2 = d
	}
	return s.v2, nil
}
