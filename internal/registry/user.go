package registry

import "context"

// User is who made a request, as the authenticator established it.
type User struct {
	Name   string
	UID    string
	Groups []string
	// Extra is what the authenticator knows beyond name and groups
	// (a ServiceAccount token's pod, node and credential id).
	Extra map[string][]string
}

type userKey struct{}

// WithUser returns a context that carries the request's user.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the request's user, if authenticated.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// TokenReviewer authenticates a bearer token meant for one of audiences
// (nil: the API server's own) and returns its user and the audiences it
// is valid for: what a TokenReview asks.
type TokenReviewer func(ctx context.Context, token string, audiences []string) (User, []string, error)

type reviewerKey struct{}

// WithTokenReviewer returns a context that carries the server's token
// authenticator, for the TokenReview API.
func WithTokenReviewer(ctx context.Context, r TokenReviewer) context.Context {
	return context.WithValue(ctx, reviewerKey{}, r)
}

// TokenReviewerFrom returns the server's token authenticator, if it has one.
func TokenReviewerFrom(ctx context.Context) (TokenReviewer, bool) {
	r, ok := ctx.Value(reviewerKey{}).(TokenReviewer)
	return r, ok
}
