package images

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Repository splits an image reference into its registry host (Docker
// Hub's is "docker.io") and repository path, dropping tag and digest.
func Repository(image string) (host, repo string) {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	first, rest, found := strings.Cut(image, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return NormalizeHost(first), rest
	}
	if !found {
		return "docker.io", "library/" + image
	}
	return "docker.io", image
}

// credential is one docker config entry.
type credential struct {
	key               string // as written, for ordering
	host              string // may hold * globs per label; may have a port
	path              string
	user, pass, token string
}

// Keyring holds the credentials of a pod's pull secrets.
type Keyring struct {
	creds []credential
}

type dockerEntry struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
}

// Add reads a kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg
// secret; other types are ignored.
func (k *Keyring) Add(s *v1.Secret) error {
	var entries map[string]dockerEntry
	switch s.Type {
	case v1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]dockerEntry `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[v1.DockerConfigJsonKey], &cfg); err != nil {
			return fmt.Errorf("secret %s/%s: %s: %w", s.Namespace, s.Name, v1.DockerConfigJsonKey, err)
		}
		entries = cfg.Auths
	case v1.SecretTypeDockercfg:
		if err := json.Unmarshal(s.Data[v1.DockerConfigKey], &entries); err != nil {
			return fmt.Errorf("secret %s/%s: %s: %w", s.Namespace, s.Name, v1.DockerConfigKey, err)
		}
	default:
		return nil
	}
	for key, e := range entries {
		host, p := parseKey(key)
		if host == "" {
			continue
		}
		user, pass := e.Username, e.Password
		if e.Auth != "" && user == "" {
			if dec, err := base64.StdEncoding.DecodeString(e.Auth); err == nil {
				user, pass, _ = strings.Cut(string(dec), ":")
			}
		}
		k.creds = append(k.creds, credential{key: key, host: host, path: p, user: user, pass: pass, token: e.IdentityToken})
	}
	// Longest (most specific) keys first, as upstream's keyring orders them.
	sort.SliceStable(k.creds, func(i, j int) bool {
		if len(k.creds[i].key) != len(k.creds[j].key) {
			return len(k.creds[i].key) > len(k.creds[j].key)
		}
		return k.creds[i].key < k.creds[j].key
	})
	return nil
}

// parseKey turns a docker config key ("https://index.docker.io/v1/",
// "registry:5000", "registry.example.com/team", "*.example.com") into a
// host and a path prefix.
func parseKey(key string) (host, p string) {
	s := key
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", ""
	}
	host = NormalizeHost(u.Host)
	p = strings.Trim(u.Path, "/")
	if host == "docker.io" && (p == "v1" || p == "v2") {
		p = ""
	}
	return host, p
}

// Lookup returns the credentials matching image, most specific first.
func (k *Keyring) Lookup(image string) []*runtimeapi.AuthConfig {
	if k == nil {
		return nil
	}
	host, repo := Repository(image)
	var out []*runtimeapi.AuthConfig
	for i := range k.creds {
		c := &k.creds[i]
		if !hostMatches(c.host, host) {
			continue
		}
		if c.path != "" && repo != c.path && !strings.HasPrefix(repo, c.path+"/") {
			continue
		}
		out = append(out, &runtimeapi.AuthConfig{Username: c.user, Password: c.pass, IdentityToken: c.token})
	}
	return out
}

// hostMatches compares hosts label by label; a pattern label may be a
// glob ("*.example.com"), ports must be equal.
func hostMatches(pattern, host string) bool {
	ph, pp, _ := strings.Cut(pattern, ":")
	hh, hp, _ := strings.Cut(host, ":")
	if pp != hp {
		return false
	}
	pl, hl := strings.Split(ph, "."), strings.Split(hh, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, _ := path.Match(pl[i], hl[i]); !ok {
			return false
		}
	}
	return true
}
