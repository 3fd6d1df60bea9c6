package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cache lifetimes of review answers, upstream's kubelet defaults.
const (
	tokenTTL   = 2 * time.Minute
	allowTTL   = 5 * time.Minute
	denyTTL    = 30 * time.Second
	cacheLimit = 4096
)

type cached[T any] struct {
	value   T
	expires time.Time
}

// authCache remembers TokenReview and SubjectAccessReview answers so that
// a busy client (the API server proxying logs, a metrics scraper) does
// not cost a review per request.
type authCache struct {
	mu        sync.Mutex
	tokens    map[string]cached[*user]
	decisions map[string]cached[bool]
}

func newAuthCache() *authCache {
	return &authCache{tokens: map[string]cached[*user]{}, decisions: map[string]cached[bool]{}}
}

func getCached[T any](mu *sync.Mutex, m map[string]cached[T], key string) (T, bool) {
	mu.Lock()
	defer mu.Unlock()
	c, ok := m[key]
	if !ok || time.Now().After(c.expires) {
		var zero T
		return zero, false
	}
	return c.value, true
}

func putCached[T any](mu *sync.Mutex, m map[string]cached[T], key string, v T, ttl time.Duration) {
	mu.Lock()
	defer mu.Unlock()
	if len(m) >= cacheLimit {
		clear(m)
	}
	m[key] = cached[T]{value: v, expires: time.Now().Add(ttl)}
}

// authenticate accepts a client certificate the TLS layer verified
// against the cluster CA (user = CommonName, groups = Organizations) or a
// bearer token the API server vouches for.
func (s *Server) authenticate(r *http.Request) (user, bool) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		cert := r.TLS.PeerCertificates[0]
		groups := append(append([]string(nil), cert.Subject.Organization...), "system:authenticated")
		return user{name: cert.Subject.CommonName, groups: groups}, true
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" || s.cfg.Auth == nil {
		return user{}, false
	}
	if u, ok := getCached(&s.authz.mu, s.authz.tokens, token); ok {
		return deref(u)
	}
	review, err := s.cfg.Auth.AuthenticationV1().TokenReviews().Create(r.Context(), &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token},
	}, metav1.CreateOptions{})
	if err != nil {
		return user{}, false // not cached: the API server may be back soon
	}
	var u *user
	if review.Status.Authenticated {
		ui := review.Status.User
		u = &user{name: ui.Username, uid: ui.UID, groups: ui.Groups}
	}
	putCached(&s.authz.mu, s.authz.tokens, token, u, tokenTTL)
	return deref(u)
}

func deref(u *user) (user, bool) {
	if u == nil {
		return user{}, false
	}
	return *u, true
}

// authorize asks the API server whether u may do attrs on this node.
// system:masters may do anything, as upstream's API server answers for
// them without consulting any authorizer.
func (s *Server) authorize(ctx context.Context, u user, attrs attributes) (bool, error) {
	if u.in("system:masters") {
		return true, nil
	}
	if s.cfg.Auth == nil {
		return false, nil
	}
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s", u.name, strings.Join(u.groups, ","), attrs.verb, attrs.subresource, attrs.name)
	if ok, found := getCached(&s.authz.mu, s.authz.decisions, key); found {
		return ok, nil
	}
	sar, err := s.cfg.Auth.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: u.name, UID: u.uid, Groups: u.groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: attrs.verb, Resource: attrs.resource, Subresource: attrs.subresource, Name: attrs.name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	ttl := denyTTL
	if sar.Status.Allowed {
		ttl = allowTTL
	}
	putCached(&s.authz.mu, s.authz.decisions, key, sar.Status.Allowed, ttl)
	return sar.Status.Allowed, nil
}
