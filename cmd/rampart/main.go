// Command rampart is a security-first API gateway. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rampart-gw/rampart/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
