// Package version says which Kubernetes API kedge serves and which kedge
// build this is. The gitVersion is semver with build metadata, as clients
// and the conformance suite require.
package version

import (
	"runtime"

	"k8s.io/apimachinery/pkg/version"
)

const (
	// Major and Minor are the Kubernetes API version kedge serves.
	Major = "1"
	Minor = "37"
	// GitVersion is what /version and the kubelet report.
	GitVersion = "v1.37.2+kedge.1"
)

// Set by the linker (-X) in release builds.
var (
	gitCommit = ""
	buildDate = "1970-01-01T00:00:00Z"
)

// Info is the /version document.
func Info() version.Info {
	return version.Info{
		Major:        Major,
		Minor:        Minor,
		GitVersion:   GitVersion,
		GitCommit:    gitCommit,
		GitTreeState: "clean",
		BuildDate:    buildDate,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// UserAgent is a component's User-Agent in upstream's form, e.g.
// "kube-scheduler/v1.37.2+kedge.1 (linux/amd64) kubernetes/kedge". The API
// server names field managers after its first segment, so objects show the
// managers users know (kube-controller-manager, kube-scheduler, ...).
func UserAgent(component string) string {
	return component + "/" + GitVersion + " (" + runtime.GOOS + "/" + runtime.GOARCH + ") kubernetes/kedge"
}
