package webhook

import (
	"net/url"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// Config is one webhook under alerts.webhooks.
type Config struct {
	// Name identifies the webhook in metrics (sink="webhook:NAME") and logs;
	// unique among the webhooks.
	Name string `yaml:"name" conf:"required"`
	// URL receives a JSON POST per alert: https://, or http:// to localhost
	// and loopback addresses (other http:// hosts only with allow_insecure).
	// A Slack incoming-webhook URL works as is. The URL may carry a token
	// (Slack's do): Rampart logs only its scheme and host, never its path or
	// query.
	URL string `yaml:"url" conf:"required"`
	// Secret, when set, signs each delivery: the X-Rampart-Signature header
	// carries t=UNIX_TIME,v1=HEX(HMAC-SHA-256(secret, "UNIX_TIME.BODY")).
	// At least 32 bytes, not a placeholder (docs/alerts.md shows how to
	// verify).
	Secret string `yaml:"secret" conf:"secret"`
	// AllowInsecure permits http:// to a host that is not loopback: alerts
	// (and the signature) then cross the network in clear text.
	AllowInsecure bool `yaml:"allow_insecure"`
	// Timeout bounds one delivery attempt (connect, send, answer headers).
	Timeout time.Duration `yaml:"timeout" default:"5s" conf:"min=100ms,max=1m"`
	// MaxAttempts bounds the attempts per alert: network errors, 5xx and
	// 429 answers are retried with exponential backoff and jitter (honouring
	// Retry-After up to a minute); other answers are final.
	MaxAttempts int `yaml:"max_attempts" default:"5" conf:"min=1,max=20"`
	// Queue is how many alerts may wait for this webhook; past it new
	// alerts are dropped (and counted in rampart_alert_dropped_total).
	Queue int `yaml:"queue" default:"1000" conf:"min=1,max=100000"`
}

// Validate checks the URL (never echoing it: it may hold a token).
func (c *Config) Validate() []error {
	if c.URL == "" {
		return nil // required: reported by the loader
	}
	if prob := urlProblem(c.URL, c.AllowInsecure); prob != "" {
		return []error{conf.Errorf("url", "%s", prob)}
	}
	return nil
}

// urlProblem explains why s cannot be a webhook URL, or "".
func urlProblem(s string, allowInsecure bool) string {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return "must be an absolute https:// URL"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !conf.LoopbackHost(u.Hostname()) && !allowInsecure {
			return "must use https:// (http:// is allowed for localhost and loopback addresses, or elsewhere with allow_insecure: true)"
		}
	default:
		return "must be an absolute https:// URL (http:// only for loopback or with allow_insecure)"
	}
	if u.User != nil {
		return "must not contain credentials (user:password@); use secret to sign deliveries"
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return "must not have a fragment (#...)"
	}
	return ""
}

// Redacted is u's scheme and host: what logs and errors may show of a
// webhook URL (its path and query may be a bearer token).
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}
