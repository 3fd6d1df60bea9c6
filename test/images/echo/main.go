// Command echo is the test server kedge's e2e tests deploy: it tells which
// version and which pod (hostname) answered, so tests can see load
// balancing and rollouts.
//
//	GET /        -> "<version> <hostname>\n"
//	GET /healthz -> "ok"
//
// It listens on :8080 (PORT overrides), and exits cleanly on SIGTERM or
// SIGINT. The version is set at build time:
//
//	CGO_ENABLED=0 go build -ldflags "-X main.version=1" ./test/images/echo
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var version = "dev"

func handler(hostname string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s %s\n", version, hostname)
	})
	return mux
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	hostname, err := os.Hostname()
	if err != nil {
		log.Fatalf("echo: hostname: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	srv := &http.Server{Addr: ":" + port, Handler: handler(hostname), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("echo %s listening on :%s", version, port)

	select {
	case err := <-errc:
		log.Fatalf("echo: %v", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("echo: shutdown: %v", err)
	}
	log.Printf("echo %s stopped", version)
}
