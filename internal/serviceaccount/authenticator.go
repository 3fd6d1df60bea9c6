package serviceaccount

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Leeway is the clock skew tolerated on "exp", "nbf" and "iat"; objects
// deleted less than this long ago still count as existing.
const Leeway = time.Minute

// Getter reads the objects a token names. A missing object is an error
// (any error: the token is then refused).
type Getter interface {
	ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	Node(ctx context.Context, name string) (*corev1.Node, error)
}

// AuthenticatorConfig configures an Authenticator.
type AuthenticatorConfig struct {
	// Keys verify signatures (the issuer's public key, and any older keys
	// whose tokens must stay valid).
	Keys []crypto.PublicKey
	// Issuers of bound tokens that are accepted (default DefaultIssuer).
	// Legacy tokens (LegacyIssuer) are always accepted.
	Issuers []string
	// APIAudiences are the audiences of the API server itself (default
	// Issuers): a request's token must be meant for one of them.
	APIAudiences []string
	// Getter reads the service accounts, pods, secrets and nodes tokens
	// name (required).
	Getter Getter
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Authenticator verifies ServiceAccount tokens.
type Authenticator struct {
	keys      map[string][]crypto.PublicKey // by key id
	all       []crypto.PublicKey
	issuers   []string
	audiences []string
	getter    Getter
	now       func() time.Time
}

// NewAuthenticator builds an authenticator.
func NewAuthenticator(c AuthenticatorConfig) (*Authenticator, error) {
	if c.Getter == nil {
		return nil, errors.New("serviceaccount: authenticator needs a getter")
	}
	if len(c.Keys) == 0 {
		return nil, errors.New("serviceaccount: authenticator needs a public key")
	}
	a := &Authenticator{keys: map[string][]crypto.PublicKey{}, issuers: c.Issuers, audiences: c.APIAudiences, getter: c.Getter, now: c.Now}
	if len(a.issuers) == 0 {
		a.issuers = []string{DefaultIssuer}
	}
	if len(a.audiences) == 0 {
		a.audiences = a.issuers
	}
	if a.now == nil {
		a.now = time.Now
	}
	for _, k := range c.Keys {
		kid, err := KeyID(k)
		if err != nil {
			return nil, err
		}
		a.keys[kid] = append(a.keys[kid], k)
		a.all = append(a.all, k)
	}
	return a, nil
}

// APIAudiences are the audiences of the API server itself.
func (a *Authenticator) APIAudiences() []string { return a.audiences }

// Response is who a token authenticates and for which audiences.
type Response struct {
	User      authenticationv1.UserInfo
	Audiences []string
}

// ErrInvalidToken is the error of a bearer token that no authenticator
// recognizes, with upstream's wording; the reasons a recognized token is
// refused are joined to it ("[invalid bearer token, <reason>]").
var ErrInvalidToken = errors.New("invalid bearer token")

// refused wraps why a token of ours was refused, as upstream prints it.
type refused struct{ reason error }

func (e refused) Error() string { return "[" + ErrInvalidToken.Error() + ", " + e.reason.Error() + "]" }
func (e refused) Unwrap() []error {
	return []error{ErrInvalidToken, e.reason}
}

// Authenticate verifies token for one of audiences (nil: the API
// audiences). A token that is not a ServiceAccount token of an accepted
// issuer gives ErrInvalidToken; one that is but fails a check gives an
// error that wraps ErrInvalidToken and says why.
func (a *Authenticator) Authenticate(ctx context.Context, token string, audiences []string) (*Response, error) {
	iss, ok := unverifiedIssuer(token)
	legacy := iss == LegacyIssuer
	if !ok || (!legacy && !slices.Contains(a.issuers, iss)) {
		return nil, ErrInvalidToken
	}
	resp, err := a.verify(ctx, token, audiences, legacy)
	if err != nil {
		return nil, refused{err}
	}
	return resp, nil
}

func (a *Authenticator) verify(ctx context.Context, token string, audiences []string, legacy bool) (*Response, error) {
	var c Claims
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256", "ES256", "ES384", "ES512"}), jwt.WithoutClaimsValidation())
	if _, err := p.ParseWithClaims(token, &c, a.keyFunc); err != nil {
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenUnverifiable) {
			return nil, errors.New("invalid signature")
		}
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	if c.Issuer != LegacyIssuer && !slices.Contains(a.issuers, c.Issuer) {
		return nil, fmt.Errorf("token issuer %q is invalid", c.Issuer)
	}
	tokenAuds := []string(c.Audience)
	if len(tokenAuds) == 0 {
		tokenAuds = a.audiences // legacy tokens are for the API server only
	}
	if audiences == nil {
		audiences = a.audiences
	}
	auds := intersect(tokenAuds, audiences)
	if len(auds) == 0 {
		return nil, fmt.Errorf("token audiences %s is invalid for the target audiences %s", quoteList(tokenAuds), quoteList(audiences))
	}
	var id identity
	var err error
	if legacy {
		id, err = a.validateLegacy(ctx, token, &c)
	} else {
		id, err = a.validateBound(ctx, &c)
	}
	if err != nil {
		return nil, err
	}
	return &Response{User: id.userInfo(), Audiences: auds}, nil
}

func (a *Authenticator) keyFunc(t *jwt.Token) (any, error) {
	keys := a.all
	if kid, _ := t.Header["kid"].(string); kid != "" {
		keys = a.keys[kid]
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys found")
	}
	set := jwt.VerificationKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// validateBound checks the times of a bound token and that what it names
// still exists with the same UIDs.
func (a *Authenticator) validateBound(ctx context.Context, c *Claims) (identity, error) {
	now := a.now()
	switch {
	case c.ExpiresAt != nil && now.After(c.ExpiresAt.Add(Leeway)):
		return identity{}, errors.New("service account token has expired")
	case c.NotBefore != nil && now.Add(Leeway).Before(c.NotBefore.Time):
		return identity{}, errors.New("service account token is not valid yet")
	case c.IssuedAt != nil && now.Add(Leeway).Before(c.IssuedAt.Time):
		return identity{}, errors.New("service account token is issued in the future")
	}
	k := c.Kubernetes
	if k == nil || k.Namespace == "" || k.ServiceAccount.Name == "" {
		return identity{}, errors.New("service account token claims are missing")
	}
	// Objects deleted before this are gone; a moment's grace covers clock skew.
	deletedBefore := now.Add(-Leeway)
	gone := func(ts *metav1.Time) bool { return ts != nil && ts.Time.Before(deletedBefore) }
	ns, saRef := k.Namespace, k.ServiceAccount
	sa, err := a.getter.ServiceAccount(ctx, ns, saRef.Name)
	if err != nil {
		return identity{}, err
	}
	if string(sa.UID) != saRef.UID {
		return identity{}, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, saRef.UID)
	}
	if gone(sa.DeletionTimestamp) {
		return identity{}, fmt.Errorf("service account %s/%s has been deleted", ns, saRef.Name)
	}
	invalidated := errors.New("service account token has been invalidated")
	if ref := k.Secret; ref != nil {
		s, err := a.getter.Secret(ctx, ns, ref.Name)
		if err != nil {
			return identity{}, invalidated
		}
		if string(s.UID) != ref.UID {
			return identity{}, fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", s.UID, ref.UID)
		}
		if gone(s.DeletionTimestamp) {
			return identity{}, invalidated
		}
	}
	id := identity{namespace: ns, name: saRef.Name, uid: saRef.UID, jti: c.ID}
	if ref := k.Pod; ref != nil {
		p, err := a.getter.Pod(ctx, ns, ref.Name)
		if err != nil {
			return identity{}, invalidated
		}
		if string(p.UID) != ref.UID {
			return identity{}, fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", p.UID, ref.UID)
		}
		if gone(p.DeletionTimestamp) {
			return identity{}, invalidated
		}
		id.pod = ref
		id.node = k.Node // the pod's node: information only
	} else if ref := k.Node; ref != nil {
		n, err := a.getter.Node(ctx, ref.Name)
		if err != nil {
			return identity{}, invalidated
		}
		if string(n.UID) != ref.UID {
			return identity{}, fmt.Errorf("node UID (%s) does not match service account node ref claim (%s)", n.UID, ref.UID)
		}
		if gone(n.DeletionTimestamp) {
			return identity{}, invalidated
		}
		id.node = ref
	}
	return id, nil
}

// validateLegacy checks a Secret-based token: its Secret still holds
// exactly this token and its service account still exists.
func (a *Authenticator) validateLegacy(ctx context.Context, token string, c *Claims) (identity, error) {
	switch {
	case c.Subject == "":
		return identity{}, errors.New("sub claim is missing")
	case c.LegacyNamespace == "":
		return identity{}, errors.New("namespace claim is missing")
	case c.LegacySecretName == "":
		return identity{}, errors.New("secretName claim is missing")
	case c.LegacyServiceAccountName == "":
		return identity{}, errors.New("serviceAccountName claim is missing")
	case c.LegacyServiceAccountUID == "":
		return identity{}, errors.New("serviceAccountUID claim is missing")
	}
	ns, name := c.LegacyNamespace, c.LegacyServiceAccountName
	if sns, sname, ok := SplitUserName(c.Subject); !ok || sns != ns || sname != name {
		return identity{}, errors.New("sub claim is invalid")
	}
	s, err := a.getter.Secret(ctx, ns, c.LegacySecretName)
	if err != nil || s.DeletionTimestamp != nil {
		return identity{}, errors.New("token has been invalidated")
	}
	if string(s.Data[corev1.ServiceAccountTokenKey]) != token {
		return identity{}, errors.New("token does not match server's copy")
	}
	if since := s.Labels[InvalidSinceLabel]; since != "" {
		return identity{}, fmt.Errorf("the token in secret %s/%s for service account %s/%s has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '%s' label from the secret to temporarily allow use of this token",
			ns, s.Name, ns, name, InvalidSinceLabel)
	}
	sa, err := a.getter.ServiceAccount(ctx, ns, name)
	if err != nil {
		return identity{}, err
	}
	if sa.DeletionTimestamp != nil {
		return identity{}, fmt.Errorf("service account %s/%s has been deleted", ns, name)
	}
	if string(sa.UID) != c.LegacyServiceAccountUID {
		return identity{}, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, c.LegacyServiceAccountUID)
	}
	return identity{namespace: ns, name: name, uid: c.LegacyServiceAccountUID}, nil
}

// InvalidSinceLabel on a token Secret disables its legacy token.
const InvalidSinceLabel = "kubernetes.io/legacy-token-invalid-since"

// unverifiedIssuer reads the "iss" of a compact JWT without verifying it,
// to tell whether the token is one of ours at all.
func unverifiedIssuer(token string) (string, bool) {
	if strings.HasPrefix(strings.TrimSpace(token), "{") {
		return "", false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return "", false
	}
	return c.Issuer, true
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// quoteList prints a list as Go's %q prints a []string.
func quoteList(l []string) string {
	return fmt.Sprintf("%q", l)
}
