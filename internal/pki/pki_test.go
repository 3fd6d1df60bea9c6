package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func TestServiceAccountKeyIsCreatedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateServiceAccountKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateServiceAccountKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.(*ecdsa.PrivateKey).Equal(k2) {
		t.Error("a second start must reuse the key")
	}
	pubPEM, err := os.ReadFile(filepath.Join(dir, "sa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(pubPEM)
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil || b.Type != "PUBLIC KEY" {
		t.Fatalf("sa.pub: %v %q", err, b.Type)
	}
	if !k1.(*ecdsa.PrivateKey).PublicKey.Equal(pub) {
		t.Error("sa.pub must hold the public half of sa.key")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "sa.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("sa.key mode %v", fi.Mode())
	}
	if _, err := ParsePrivateKeyPEM([]byte("junk")); err == nil {
		t.Error("junk must not parse")
	}
}
