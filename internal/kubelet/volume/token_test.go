package volume

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func issued(at time.Time, seconds int64) *authenticationv1.TokenRequest {
	return &authenticationv1.TokenRequest{
		Spec:   authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds},
		Status: authenticationv1.TokenRequestStatus{ExpirationTimestamp: metav1.NewTime(at.Add(time.Duration(seconds) * time.Second))},
	}
}

func TestTokenRefreshAt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seconds int64
		jitter  time.Duration
		want    time.Duration // after issue
	}{
		{"80% of an hour and seven seconds", 3607, 0, 2885600 * time.Millisecond},
		{"80% of ten minutes", 600, 0, 8 * time.Minute},
		{"jitter comes off", 600, 7 * time.Second, 8*time.Minute - 7*time.Second},
		{"24 h caps long lifetimes", 48 * 3600, 0, 24 * time.Hour},
		{"a year: 24 h", 365 * 24 * 3600, 3 * time.Second, 24*time.Hour - 3*time.Second},
	} {
		if got := tokenRefreshAt(issued(t0, tc.seconds), tc.jitter).Sub(t0); got != tc.want {
			t.Errorf("%s: refresh after %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTokensRequestAndRenew(t *testing.T) {
	now := t0
	var requests []*authenticationv1.TokenRequest
	var fail error
	n := 0
	tk := newTokens(func(ctx context.Context, ns, sa string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
		if ns != "prod" || sa != "builder" {
			t.Errorf("token requested for %s/%s", ns, sa)
		}
		requests = append(requests, tr)
		if fail != nil {
			return nil, fail
		}
		n++
		out := issued(now, *tr.Spec.ExpirationSeconds)
		out.Spec = tr.Spec
		out.Status.Token = fmt.Sprintf("token-%d", n)
		return out, nil
	}, func() time.Time { return now })
	tk.jitter = func() time.Duration { return 0 }

	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod", UID: "uid-1"},
		Spec: v1.PodSpec{ServiceAccountName: "builder"}}
	proj := &v1.ServiceAccountTokenProjection{Path: "token", Audience: "vault", ExpirationSeconds: ptr.To[int64](600)}
	ctx := context.Background()

	token, at, err := tk.get(ctx, pod, proj)
	if err != nil || token != "token-1" || at.Sub(t0) != 8*time.Minute {
		t.Fatalf("first token: %q refresh %v err %v", token, at.Sub(t0), err)
	}
	r := requests[0].Spec
	if *r.ExpirationSeconds != 600 || len(r.Audiences) != 1 || r.Audiences[0] != "vault" ||
		r.BoundObjectRef == nil || r.BoundObjectRef.Kind != "Pod" || r.BoundObjectRef.APIVersion != "v1" ||
		r.BoundObjectRef.Name != "web" || r.BoundObjectRef.UID != "uid-1" {
		t.Errorf("token request spec: %+v", r)
	}

	now = t0.Add(7 * time.Minute) // before 80%: cached
	if token, _, _ = tk.get(ctx, pod, proj); token != "token-1" || len(requests) != 1 {
		t.Errorf("at 70%%: %q after %d requests", token, len(requests))
	}
	now = t0.Add(8 * time.Minute) // due
	if token, at, _ = tk.get(ctx, pod, proj); token != "token-2" || len(requests) != 2 || at.Sub(now) != 8*time.Minute {
		t.Errorf("at 80%%: %q after %d requests, next in %v", token, len(requests), at.Sub(now))
	}

	// A failed renewal keeps the valid token and retries soon.
	fail = errors.New("connection refused")
	now = now.Add(9 * time.Minute)
	token, at, err = tk.get(ctx, pod, proj)
	if err != nil || token != "token-2" || at.Sub(now) != 10*time.Second {
		t.Errorf("failed renewal of a valid token: %q retry in %v err %v", token, at.Sub(now), err)
	}
	now = now.Add(2 * time.Minute) // expired
	if _, _, err = tk.get(ctx, pod, proj); err == nil || !strings.Contains(err.Error(), "expired and refresh failed") {
		t.Errorf("expired token: %v", err)
	}

	// Without a cached token the error is upstream's.
	tk.forget("uid-1")
	if _, _, err = tk.get(ctx, pod, proj); err == nil || err.Error() != "failed to fetch token: connection refused" {
		t.Errorf("first fetch failing: %v", err)
	}
	// No audience: the API server's own audiences (none sent).
	fail = nil
	requests = nil
	tk.get(ctx, pod, &v1.ServiceAccountTokenProjection{Path: "token"})
	if len(requests) != 1 || requests[0].Spec.Audiences != nil || *requests[0].Spec.ExpirationSeconds != 3600 {
		t.Errorf("default projection request: %+v", requests)
	}
}
