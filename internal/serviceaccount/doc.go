// Package serviceaccount issues and verifies ServiceAccount tokens: the
// JWTs the TokenRequest API (serviceaccounts/<name>/token) hands out, and
// the legacy tokens kept in Secrets of type kubernetes.io/service-account-token.
//
//	Issuer:        ServiceAccount (+ bound Pod/Secret/Node, audiences, lifetime)
//	               ──► signed JWT (ES256 or RS256, "kid" = SHA-256 of the public key)
//	Authenticator: bearer token ──► signature, issuer, audience, expiry
//	               ──► the bound objects still exist with the same UIDs (Getter)
//	               ──► user system:serviceaccount:<ns>:<name>, groups, extra
//
// Words: a bound token carries upstream's private claim "kubernetes.io"
// (namespace, serviceaccount, pod/secret/node) and expires; a legacy token
// (issuer "kubernetes/serviceaccount") never expires and is valid while its
// Secret holds exactly it. Audiences are whom a token is meant for; the API
// audiences (by default the issuer) are the API server's own.
//
// The package is pure: keys come in as crypto values, objects are read
// through the Getter the caller provides (the API server reads its own
// storage), time through a clock function.
package serviceaccount
