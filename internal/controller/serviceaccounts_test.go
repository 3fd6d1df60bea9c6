package controller

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/rest"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
	"github.com/kedge-dev/kedge/internal/pki"
)

func TestManagerPublishesRootCAAndFillsTokenSecrets(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.LoadOrCreateServiceAccountKey(dir); err != nil {
		t.Fatal(err)
	}
	cs := ctrltest.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "default"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "robot-token", Namespace: "default",
			Annotations: map[string]string{corev1.ServiceAccountNameKey: "robot"}}, Type: corev1.SecretTypeServiceAccountToken},
	)
	scheme := runtime.NewScheme()
	metav1.AddMetaToScheme(scheme)
	m, err := newManager(Config{RootCA: []byte("CA"), ServiceAccountKeyFile: dir + "/sa.key"}, cs, metafake.NewSimpleMetadataClient(scheme), noDiscovery{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	ctrltest.Eventually(t, "kube-root-ca.crt", func() bool {
		cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil && cm.Data["ca.crt"] == "CA"
	})
	var tok string
	ctrltest.Eventually(t, "token secret filled", func() bool {
		s, err := cs.CoreV1().Secrets("default").Get(ctx, "robot-token", metav1.GetOptions{})
		tok = string(s.Data["token"])
		return err == nil && tok != "" && string(s.Data["ca.crt"]) == "CA"
	})
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil || !strings.Contains(string(payload), `"iss":"kubernetes/serviceaccount"`) {
		t.Errorf("token payload %s (%v)", payload, err)
	}
}

func TestRestConfigCA(t *testing.T) {
	if got := restConfigCA(&rest.Config{TLSClientConfig: rest.TLSClientConfig{CAData: []byte("pem")}}); string(got) != "pem" {
		t.Errorf("CA data = %q", got)
	}
	if got := restConfigCA(&rest.Config{TLSClientConfig: rest.TLSClientConfig{CAFile: "/nonexistent"}}); got != nil {
		t.Errorf("unreadable CA file = %q", got)
	}
}
