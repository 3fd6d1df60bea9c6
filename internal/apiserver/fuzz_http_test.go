package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kedge-dev/kedge/internal/apiserver/apitest"
)

// The fuzzers below send requests straight to the server's handler (past
// authentication) on a real etcd. Property: no 5xx (a panic is a 500), and
// every error is a metav1.Status carrying the response's code.

// serve sends one request and checks the property; it returns the code.
func serve(t *testing.T, s *apitest.Server, method, path, contentType string, body []byte) int {
	t.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	s.API.ServeHTTP(w, r)
	if w.Code >= 500 {
		t.Fatalf("%s %s (%s) %q: %d %s", method, path, contentType, body, w.Code, w.Body.Bytes())
	}
	if w.Code >= 400 {
		var st metav1.Status
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Kind != "Status" || int(st.Code) != w.Code || st.Status != metav1.StatusFailure {
			t.Fatalf("%s %s: %d with a body that is not its Status: %s", method, path, w.Code, w.Body.Bytes())
		}
	}
	return w.Code
}

var (
	createPaths = []string{
		"/api/v1/namespaces/default/pods", "/api/v1/namespaces/default/services",
		"/apis/apps/v1/namespaces/default/deployments", "/api/v1/namespaces/default/configmaps", "/api/v1/namespaces",
	}
	requestTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "", "text/plain", "application/json; charset=utf-8"}
	validation   = []string{"", "Strict", "Warn", "Ignore", "Bogus"}
)

func FuzzCreateRequest(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"x-"},"data":{"k":"v"}}`,
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"other"}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"q"}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"UPPER"},"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":-1}]}]}}`,
		`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"cpu":"-1"}}}]}}`,
		`{"apiVersion":"v1","kind":"Service","spec":{"type":"NodePort","ports":[{"port":80,"nodePort":1}]}}`,
		`{"apiVersion":"v1","kind":"Service","spec":{"clusterIP":"999.1.1.1","ports":[{"port":80}]}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":-5,"selector":{}}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"ownerReferences":[{}],"finalizers":[""]}}`,
		`{"metadata":null}`, `{"spec":null}`, `{}`, `[]`, `null`, `{`, "", "\x00",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: y}\nspec: {containers: [{name: c, image: i}]}\n",
		"k8s\x00garbage",
	} {
		for i := range createPaths {
			f.Add([]byte(seed), uint8(i), uint8(0), uint8(0))
		}
		f.Add([]byte(seed), uint8(0), uint8(1), uint8(1))
		f.Add([]byte(seed), uint8(2), uint8(2), uint8(4))
	}
	s := apitest.New(f)
	f.Fuzz(func(t *testing.T, body []byte, path, ct, fv uint8) {
		p := createPaths[int(path)%len(createPaths)]
		if v := validation[int(fv)%len(validation)]; v != "" {
			p += "?fieldValidation=" + v
		}
		serve(t, s, http.MethodPost, p, requestTypes[int(ct)%len(requestTypes)], body)
	})
}

func FuzzListSelectors(f *testing.F) {
	for _, s := range [][4]string{
		{"app=web", "", "", ""}, {"app!=web,tier", "metadata.name=p", "0", "1"},
		{"app in (a,b),!x", "spec.nodeName=n1", "", "500"}, {"tier notin ()", "status.phase!=Running", "0", ""},
		{"a=b=c", "metadata.namespace==x", "1", ""}, {"(", "=", "x", "-1"}, {"x,,y", ",,", "99999999999999999999", "abc"},
		{"", "spec.nope=x", "", ""}, {"a in (b", `metadata.name=a\,b`, "0", "3"},
	} {
		f.Add(s[0], s[1], s[2], s[3], "")
	}
	f.Add("", "", "", "2", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJ4In0")
	f.Add("", "", "", "2", "garbage")
	srv := apitest.New(f)
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		p := pod(name)
		p.Spec.NodeName = "n1"
		if _, err := srv.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, ls, fs, rv, limit, cont string) {
		q := url.Values{"labelSelector": {ls}, "fieldSelector": {fs}, "resourceVersion": {rv}, "limit": {limit}, "continue": {cont}}
		for _, base := range []string{"/api/v1/pods", "/api/v1/namespaces/default/pods", "/api/v1/namespaces", "/apis/apps/v1/deployments"} {
			serve(t, srv, http.MethodGet, base+"?"+q.Encode(), "", nil)
		}
	})
}

var patchContentTypes = []string{
	"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json",
	"application/apply-patch+yaml", "application/json", "",
}

func FuzzPatchRequest(f *testing.F) {
	for _, seed := range []string{
		`[{"op":"replace","path":"/metadata/labels/app","value":"db"}]`,
		`[{"op":"add","path":"/spec/containers/-","value":{"name":"d","image":"i"}}]`,
		`[{"op":"remove","path":"/spec/containers/0"}]`,
		`[{"op":"replace","path":"/metadata/name","value":"other"}]`,
		`[{"op":"replace","path":"/metadata/resourceVersion","value":"1"}]`,
		`[{"op":"replace","path":"/spec/containers/0/image","value":""}]`,
		`[{"op":"move","from":"/spec","path":"/spec/x"}]`, `[{"op":"bogus"}]`, `[null]`,
		`{"metadata":{"labels":{"app":null,"x":"y"}}}`,
		`{"metadata":{"finalizers":["example.com/x"]}}`,
		`{"spec":{"containers":[{"name":"c","image":"j"}]}}`,
		`{"spec":{"containers":[{"$patch":"delete","name":"c"}]}}`,
		`{"spec":{"$setElementOrder/containers":[{"name":"x"}]}}`,
		`{"spec":{"activeDeadlineSeconds":-1}}`, `{"status":{"phase":"Running"}}`,
		`{"spec":{"containers":"x"}}`, `null`, `{}`, `[]`, `{`, "",
	} {
		for i := range patchContentTypes {
			f.Add([]byte(seed), uint8(i), false)
		}
		f.Add([]byte(seed), uint8(2), true)
	}
	s := apitest.New(f)
	ctx := context.Background()
	if _, err := s.Client.CoreV1().Pods("default").Create(ctx, pod("p"), metav1.CreateOptions{}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, patch []byte, ct uint8, status bool) {
		path := "/api/v1/namespaces/default/pods/p"
		if status {
			path += "/status"
		}
		serve(t, s, http.MethodPatch, path, patchContentTypes[int(ct)%len(patchContentTypes)], patch)
	})
}

func TestOversizedBodiesAre413(t *testing.T) {
	s := apitest.New(t)
	ctx := context.Background()
	if _, err := s.Client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A valid ConfigMap whose data makes the body 3 MiB + 1 byte.
	head := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":"`
	tail := `"}}`
	big := []byte(head + strings.Repeat("x", 3<<20+1-len(head)-len(tail)) + tail)
	justFits := []byte(head + strings.Repeat("x", 3<<20-len(head)-len(tail)) + tail)
	rc := s.Client.CoreV1().RESTClient()
	for _, tc := range []struct {
		name string
		req  func(body []byte) error
	}{
		{"create", func(b []byte) error {
			return rc.Post().AbsPath("/api/v1/namespaces/default/configmaps").SetHeader("Content-Type", "application/json").Body(b).Do(ctx).Error()
		}},
		{"update", func(b []byte) error {
			return rc.Put().AbsPath("/api/v1/namespaces/default/configmaps/big").SetHeader("Content-Type", "application/json").Body(b).Do(ctx).Error()
		}},
		{"patch", func(b []byte) error {
			return rc.Patch("application/merge-patch+json").AbsPath("/api/v1/namespaces/default/configmaps/big").Body(b).Do(ctx).Error()
		}},
	} {
		err := tc.req(big)
		var st apierrors.APIStatus
		if !errors.As(err, &st) || st.Status().Code != 413 || st.Status().Reason != metav1.StatusReasonRequestEntityTooLarge {
			t.Errorf("%s with 3 MiB + 1: want 413 RequestEntityTooLarge, got %v", tc.name, err)
		}
		// The limit itself is let through (etcd may still refuse the
		// value, but not with 413).
		if err := tc.req(justFits); errors.As(err, &st) && st.Status().Code == 413 {
			t.Errorf("%s with exactly 3 MiB: 413", tc.name)
		}
	}
}
