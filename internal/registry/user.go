package registry

import "context"

// User is who made a request, as the authenticator established it.
type User struct {
	Name   string
	UID    string
	Groups []string
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
