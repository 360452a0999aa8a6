// Package sinks opens where alerts go, from the alerts: section: the audit
// log (always), each webhook, and syslog (which receives every audit event,
// alerts included, through the log stream's tee). The result is one
// alert.Notifier for the detectors.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
	"github.com/rampart-gw/rampart/internal/alert/syslog"
	"github.com/rampart-gw/rampart/internal/alert/webhook"
	"github.com/rampart-gw/rampart/internal/config/conf"
)

// Config is the alerts: section. Alerts always go to the audit log; these
// add destinations. The section is read at start: a change needs a restart
// (a reload says so), so queued alerts and the syslog connection survive
// reloads.
type Config struct {
	// Webhooks each receive every alert as a signed JSON POST
	// (docs/alerts.md); Slack incoming-webhook URLs work as is.
	Webhooks []webhook.Config `yaml:"webhooks"`
	// Syslog sends every audit event (refusals, lockouts, admin changes,
	// alerts) as an RFC 5424 message to a SIEM over TLS or TCP.
	Syslog *syslog.Config `yaml:"syslog"`
	// DrainTimeout bounds how long shutdown waits for queued alerts and
	// syslog messages; what is still queued then is dropped (counted).
	DrainTimeout time.Duration `yaml:"drain_timeout" default:"5s" conf:"min=0s,max=1m"`
}

// Validate checks that webhook names are unique (they label metrics).
func (c *Config) Validate() []error {
	var errs []error
	seen := map[string]bool{}
	for i, w := range c.Webhooks {
		if w.Name != "" && seen[w.Name] {
			errs = append(errs, &conf.FieldError{Field: "webhooks", Index: i, Msg: fmt.Sprintf("webhook name %q is used twice; names label metrics and logs", w.Name)})
		}
		seen[w.Name] = true
	}
	return errs
}

// Same reports whether a and b configure the same destinations (nil is no
// section).
func Same(a, b *Config) bool { return reflect.DeepEqual(a, b) }

// Deps are what Open connects the sinks to.
type Deps struct {
	Logger *slog.Logger
	// Audit writes each alert as an audit event (audit.Logger.Notifier()).
	Audit alert.Notifier
	// Tee is the log stream's tee; required when syslog is configured.
	Tee *syslog.Tee
	// Flush, when set, pushes log lines still pending above the tee through
	// it (audit.Sink.Flush), so Close sends the last audit events too.
	Flush func()
	// Counter counts webhook deliveries (metrics.Metrics); may be nil.
	Counter webhook.Counter
}

// Sinks are the open destinations.
type Sinks struct {
	notifier alert.Multi
	webhooks []*webhook.Sender
	syslog   *syslog.Client
	deps     Deps
	drain    time.Duration
}

var _ alert.Notifier = (*Sinks)(nil)

// Open starts the destinations of cfg (nil: the audit log only).
func Open(cfg *Config, deps Deps) (*Sinks, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sinks{deps: deps, drain: 5 * time.Second}
	if deps.Audit != nil {
		s.notifier = append(s.notifier, deps.Audit)
	}
	if cfg == nil {
		return s, nil
	}
	s.drain = cfg.DrainTimeout
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("alerts: %w", errors.Join(errs...))
	}
	for _, wc := range cfg.Webhooks {
		w, err := webhook.New(wc, deps.Logger, deps.Counter)
		if err != nil {
			s.Close(context.Background())
			return nil, fmt.Errorf("alerts: %w", err)
		}
		s.webhooks = append(s.webhooks, w)
		s.notifier = append(s.notifier, w)
	}
	if cfg.Syslog != nil {
		if deps.Tee == nil {
			s.Close(context.Background())
			return nil, errors.New("alerts: syslog needs the log stream (run through rampart serve)")
		}
		c, err := syslog.New(*cfg.Syslog, deps.Logger)
		if err != nil {
			s.Close(context.Background())
			return nil, fmt.Errorf("alerts: %w", err)
		}
		s.syslog = c
		deps.Tee.Forward(c)
	}
	return s, nil
}

// Notify hands a to every destination; none waits on the network.
func (s *Sinks) Notify(a alert.Alert) { s.notifier.Notify(a) }

// Syslog is the syslog client, nil when none is configured.
func (s *Sinks) Syslog() *syslog.Client { return s.syslog }

// Webhooks are the webhook senders, in config order.
func (s *Sinks) Webhooks() []*webhook.Sender { return s.webhooks }

// Close drains the destinations for up to the drain timeout (all at once,
// so the total wait is bounded by one timeout), then stops them.
func (s *Sinks) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.drain)
	defer cancel()
	errs := make(chan error, len(s.webhooks)+1)
	for _, w := range s.webhooks {
		go func() { errs <- w.Close(ctx) }()
	}
	go func() {
		if s.syslog == nil {
			errs <- nil
			return
		}
		if s.deps.Flush != nil {
			s.deps.Flush()
		}
		s.deps.Tee.Forward(nil)
		errs <- s.syslog.Close(ctx)
	}()
	var all []error
	for range len(s.webhooks) + 1 {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	if len(all) > 0 {
		return fmt.Errorf("alerts: undelivered at shutdown: %w", errors.Join(all...))
	}
	return nil
}
