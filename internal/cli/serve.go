package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/server"
)

func serve(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	path := fs.String("c", "rampart.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg, err := loadAndCompile(*path, env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	reload := make(chan *config.Config)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				next, err := loadAndCompile(*path, env)
				if err != nil {
					logger.Error("reload refused; keeping the running config", "error", err.Error())
					continue
				}
				select {
				case reload <- next:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	if err := server.Run(ctx, cfg, server.Options{Logger: logger, Reload: reload}); err != nil {
		fmt.Fprintln(stderr, "rampart:", err)
		return 1
	}
	return 0
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
