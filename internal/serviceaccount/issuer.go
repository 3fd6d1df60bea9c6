package serviceaccount

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// Issuer signs ServiceAccount tokens with one private key.
type Issuer struct {
	iss    string
	key    crypto.Signer
	method jwt.SigningMethod
	kid    string
	// Now and NewID may be replaced (tests): the clock and the source of
	// "jti" values.
	Now   func() time.Time
	NewID func() string
}

// NewIssuer returns an issuer whose bound tokens carry iss (DefaultIssuer
// when empty). key is an ECDSA (ES256/384/512) or RSA (RS256) private key.
func NewIssuer(iss string, key crypto.Signer) (*Issuer, error) {
	if iss == "" {
		iss = DefaultIssuer
	}
	method, err := signingMethod(key)
	if err != nil {
		return nil, err
	}
	kid, err := KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	return &Issuer{iss: iss, key: key, method: method, kid: kid, Now: time.Now, NewID: func() string { return string(uuid.NewUUID()) }}, nil
}

// Issuer is the "iss" of the bound tokens this issuer signs.
func (i *Issuer) Issuer() string { return i.iss }

// PublicKey verifies this issuer's tokens.
func (i *Issuer) PublicKey() crypto.PublicKey { return i.key.Public() }

func signingMethod(key crypto.Signer) (jwt.SigningMethod, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return jwt.SigningMethodRS256, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jwt.SigningMethodES256, nil
		case elliptic.P384():
			return jwt.SigningMethodES384, nil
		case elliptic.P521():
			return jwt.SigningMethodES512, nil
		}
		return nil, errors.New("serviceaccount: unsupported ECDSA curve, must be P-256, P-384 or P-521")
	}
	return nil, fmt.Errorf("serviceaccount: unsupported signing key %T, must be RSA or ECDSA", key)
}

// KeyID is the "kid" of tokens signed by the key of pub: the unpadded
// base64url SHA-256 of its PKIX DER form, as kube-apiserver derives it.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("serviceaccount: key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// Request says what to issue a bound token for.
type Request struct {
	ServiceAccount *corev1.ServiceAccount
	// At most one of Pod, Secret and Node-without-Pod is the bound object.
	// With a Pod, Node is the pod's node (information, not a binding).
	Pod    *corev1.Pod
	Secret *corev1.Secret
	Node   *corev1.Node
	// Audiences the token is meant for.
	Audiences []string
	// ExpirationSeconds is the lifetime; WarnAfterSeconds, when set, is
	// the lifetime that was asked for when it was extended.
	ExpirationSeconds int64
	WarnAfterSeconds  int64
}

// Issue signs a bound token and returns it with its claims.
func (i *Issuer) Issue(r Request) (string, *Claims, error) {
	sa := r.ServiceAccount
	if sa == nil {
		return "", nil, errors.New("serviceaccount: no service account to issue a token for")
	}
	if r.Secret != nil && (r.Pod != nil || r.Node != nil) {
		return "", nil, errors.New("serviceaccount: a token can only be bound to one object")
	}
	now := time.Unix(i.Now().Unix(), 0)
	k := &KubernetesClaims{Namespace: sa.Namespace, ServiceAccount: Ref{Name: sa.Name, UID: string(sa.UID)}}
	if r.Pod != nil {
		k.Pod = &Ref{Name: r.Pod.Name, UID: string(r.Pod.UID)}
	}
	if r.Secret != nil {
		k.Secret = &Ref{Name: r.Secret.Name, UID: string(r.Secret.UID)}
	}
	if r.Node != nil {
		k.Node = &Ref{Name: r.Node.Name, UID: string(r.Node.UID)}
	}
	if r.WarnAfterSeconds > 0 {
		k.WarnAfter = jwt.NewNumericDate(now.Add(time.Duration(r.WarnAfterSeconds) * time.Second))
	}
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.iss,
			Subject:   UserName(sa.Namespace, sa.Name),
			Audience:  jwt.ClaimStrings(r.Audiences),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Duration(r.ExpirationSeconds) * time.Second)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        i.NewID(),
		},
		Kubernetes: k,
	}
	tok, err := i.sign(c)
	return tok, c, err
}

// IssueLegacy signs the never-expiring token of a Secret of type
// kubernetes.io/service-account-token named secretName.
func (i *Issuer) IssueLegacy(sa *corev1.ServiceAccount, secretName string) (string, error) {
	return i.sign(&Claims{
		RegisteredClaims:         jwt.RegisteredClaims{Issuer: LegacyIssuer, Subject: UserName(sa.Namespace, sa.Name)},
		LegacyNamespace:          sa.Namespace,
		LegacySecretName:         secretName,
		LegacyServiceAccountName: sa.Name,
		LegacyServiceAccountUID:  string(sa.UID),
	})
}

func (i *Issuer) sign(c *Claims) (string, error) {
	t := jwt.NewWithClaims(i.method, c)
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("serviceaccount: sign token: %w", err)
	}
	return s, nil
}
