package serviceaccount

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

// fakeTokens signs nothing: the token names what it was issued for.
type fakeTokens struct{}

func (fakeTokens) IssueLegacy(sa *corev1.ServiceAccount, secret string) (string, error) {
	return fmt.Sprintf("token:%s/%s:%s:%s", sa.Namespace, sa.Name, sa.UID, secret), nil
}

var rootCA = []byte("CA PEM")

func tokenSecret(name, sa string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", Annotations: map[string]string{corev1.ServiceAccountNameKey: sa}},
		Type:       corev1.SecretTypeServiceAccountToken,
		Data:       data,
	}
}

func TestPlanTokenSecret(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "apps", UID: "u1"}}
	full := map[string][]byte{"token": []byte("t"), "ca.crt": rootCA, "namespace": []byte("apps")}
	with := func(k, v string) map[string][]byte {
		d := map[string][]byte{}
		for x, y := range full {
			d[x] = y
		}
		if v == "" {
			delete(d, k)
		} else {
			d[k] = []byte(v)
		}
		return d
	}
	tests := []struct {
		name   string
		secret *corev1.Secret
		sa     *corev1.ServiceAccount
		want   TokenSecretAction
	}{
		{"account gone", tokenSecret("s", "robot", full), nil, SecretDelete},
		{"complete", tokenSecret("s", "robot", full), sa, SecretOK},
		{"new secret", tokenSecret("s", "robot", nil), sa, SecretFill},
		{"no token", tokenSecret("s", "robot", with("token", "")), sa, SecretFill},
		{"stale CA", tokenSecret("s", "robot", with("ca.crt", "old")), sa, SecretFill},
		{"no namespace", tokenSecret("s", "robot", with("namespace", "")), sa, SecretFill},
	}
	for _, tt := range tests {
		if got := PlanTokenSecret(tt.secret, tt.sa, rootCA); got != tt.want {
			t.Errorf("%s: PlanTokenSecret = %v, want %v", tt.name, got, tt.want)
		}
	}
	s := tokenSecret("s", "robot", map[string][]byte{"token": []byte("kept")})
	if err := Fill(s, sa, rootCA, fakeTokens{}); err != nil {
		t.Fatal(err)
	}
	if string(s.Data["token"]) != "kept" || string(s.Data["ca.crt"]) != "CA PEM" || string(s.Data["namespace"]) != "apps" ||
		s.Annotations[corev1.ServiceAccountUIDKey] != "u1" {
		t.Errorf("filled secret = %+v", s)
	}
}

func TestTokensControllerFillsAndDeletes(t *testing.T) {
	cs := ctrltest.NewClientset(
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "apps", UID: "u1"}},
		tokenSecret("robot-token", "robot", nil),
		tokenSecret("orphan-token", "nobody", nil),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "apps"}, Data: map[string][]byte{"k": []byte("v")}},
	)
	f := informers.NewSharedInformerFactory(cs, 0)
	c, err := NewTokens(TokensOptions{Client: cs, Informers: f, Tokens: fakeTokens{}, RootCA: rootCA, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)
	go c.Run(ctx)
	get := func(name string) *corev1.Secret {
		s, err := cs.CoreV1().Secrets("apps").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return s
	}
	ctrltest.Eventually(t, "token filled in", func() bool {
		s := get("robot-token")
		return s != nil && string(s.Data["token"]) == "token:apps/robot:u1:robot-token"
	})
	s := get("robot-token")
	if string(s.Data["ca.crt"]) != "CA PEM" || string(s.Data["namespace"]) != "apps" || s.Annotations[corev1.ServiceAccountUIDKey] != "u1" {
		t.Errorf("token secret = %+v", s)
	}
	ctrltest.Eventually(t, "secret of a missing account deleted", func() bool { return get("orphan-token") == nil })
	if p := get("plain"); p == nil || len(p.Data) != 1 {
		t.Errorf("other secrets must be left alone: %+v", p)
	}
	if err := cs.CoreV1().ServiceAccounts("apps").Delete(ctx, "robot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "token secret deleted with its account", func() bool { return get("robot-token") == nil })
}
