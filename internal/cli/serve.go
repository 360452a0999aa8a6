package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rampart-gw/rampart/internal/alert/syslog"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/server"
)

func serve(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	path := fs.String("c", "rampart.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// The log stream passes a tee that alerts.syslog can branch off. A
	// stderr redirected to a file gets raw writes (audit.Destination).
	tee := syslog.NewTee(audit.Destination(stderr))
	logger, sink := jsonLogger(tee)
	defer sink.Close()
	stderr = sink
	cfg, err := config.Load(*path, env)
	if err != nil {
		printErrors(stderr, *path, err)
		return 1
	}
	reload := make(chan struct{}, 1)
	trigger := func() {
		select {
		case reload <- struct{}{}:
		default: // a reload is already pending
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				trigger()
			}
		}
	}()
	go watchFile(ctx, *path, time.Second, trigger)
	// Run compiles each config it is given (at start and on reload) and
	// refuses a broken one.
	load := func() (*config.Config, error) { return config.Load(*path, env) }
	if err := server.Run(ctx, cfg, server.Options{Logger: logger, LogSink: sink, LogTee: tee, Reload: reload, Load: load}); err != nil {
		var one *config.Error
		var many config.Errors
		if errors.As(err, &one) || errors.As(err, &many) {
			printErrors(stderr, cfg.File, err)
		} else {
			fmt.Fprintln(stderr, "rampart:", err)
		}
		return 1
	}
	return 0
}

// jsonLogger returns the logger of serve and demo: JSON lines (access lines,
// audit events, operational messages) for jq and log shippers. All lines go
// through one group-commit sink on w: few write(2) calls under load, whole
// lines only. Closing the sink flushes what is pending; write anything else
// meant for w to the sink too, so lines never interleave.
func jsonLogger(w io.Writer) (*slog.Logger, *audit.Sink) {
	sink := audit.NewSink(w)
	return slog.New(slog.NewJSONHandler(sink, nil)), sink
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// watchFile calls changed when the file at path changes (another file, as
// when Kubernetes swaps a ConfigMap's ..data symlink, or a new size or
// modification time) and then stays unchanged for one more interval
// (debounce: editors and ConfigMap updates write in several steps). Polling
// keeps the dependency list short and works on every filesystem, symlink
// swaps included.
func watchFile(ctx context.Context, path string, every time.Duration, changed func()) {
	// os.Stat follows the symlinks: a swap yields another file (inode), even
	// when the new one has the same size and time as the old.
	last, _ := os.Stat(path)
	pending := false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, _ := os.Stat(path)
		switch {
		case !sameVersion(last, fi):
			last, pending = fi, true
		case pending && fi != nil:
			pending = false
			changed()
		}
	}
}

// sameVersion reports whether two stats (nil: the file was missing) show
// the same file with the same content size and modification time.
func sameVersion(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}
