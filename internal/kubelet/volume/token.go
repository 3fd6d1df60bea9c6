package volume

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Upstream's token manager: a projected token is renewed once 80% of its
// lifetime has passed, or 24 hours after it was issued, whichever comes
// first, less a random jitter of up to 10 s.
const (
	tokenMaxTTL    = 24 * time.Hour
	tokenMaxJitter = 10 * time.Second
	// defaultTokenExpiration is a projection's lifetime when it sets none.
	defaultTokenExpiration = int64(60 * 60)
)

// tokenRefreshAt is when a token must be renewed: the earlier of 80% of
// its requested lifetime and 24 h after issue, less jitter. The issue
// time is the expiry less the requested lifetime.
func tokenRefreshAt(tr *authenticationv1.TokenRequest, jitter time.Duration) time.Time {
	exp := tr.Status.ExpirationTimestamp.Time
	ttl := time.Duration(defaultTokenExpiration) * time.Second
	if tr.Spec.ExpirationSeconds != nil {
		ttl = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	}
	iat := exp.Add(-ttl)
	at := exp.Add(-ttl / 5)
	if max := iat.Add(tokenMaxTTL); max.Before(at) {
		at = max
	}
	return at.Add(-jitter)
}

// RequestToken asks the API server for a token (TokenRequest API:
// POST serviceaccounts/<name>/token).
type RequestToken func(ctx context.Context, namespace, serviceAccount string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)

type tokenKey struct {
	pod      types.UID
	sa       string
	audience string
	seconds  int64
}

type cachedToken struct {
	tr        *authenticationv1.TokenRequest
	refreshAt time.Time
}

// tokens caches the projected tokens of the node's pods and renews them
// when due.
type tokens struct {
	request RequestToken
	now     func() time.Time
	jitter  func() time.Duration

	mu    sync.Mutex
	cache map[tokenKey]cachedToken
}

func newTokens(request RequestToken, now func() time.Time) *tokens {
	return &tokens{
		request: request,
		now:     now,
		jitter:  func() time.Duration { return time.Duration(rand.Int64N(int64(tokenMaxJitter))) },
		cache:   map[tokenKey]cachedToken{},
	}
}

// get returns the pod's token for a projection, renewing it when due,
// and when it will be due next.
func (t *tokens) get(ctx context.Context, pod *v1.Pod, p *v1.ServiceAccountTokenProjection) (string, time.Time, error) {
	seconds := defaultTokenExpiration
	if p.ExpirationSeconds != nil {
		seconds = *p.ExpirationSeconds
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	key := tokenKey{pod: pod.UID, sa: sa, audience: p.Audience, seconds: seconds}
	now := t.now()
	t.mu.Lock()
	cur, ok := t.cache[key]
	t.mu.Unlock()
	if ok && now.Before(cur.refreshAt) {
		return cur.tr.Status.Token, cur.refreshAt, nil
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &seconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if p.Audience != "" {
		req.Spec.Audiences = []string{p.Audience}
	}
	tr, err := t.request(ctx, pod.Namespace, sa, req)
	if err == nil && tr.Status.Token == "" {
		err = fmt.Errorf("the API server returned an empty token")
	}
	if err != nil {
		switch {
		case !ok:
			return "", time.Time{}, fmt.Errorf("failed to fetch token: %w", err)
		case !now.Before(cur.tr.Status.ExpirationTimestamp.Time):
			return "", time.Time{}, fmt.Errorf("token %s/%s expired and refresh failed: %w", pod.Namespace, sa, err)
		}
		// The old token still works: keep it, try again soon.
		return cur.tr.Status.Token, now.Add(10 * time.Second), nil
	}
	if tr.Spec.ExpirationSeconds == nil {
		tr.Spec.ExpirationSeconds = &seconds
	}
	if tr.Status.ExpirationTimestamp.IsZero() {
		tr.Status.ExpirationTimestamp = metav1.NewTime(now.Add(time.Duration(seconds) * time.Second))
	}
	c := cachedToken{tr: tr, refreshAt: tokenRefreshAt(tr, t.jitter())}
	t.mu.Lock()
	t.cache[key] = c
	t.mu.Unlock()
	return tr.Status.Token, c.refreshAt, nil
}

// forget drops the tokens of a pod.
func (t *tokens) forget(uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.cache {
		if k.pod == uid {
			delete(t.cache, k)
		}
	}
}
