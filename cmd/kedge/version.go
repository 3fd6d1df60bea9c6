package main

import (
	"context"
	"fmt"

	"github.com/kedge-dev/kedge/internal/version"
)

func init() {
	register("version", "print the version", func(ctx context.Context, args []string) error {
		v := version.Info()
		fmt.Printf("kedge %s (%s, %s)\n", v.GitVersion, v.GoVersion, v.Platform)
		return nil
	})
}
