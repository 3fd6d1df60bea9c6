// Package serviceaccount is the ServiceAccounts controller: every namespace
// that is not terminating gets a ServiceAccount named "default", and gets
// it back if it is deleted.
//
//	Namespaces + ServiceAccounts (informers) ──► missing "default"? ──► create it
//
// Not here: deleting the contents of terminating namespaces (upstream's
// namespace controller) and the kube-root-ca.crt ConfigMap (root CA
// publisher); both are separate controllers still to write.
package serviceaccount
