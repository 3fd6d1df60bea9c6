package apiserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/apiserver"
	"github.com/kedge-dev/kedge/internal/apiserver/apitest"
	"github.com/kedge-dev/kedge/internal/serviceaccount"
)

// tokenServer is a test server that issues and accepts ServiceAccount
// tokens signed with key.
type tokenServer struct {
	*apitest.Server
	key *ecdsa.PrivateKey
}

func startTokenServer(t *testing.T, admission bool) *tokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := apitest.NewWithOptions(t, apitest.Options{Configure: func(c *apiserver.Config) {
		c.ServiceAccountKey = key
		c.ServiceAccountAdmission = admission
	}})
	return &tokenServer{Server: s, key: key}
}

// as is a client that authenticates with a bearer token only.
func (s *tokenServer) as(t *testing.T, token string) kubernetes.Interface {
	t.Helper()
	cfg := &rest.Config{Host: s.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: s.Config.TLSClientConfig.CAData}}
	return kubernetes.NewForConfigOrDie(cfg)
}

func (s *tokenServer) serviceAccount(t *testing.T, ns, name string) *corev1.ServiceAccount {
	t.Helper()
	sa, err := s.Client.CoreV1().ServiceAccounts(ns).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

func (s *tokenServer) token(t *testing.T, ns, name string, spec authenticationv1.TokenRequestSpec) *authenticationv1.TokenRequest {
	t.Helper()
	tr, err := s.Client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func whoami(c kubernetes.Interface) (authenticationv1.UserInfo, error) {
	r, err := c.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return r.Status.UserInfo, nil
}

func TestTokenRequestAuthenticatesAsTheServiceAccount(t *testing.T) {
	s := startTokenServer(t, false)
	sa := s.serviceAccount(t, "default", "robot")
	before := time.Now().Truncate(time.Second)
	tr := s.token(t, "default", "robot", authenticationv1.TokenRequestSpec{})
	if tr.Name != "robot" || tr.Namespace != "default" || tr.UID != sa.UID || tr.CreationTimestamp.IsZero() {
		t.Errorf("metadata = %+v", tr.ObjectMeta)
	}
	if strings.Join(tr.Spec.Audiences, ",") != serviceaccount.DefaultIssuer || ptr.Deref(tr.Spec.ExpirationSeconds, 0) != 3600 || tr.Spec.BoundObjectRef != nil {
		t.Errorf("spec = %+v", tr.Spec)
	}
	if exp := tr.Status.ExpirationTimestamp.Time; exp.Before(before.Add(time.Hour)) || exp.After(time.Now().Add(time.Hour+time.Second)) {
		t.Errorf("expirationTimestamp = %v, want an hour from now", exp)
	}

	c := s.as(t, tr.Status.Token)
	u, err := whoami(c)
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "system:serviceaccount:default:robot" || u.UID != string(sa.UID) ||
		strings.Join(u.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:default,system:authenticated" {
		t.Errorf("user = %+v", u)
	}
	if id := u.Extra[serviceaccount.CredentialIDKey]; len(id) != 1 || !strings.HasPrefix(id[0], "JTI=") {
		t.Errorf("extra = %v", u.Extra)
	}
	if _, err := c.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Errorf("a service account may use the API: %v", err)
	}

	// A restart keeps the key, so the token stays valid.
	if err := s.RestartAPIServer(nil); err != nil {
		t.Fatal(err)
	}
	// The client's kept-alive connection to the old server may fail once
	// (EOF on a POST, which client-go does not retry).
	var werr error
	for range 3 {
		if _, werr = whoami(c); werr == nil || apierrors.IsUnauthorized(werr) {
			break
		}
	}
	if werr != nil {
		t.Errorf("after an API server restart: %v", werr)
	}

	// Deleting the service account ends its tokens.
	if err := s.Client.CoreV1().ServiceAccounts("default").Delete(context.Background(), "robot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := whoami(c); !apierrors.IsUnauthorized(err) {
		t.Errorf("token of a deleted service account: want 401, got %v", err)
	}
}

func TestTokenRequestValidation(t *testing.T) {
	s := startTokenServer(t, false)
	s.serviceAccount(t, "default", "robot")
	ctx := context.Background()
	create := func(name string, spec authenticationv1.TokenRequestSpec) error {
		_, err := s.Client.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
		return err
	}
	tests := []struct {
		name  string
		sa    string
		spec  authenticationv1.TokenRequestSpec
		check func(error) bool
		msg   string
	}{
		{"too short", "robot", authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(300))}, apierrors.IsInvalid,
			`TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes`},
		{"too long", "robot", authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(1<<32 + 1))}, apierrors.IsInvalid,
			`TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds`},
		{"no such service account", "nobody", authenticationv1.TokenRequestSpec{}, apierrors.IsNotFound, `serviceaccounts "nobody" not found`},
		{"bound to a kind that cannot be", "robot", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Deployment", APIVersion: "apps/v1", Name: "web"}},
			apierrors.IsBadRequest, "cannot bind token to object of type apps/v1, Kind=Deployment"},
		{"bound to a missing pod", "robot", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web"}},
			apierrors.IsNotFound, `pods "web" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := create(tt.sa, tt.spec)
			if !tt.check(err) || err.Error() != tt.msg {
				t.Errorf("error = %v, want %q", err, tt.msg)
			}
		})
	}
	if _, err := s.Client.CoreV1().Pods("default").Create(ctx, pod("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := create("robot", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web"}})
	if !apierrors.IsBadRequest(err) || err.Error() != `cannot bind token for serviceaccount "robot" to pod running with different serviceaccount name.` {
		t.Errorf("pod of another service account: %v", err)
	}
}

func TestInvalidTokensAreUnauthorized(t *testing.T) {
	s := startTokenServer(t, false)
	sa := s.serviceAccount(t, "default", "robot")
	valid := s.token(t, "default", "robot", authenticationv1.TokenRequestSpec{}).Status.Token

	past, err := serviceaccount.NewIssuer("", s.key)
	if err != nil {
		t.Fatal(err)
	}
	past.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, _, err := past.Issue(serviceaccount.Request{ServiceAccount: sa, Audiences: []string{serviceaccount.DefaultIssuer}, ExpirationSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := serviceaccount.NewIssuer("", otherKey)
	forged, _, _ := other.Issue(serviceaccount.Request{ServiceAccount: sa, Audiences: []string{serviceaccount.DefaultIssuer}, ExpirationSeconds: 3600})
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	vault := s.token(t, "default", "robot", authenticationv1.TokenRequestSpec{Audiences: []string{"vault"}}).Status.Token

	for name, tok := range map[string]string{"expired": expired, "signed by another key": forged, "tampered": tampered,
		"for another audience": vault, "garbage": "not-a-token"} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.as(t, tok).CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
				t.Errorf("want 401 Unauthorized, got %v", err)
			}
			// An invalid token is refused even where no credentials are needed.
			if _, err := s.as(t, tok).Discovery().ServerVersion(); !apierrors.IsUnauthorized(err) {
				t.Errorf("/version with an invalid token: want 401, got %v", err)
			}
		})
	}
	if _, err := whoami(s.as(t, valid)); err != nil {
		t.Errorf("the valid token: %v", err)
	}
}

func TestPodBoundToken(t *testing.T) {
	s := startTokenServer(t, false)
	ctx := context.Background()
	s.serviceAccount(t, "default", "default")
	node, err := s.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Client.CoreV1().Pods("default").Create(ctx, pod("web"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unscheduled := s.token(t, "default", "default", authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web", UID: p.UID}})
	u, err := whoami(s.as(t, unscheduled.Status.Token))
	if err != nil {
		t.Fatal(err)
	}
	if extra(u, serviceaccount.PodNameKey) != "web" || extra(u, serviceaccount.PodUIDKey) != string(p.UID) || u.Extra[serviceaccount.NodeNameKey] != nil {
		t.Errorf("extra = %v", u.Extra)
	}

	if err := s.Client.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The projected token of a pod lives a year but warns after its hour.
	scheduled := s.token(t, "default", "default", authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3607)),
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web"}})
	if got := time.Until(scheduled.Status.ExpirationTimestamp.Time); got < time.Hour || got > time.Hour+time.Minute {
		t.Errorf("expirationTimestamp is %v away, want the 3607 s asked for", got)
	}
	claims := jwtPayload(t, scheduled.Status.Token)
	k := claims["kubernetes.io"].(map[string]any)
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != serviceaccount.ExtendedExpirationSeconds || k["warnafter"].(float64)-iat != 3607 {
		t.Errorf("claims = %v", claims)
	}
	u, err = whoami(s.as(t, scheduled.Status.Token))
	if err != nil {
		t.Fatal(err)
	}
	if extra(u, serviceaccount.NodeNameKey) != "n1" || extra(u, serviceaccount.NodeUIDKey) != string(node.UID) {
		t.Errorf("extra of a scheduled pod's token = %v", u.Extra)
	}
	_, err = s.Client.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web", UID: "other"}}}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("a stale pod UID: want Conflict, got %v", err)
	}

	// Gone pod, dead token.
	if err := s.Client.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod still there: %v", err)
	}
	for _, tok := range []string{unscheduled.Status.Token, scheduled.Status.Token} {
		if _, err := whoami(s.as(t, tok)); !apierrors.IsUnauthorized(err) {
			t.Errorf("token of a deleted pod: want 401, got %v", err)
		}
	}
}

// extra is the one value of a user's extra key ("" if none).
func extra(u authenticationv1.UserInfo, key string) string {
	if v := u.Extra[key]; len(v) == 1 {
		return v[0]
	}
	return ""
}

func jwtPayload(t *testing.T, tok string) map[string]any {
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

func TestTokenReview(t *testing.T) {
	s := startTokenServer(t, false)
	ctx := context.Background()
	sa := s.serviceAccount(t, "default", "robot")
	api := s.token(t, "default", "robot", authenticationv1.TokenRequestSpec{}).Status.Token
	vault := s.token(t, "default", "robot", authenticationv1.TokenRequestSpec{Audiences: []string{"vault"}}).Status.Token
	review := func(token string, auds ...string) authenticationv1.TokenReviewStatus {
		t.Helper()
		r, err := s.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: auds}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	st := review(api)
	if !st.Authenticated || st.User.Username != "system:serviceaccount:default:robot" || st.User.UID != string(sa.UID) ||
		strings.Join(st.Audiences, ",") != serviceaccount.DefaultIssuer || st.Error != "" ||
		strings.Join(st.User.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:default,system:authenticated" {
		t.Errorf("review of an API token = %+v", st)
	}
	if st := review(vault, "vault"); !st.Authenticated || strings.Join(st.Audiences, ",") != "vault" {
		t.Errorf("review of a vault token for vault = %+v", st)
	}
	st = review(vault)
	if st.Authenticated || st.User.Username != "" ||
		st.Error != `[invalid bearer token, token audiences ["vault"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]]` {
		t.Errorf("review of a vault token for the API = %+v", st)
	}
	if st := review("garbage"); st.Authenticated || st.Error != "invalid bearer token" {
		t.Errorf("review of garbage = %+v", st)
	}
	_, err := s.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{}, metav1.CreateOptions{})
	if !apierrors.IsBadRequest(err) || err.Error() != "token is required for TokenReview in authentication" {
		t.Errorf("review without a token: %v", err)
	}
}

func TestLegacySecretToken(t *testing.T) {
	s := startTokenServer(t, false)
	ctx := context.Background()
	sa := s.serviceAccount(t, "default", "robot")
	iss, _ := serviceaccount.NewIssuer("", s.key)
	tok, err := iss.IssueLegacy(sa, "robot-token")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "robot-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "robot"}},
		Type:       corev1.SecretTypeServiceAccountToken,
		Data:       map[string][]byte{corev1.ServiceAccountTokenKey: []byte(tok)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err := whoami(s.as(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "system:serviceaccount:default:robot" || len(u.Extra) != 0 {
		t.Errorf("user = %+v", u)
	}
	if err := s.Client.CoreV1().Secrets("default").Delete(ctx, "robot-token", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := whoami(s.as(t, tok)); !apierrors.IsUnauthorized(err) {
		t.Errorf("token of a deleted secret: want 401, got %v", err)
	}
}

func TestServiceAccountAdmission(t *testing.T) {
	s := startTokenServer(t, true)
	ctx := context.Background()
	pods := s.Client.CoreV1().Pods("default")

	_, err := pods.Create(ctx, pod("early"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "early" is forbidden: error looking up service account default/default: serviceaccount "default" not found` {
		t.Fatalf("pod without its service account: %v", err)
	}
	gen := pod("")
	gen.GenerateName = "web-"
	gen.Spec.ServiceAccountName = "nobody"
	if _, err := pods.Create(ctx, gen, metav1.CreateOptions{}); err == nil ||
		err.Error() != `pods "web-" is forbidden: error looking up service account default/nobody: serviceaccount "nobody" not found` {
		t.Errorf("generated name, missing account: %v", err)
	}

	def := s.serviceAccount(t, "default", "default")
	def.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	if _, err := s.Client.CoreV1().ServiceAccounts("default").Update(ctx, def, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := pod("web")
	p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "localhost/echo:1"}}
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "own", Image: "localhost/echo:1",
		VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}})
	p.Spec.Volumes = []corev1.Volume{{Name: "mine", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	got, err := pods.Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.ServiceAccountName != "default" || got.Spec.DeprecatedServiceAccount != "default" ||
		len(got.Spec.ImagePullSecrets) != 1 || got.Spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("spec = %+v", got.Spec)
	}
	if len(got.Spec.Volumes) != 2 {
		t.Fatalf("volumes = %+v", got.Spec.Volumes)
	}
	vol := got.Spec.Volumes[1]
	if !strings.HasPrefix(vol.Name, "kube-api-access-") || len(vol.Name) != len("kube-api-access-")+5 {
		t.Errorf("volume name %q", vol.Name)
	}
	raw, _ := json.Marshal(vol.VolumeSource)
	want := `{"projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},` +
		`{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},` +
		`{"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}],"defaultMode":420}}`
	if string(raw) != want {
		t.Errorf("volume\n got %s\nwant %s", raw, want)
	}
	mount := corev1.VolumeMount{Name: vol.Name, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}
	for _, c := range append(got.Spec.InitContainers, got.Spec.Containers[0]) {
		if len(c.VolumeMounts) != 1 || !reflect.DeepEqual(c.VolumeMounts[0], mount) {
			t.Errorf("container %s mounts %+v", c.Name, c.VolumeMounts)
		}
	}
	if own := got.Spec.Containers[1].VolumeMounts; len(own) != 1 || own[0].Name != "mine" {
		t.Errorf("a container with its own mount at the path keeps it alone: %+v", own)
	}

	// automountServiceAccountToken: the pod's word wins over the account's.
	quiet := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "quiet"}, AutomountServiceAccountToken: ptr.To(false)}
	if _, err := s.Client.CoreV1().ServiceAccounts("default").Create(ctx, quiet, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		sa         string
		podSays    *bool
		wantVolume bool
	}{
		{"account says no", "quiet", nil, false},
		{"pod says yes", "quiet", ptr.To(true), true},
		{"pod says no", "default", ptr.To(false), false},
	} {
		p := pod(strings.ReplaceAll(tt.name, " ", "-"))
		p.Spec.ServiceAccountName, p.Spec.AutomountServiceAccountToken = tt.sa, tt.podSays
		got, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if has := len(got.Spec.Volumes) == 1 && len(got.Spec.Containers[0].VolumeMounts) == 1; has != tt.wantVolume {
			t.Errorf("%s: volumes %+v", tt.name, got.Spec.Volumes)
		}
	}
}

func TestServiceAccountAdmissionOff(t *testing.T) {
	s := startTokenServer(t, false)
	got, err := s.Client.CoreV1().Pods("default").Create(context.Background(), pod("p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("without admission a pod needs no service account object: %v", err)
	}
	if got.Spec.ServiceAccountName != "default" || len(got.Spec.Volumes) != 0 || len(got.Spec.Containers[0].VolumeMounts) != 0 {
		t.Errorf("spec = %+v", got.Spec)
	}
}

func TestTokenSubresourceInDiscovery(t *testing.T) {
	s := startTokenServer(t, false)
	l, err := s.Client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range l.APIResources {
		if r.Name == "serviceaccounts/token" {
			found = r.Group == "authentication.k8s.io" && r.Version == "v1" && r.Kind == "TokenRequest" && strings.Join(r.Verbs, ",") == "create"
		}
	}
	if !found {
		t.Error("serviceaccounts/token missing from /api/v1")
	}
	l, err = s.Client.Discovery().ServerResourcesForGroupVersion("authentication.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range l.APIResources {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "selfsubjectreviews,tokenreviews" {
		t.Errorf("authentication.k8s.io/v1 resources = %v", names)
	}
	// The raw answer of a token request, as kubectl reads it.
	rc := s.Client.CoreV1().RESTClient()
	s.serviceAccount(t, "default", "default")
	body := rc.Post().AbsPath("/api/v1/namespaces/default/serviceaccounts/default/token").
		Body([]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}`)).SetHeader("Content-Type", "application/json").Do(context.Background())
	raw, err := body.Raw()
	if err != nil {
		t.Fatal(err)
	}
	var code int
	body.StatusCode(&code)
	var m map[string]any
	json.Unmarshal(raw, &m)
	if code != http.StatusCreated || m["kind"] != "TokenRequest" || m["apiVersion"] != "authentication.k8s.io/v1" {
		t.Errorf("answer %d %s", code, raw)
	}
}
