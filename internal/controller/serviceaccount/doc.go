// Package serviceaccount holds upstream's two ServiceAccount controllers.
//
// The ServiceAccounts controller: every namespace that is not terminating
// gets a ServiceAccount named "default", and gets it back if it is deleted.
//
//	Namespaces + ServiceAccounts (informers) ──► missing "default"? ──► create it
//
// The tokens controller (serviceaccount-token-controller): a Secret of type
// kubernetes.io/service-account-token annotated
// kubernetes.io/service-account.name gets data token (a legacy,
// never-expiring token signed with the ServiceAccount key), ca.crt and
// namespace, and the account's uid annotation; such a Secret whose account
// does not exist (or was deleted, or recreated with another UID) is deleted.
//
//	token Secrets + ServiceAccounts ──► PlanTokenSecret ──► fill / delete
//
// Not here: deleting the contents of terminating namespaces (the namespace
// controller) and kube-root-ca.crt (the rootcacert controller).
package serviceaccount
