// Command mkimages writes kedge's local images as docker-archive tarballs
// (see internal/images). hack/images.mk runs it after building the
// binaries:
//
//	go run ./hack/mkimages -out build/images -pause build/pause \
//	    -echo 1=build/echo-1 -echo 2=build/echo-2
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/kedge-dev/kedge/internal/images"
)

type echoFlag map[string]string

func (e echoFlag) String() string { return fmt.Sprint(map[string]string(e)) }

func (e echoFlag) Set(s string) error {
	v, bin, ok := strings.Cut(s, "=")
	if !ok || v == "" || bin == "" {
		return fmt.Errorf("want VERSION=BINARY, got %q", s)
	}
	e[v] = bin
	return nil
}

func main() {
	in := images.Inputs{Echo: echoFlag{}}
	out := flag.String("out", "build/images", "directory to write the tarballs to")
	flag.StringVar(&in.Pause, "pause", "build/pause", "static pause binary")
	flag.StringVar(&in.Busybox, "busybox", "/bin/busybox", "static busybox binary")
	flag.Var(echoFlag(in.Echo), "echo", "VERSION=BINARY of an echo server build (repeatable)")
	flag.Parse()

	if err := images.BuildAll(*out, in); err != nil {
		slog.Error("building images failed", "err", err)
		os.Exit(1)
	}
	slog.Info("images written", "dir", *out)
}
