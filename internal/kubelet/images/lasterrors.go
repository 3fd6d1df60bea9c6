package images

import (
	"strings"
	"sync"
)

// LastErrors remembers the last pull failure (reason and message) per key
// (pod UID + "/image/" + image), for the ImagePullBackOff message. The
// zero value is ready to use; it is safe for concurrent use.
type LastErrors struct {
	mu sync.Mutex
	m  map[string][2]string
}

// Set records a failure for key.
func (l *LastErrors) Set(key, reason, message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string][2]string{}
	}
	l.m[key] = [2]string{reason, message}
}

// Get returns the last failure of key ("" when none).
func (l *LastErrors) Get(key string) (reason, message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	return e[0], e[1]
}

// Forget drops key.
func (l *LastErrors) Forget(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// ForgetPrefix drops every key starting with prefix (a gone pod's UID).
func (l *LastErrors) ForgetPrefix(prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.m {
		if strings.HasPrefix(k, prefix) {
			delete(l.m, k)
		}
	}
}
