package serviceaccount

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// objects is a Getter over maps keyed by namespace/name.
type objects struct {
	sas     map[string]*corev1.ServiceAccount
	pods    map[string]*corev1.Pod
	secrets map[string]*corev1.Secret
	nodes   map[string]*corev1.Node
}

func notFound(res, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: res}, name)
}

func (o *objects) ServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if x, ok := o.sas[ns+"/"+name]; ok {
		return x, nil
	}
	return nil, notFound("serviceaccounts", name)
}

func (o *objects) Pod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if x, ok := o.pods[ns+"/"+name]; ok {
		return x, nil
	}
	return nil, notFound("pods", name)
}

func (o *objects) Secret(_ context.Context, ns, name string) (*corev1.Secret, error) {
	if x, ok := o.secrets[ns+"/"+name]; ok {
		return x, nil
	}
	return nil, notFound("secrets", name)
}

func (o *objects) Node(_ context.Context, name string) (*corev1.Node, error) {
	if x, ok := o.nodes[name]; ok {
		return x, nil
	}
	return nil, notFound("nodes", name)
}

func fixture() *objects {
	return &objects{
		sas: map[string]*corev1.ServiceAccount{
			"apps/robot": {ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "apps", UID: "sa-uid"}},
		},
		pods: map[string]*corev1.Pod{
			"apps/web": {ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps", UID: "pod-uid"}, Spec: corev1.PodSpec{NodeName: "n1"}},
		},
		secrets: map[string]*corev1.Secret{
			"apps/s": {ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "apps", UID: "secret-uid"}},
		},
		nodes: map[string]*corev1.Node{
			"n1": {ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "node-uid"}},
		},
	}
}

type setup struct {
	objs  *objects
	iss   *Issuer
	auth  *Authenticator
	clock *time.Time
}

func newSetup(t *testing.T) setup {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := NewIssuer("", key)
	if err != nil {
		t.Fatal(err)
	}
	clock := t0
	iss.Now = func() time.Time { return clock }
	n := 0
	iss.NewID = func() string { n++; return fmt.Sprintf("jti-%d", n) }
	objs := fixture()
	auth, err := NewAuthenticator(AuthenticatorConfig{Keys: []crypto.PublicKey{iss.PublicKey()}, Getter: objs, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	return setup{objs: objs, iss: iss, auth: auth, clock: &clock}
}

func (s setup) issue(t *testing.T, r Request) string {
	t.Helper()
	if r.ServiceAccount == nil {
		r.ServiceAccount = s.objs.sas["apps/robot"]
	}
	if r.ExpirationSeconds == 0 {
		r.ExpirationSeconds = 3600
	}
	if r.Audiences == nil {
		r.Audiences = []string{DefaultIssuer}
	}
	tok, _, err := s.iss.Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssuedClaimsHaveUpstreamShape(t *testing.T) {
	s := newSetup(t)
	tok := s.issue(t, Request{Pod: s.objs.pods["apps/web"], Node: s.objs.nodes["n1"], ExpirationSeconds: ExtendedExpirationSeconds, WarnAfterSeconds: WarnOnlyExpirationSeconds})
	got, err := json.Marshal(payload(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	iat := t0.Unix()
	want := fmt.Sprintf(`{"aud":["https://kubernetes.default.svc.cluster.local"],"exp":%d,"iat":%d,"iss":"https://kubernetes.default.svc.cluster.local","jti":"jti-1",`+
		`"kubernetes.io":{"namespace":"apps","node":{"name":"n1","uid":"node-uid"},"pod":{"name":"web","uid":"pod-uid"},"serviceaccount":{"name":"robot","uid":"sa-uid"},"warnafter":%d},`+
		`"nbf":%d,"sub":"system:serviceaccount:apps:robot"}`, iat+ExtendedExpirationSeconds, iat, iat+WarnOnlyExpirationSeconds, iat)
	if string(got) != want {
		t.Errorf("claims\n got %s\nwant %s", got, want)
	}
	parts := strings.Split(tok, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]string
	json.Unmarshal(hdr, &h)
	kid, _ := KeyID(s.iss.PublicKey())
	if h["alg"] != "ES256" || h["kid"] != kid || h["typ"] != "JWT" {
		t.Errorf("header = %v", h)
	}
	if _, _, err := s.iss.Issue(Request{ServiceAccount: s.objs.sas["apps/robot"], Pod: s.objs.pods["apps/web"], Secret: s.objs.secrets["apps/s"]}); err == nil {
		t.Error("a token bound to a pod and a secret must be refused")
	}
}

func TestAuthenticateBoundTokens(t *testing.T) {
	s := newSetup(t)
	plain := s.issue(t, Request{})
	resp, err := s.auth.Authenticate(context.Background(), plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := resp.User
	if u.Username != "system:serviceaccount:apps:robot" || u.UID != "sa-uid" ||
		strings.Join(u.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:apps,system:authenticated" {
		t.Errorf("user = %+v", u)
	}
	if fmt.Sprint(u.Extra) != "map[authentication.kubernetes.io/credential-id:[JTI=jti-1]]" {
		t.Errorf("extra = %v", u.Extra)
	}
	if fmt.Sprint(resp.Audiences) != "[https://kubernetes.default.svc.cluster.local]" {
		t.Errorf("audiences = %v", resp.Audiences)
	}

	podTok := s.issue(t, Request{Pod: s.objs.pods["apps/web"], Node: s.objs.nodes["n1"]})
	resp, err = s.auth.Authenticate(context.Background(), podTok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(resp.User.Extra) != "map[authentication.kubernetes.io/credential-id:[JTI=jti-2] authentication.kubernetes.io/node-name:[n1] "+
		"authentication.kubernetes.io/node-uid:[node-uid] authentication.kubernetes.io/pod-name:[web] authentication.kubernetes.io/pod-uid:[pod-uid]]" {
		t.Errorf("pod-bound extra = %v", resp.User.Extra)
	}

	nodeTok := s.issue(t, Request{Node: s.objs.nodes["n1"]})
	if resp, err := s.auth.Authenticate(context.Background(), nodeTok, nil); err != nil || resp.User.Extra[NodeNameKey][0] != "n1" {
		t.Errorf("node-bound token: %v %+v", err, resp)
	}
	vault := s.issue(t, Request{Audiences: []string{"vault"}})
	if resp, err := s.auth.Authenticate(context.Background(), vault, []string{"vault", "other"}); err != nil || fmt.Sprint(resp.Audiences) != "[vault]" {
		t.Errorf("token for vault reviewed for vault: %v %+v", err, resp)
	}
}

func TestAuthenticateRefusals(t *testing.T) {
	s := newSetup(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherIss, _ := NewIssuer("", other)
	foreignIss, _ := NewIssuer("https://elsewhere", other)

	plain := s.issue(t, Request{})
	podTok := s.issue(t, Request{Pod: s.objs.pods["apps/web"]})
	secretTok := s.issue(t, Request{Secret: s.objs.secrets["apps/s"]})
	nodeTok := s.issue(t, Request{Node: s.objs.nodes["n1"]})
	vault := s.issue(t, Request{Audiences: []string{"vault"}})
	forged, _, _ := otherIss.Issue(Request{ServiceAccount: s.objs.sas["apps/robot"], ExpirationSeconds: 3600, Audiences: []string{DefaultIssuer}})
	foreign, _, _ := foreignIss.Issue(Request{ServiceAccount: s.objs.sas["apps/robot"], ExpirationSeconds: 3600})
	parts := strings.Split(plain, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(mustDecode(parts[1])), "robot", "admin", -1))) + "." + parts[2]

	tests := []struct {
		name   string
		token  string
		auds   []string
		change func(o *objects)
		at     time.Duration // after issuing
		want   string        // "" = not ours at all
	}{
		{"not a JWT", "abc.def", nil, nil, 0, ""},
		{"another issuer", foreign, nil, nil, 0, ""},
		{"signed by another key", forged, nil, nil, 0, "invalid signature"},
		{"tampered payload", tampered, nil, nil, 0, "invalid signature"},
		{"expired", plain, nil, nil, time.Hour + 2*time.Minute, "service account token has expired"},
		{"within the leeway", plain, nil, nil, time.Hour + 30*time.Second, "ok"},
		{"not valid yet", plain, nil, nil, -5 * time.Minute, "service account token is not valid yet"},
		{"wrong audience", vault, nil, nil, 0, `token audiences ["vault"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]`},
		{"service account deleted", plain, nil, func(o *objects) { delete(o.sas, "apps/robot") }, 0, `serviceaccounts "robot" not found`},
		{"service account recreated", plain, nil, func(o *objects) {
			o.sas["apps/robot"] = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{UID: "new"}}
		}, 0,
			"service account UID (new) does not match claim (sa-uid)"},
		{"pod deleted", podTok, nil, func(o *objects) { delete(o.pods, "apps/web") }, 0, "service account token has been invalidated"},
		{"pod recreated", podTok, nil, func(o *objects) { o.pods["apps/web"] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "p2"}} }, 0,
			"pod UID (p2) does not match service account pod ref claim (pod-uid)"},
		{"pod being deleted for long", podTok, nil, func(o *objects) {
			o.pods["apps/web"].DeletionTimestamp = &metav1.Time{Time: t0.Add(-2 * time.Minute)}
		}, 0, "service account token has been invalidated"},
		{"pod being deleted just now", podTok, nil, func(o *objects) {
			o.pods["apps/web"].DeletionTimestamp = &metav1.Time{Time: t0}
		}, 0, "ok"},
		{"secret deleted", secretTok, nil, func(o *objects) { delete(o.secrets, "apps/s") }, 0, "service account token has been invalidated"},
		{"node deleted", nodeTok, nil, func(o *objects) { delete(o.nodes, "n1") }, 0, "service account token has been invalidated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.objs = fixture()
			s.auth.getter = s.objs
			if tt.change != nil {
				tt.change(s.objs)
			}
			*s.clock = t0.Add(tt.at)
			defer func() { *s.clock = t0 }()
			_, err := s.auth.Authenticate(context.Background(), tt.token, tt.auds)
			switch {
			case tt.want == "ok":
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
			case tt.want == "":
				if err != ErrInvalidToken {
					t.Fatalf("want ErrInvalidToken, got %v", err)
				}
			default:
				if err == nil || !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("want a refusal wrapping ErrInvalidToken, got %v", err)
				}
				if want := "[invalid bearer token, " + tt.want + "]"; err.Error() != want {
					t.Errorf("error\n got %s\nwant %s", err, want)
				}
			}
		})
	}
}

func mustDecode(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestLegacyTokens(t *testing.T) {
	s := newSetup(t)
	sa := s.objs.sas["apps/robot"]
	tok, err := s.iss.IssueLegacy(sa, "robot-token")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(payload(t, tok))
	want := `{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"apps","kubernetes.io/serviceaccount/secret.name":"robot-token",` +
		`"kubernetes.io/serviceaccount/service-account.name":"robot","kubernetes.io/serviceaccount/service-account.uid":"sa-uid","sub":"system:serviceaccount:apps:robot"}`
	if string(got) != want {
		t.Errorf("legacy claims\n got %s\nwant %s", got, want)
	}
	secret := func(data string, labels map[string]string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "robot-token", Namespace: "apps", UID: types.UID("st"), Labels: labels},
			Data: map[string][]byte{corev1.ServiceAccountTokenKey: []byte(data)}}
	}
	tests := []struct {
		name   string
		secret *corev1.Secret
		want   string
	}{
		{"secret holds the token", secret(tok, nil), ""},
		{"secret gone", nil, "[invalid bearer token, token has been invalidated]"},
		{"secret holds another token", secret("x", nil), "[invalid bearer token, token does not match server's copy]"},
		{"marked invalid", secret(tok, map[string]string{InvalidSinceLabel: "2026-01-01"}), "marked invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			delete(s.objs.secrets, "apps/robot-token")
			if tt.secret != nil {
				s.objs.secrets["apps/robot-token"] = tt.secret
			}
			*s.clock = t0.Add(24 * 365 * time.Hour) // legacy tokens never expire
			resp, err := s.auth.Authenticate(context.Background(), tok, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if resp.User.Username != "system:serviceaccount:apps:robot" || resp.User.UID != "sa-uid" || len(resp.User.Extra) != 0 ||
					fmt.Sprint(resp.Audiences) != "["+DefaultIssuer+"]" {
					t.Errorf("response = %+v", resp)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRSAKeysSignRS256(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	iss, err := NewIssuer("https://issuer.example", key)
	if err != nil {
		t.Fatal(err)
	}
	objs := fixture()
	auth, err := NewAuthenticator(AuthenticatorConfig{Keys: []crypto.PublicKey{key.Public()}, Issuers: []string{"https://issuer.example"}, Getter: objs})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue(Request{ServiceAccount: objs.sas["apps/robot"], ExpirationSeconds: 600, Audiences: []string{"https://issuer.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if h := string(mustDecode(strings.Split(tok, ".")[0])); !strings.Contains(h, `"alg":"RS256"`) {
		t.Errorf("header = %s", h)
	}
	if _, err := auth.Authenticate(context.Background(), tok, nil); err != nil {
		t.Error(err)
	}
}

func TestSplitUserName(t *testing.T) {
	for in, want := range map[string]string{
		"system:serviceaccount:ns:name": "ns/name",
		"system:serviceaccount:ns":      "",
		"system:serviceaccount::name":   "",
		"system:serviceaccount:a:b:c":   "",
		"admin":                         "",
	} {
		ns, name, ok := SplitUserName(in)
		got := ""
		if ok {
			got = ns + "/" + name
		}
		if got != want {
			t.Errorf("SplitUserName(%q) = %q, want %q", in, got, want)
		}
	}
}
