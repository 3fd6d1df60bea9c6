package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// output says what representation of objects the client asked for.
type output int

const (
	outObject output = iota
	outTable
	outMetadata
)

// negotiate reads the Accept header. Only JSON (and YAML) representations
// are served; a client that accepts nothing we serve gets 406.
type accept struct {
	as   output
	yaml bool
}

func negotiate(r *http.Request) (accept, error) {
	h := r.Header.Get("Accept")
	if h == "" || h == "*/*" {
		return accept{}, nil
	}
	for _, part := range strings.Split(h, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "*/*", "application/*", "application/yaml":
		default:
			continue
		}
		a := accept{yaml: mt == "application/yaml"}
		switch params["as"] {
		case "":
			return a, nil
		case "Table":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				a.as = outTable
				return a, nil
			}
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				a.as = outMetadata
				return a, nil
			}
		}
	}
	return accept{}, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "", "only the following media types are accepted: application/json, application/yaml", 0, false)
}

// writeJSON writes a raw JSON document with a status code.
func writeRaw(w http.ResponseWriter, a accept, code int, body []byte) {
	if a.yaml {
		if y, err := yaml.JSONToYAML(body); err == nil {
			w.Header().Set("Content-Type", "application/yaml")
			w.WriteHeader(code)
			w.Write(y)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
	if len(body) == 0 || body[len(body)-1] != '\n' {
		w.Write([]byte("\n"))
	}
}

func writeValue(w http.ResponseWriter, code int, v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, fmt.Errorf("encode response: %w", err))
		return
	}
	writeRaw(w, accept{}, code, b)
}

// writeError writes err as a metav1.Status with the upstream reason.
func writeError(w http.ResponseWriter, err error) {
	var st apierrors.APIStatus
	var status metav1.Status
	if errors.As(err, &st) {
		status = st.Status()
	} else {
		slog.Error("internal error", "err", err)
		status = apierrors.NewInternalError(err).ErrStatus
	}
	status.Kind = "Status"
	status.APIVersion = "v1"
	if status.Status == "" {
		status.Status = metav1.StatusFailure
	}
	code := int(status.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	writeValue(w, code, status)
}

// statusSuccess is the body of a successful delete of an object that is gone.
func statusSuccess(details *metav1.StatusDetails) metav1.Status {
	return metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Details:  details,
	}
}
