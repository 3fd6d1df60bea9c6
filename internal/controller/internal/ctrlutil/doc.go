// Package ctrlutil holds the small pieces every kedge controller shares:
// the rate-limited work queue and its worker loop, pod readiness and
// availability as upstream defines them, controllerRef claiming
// (adopt/release) as a pure function, and how a Service port resolves to a
// pod port.
//
// Nothing here talks to the API server; callers do the I/O.
package ctrlutil
