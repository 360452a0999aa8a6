package detect

import (
	"net/netip"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/ipfilter"
)

// Actions.
const (
	ActionLog   = "log"
	ActionBlock = "block"
)

// Config is the detect: section. Absent means detection is off (operator
// blocks are still enforced); `detect: {}` turns every detector on with the
// defaults below, which are chosen to stay silent on normal traffic
// (docs/detect.md explains each).
type Config struct {
	// NeverBlock lists addresses or CIDR prefixes that are never blocked,
	// by a detector or an operator; their detections are still logged and
	// alerted.
	NeverBlock []string `yaml:"never_block"`
	// BlockStatus is the status of a blocked client's refusals: 403
	// (client-blocked) or 429 (client-suspended), both with Retry-After.
	BlockStatus int `yaml:"block_status" default:"403" conf:"min=403,max=429"`
	// Replica names this gateway in alerts and blocks. Unset means the host
	// name.
	Replica string `yaml:"replica"`
	// MaxTrackedKeys bounds the clients, principals and usernames each
	// detector remembers; past it the least recently seen is forgotten
	// (counted in rampart_detect_evictions_total). Between 1000 and 10000000.
	MaxTrackedKeys int `yaml:"max_tracked_keys" default:"100000" conf:"min=1000,max=10000000"`
	// QueueSize is how many request events wait for the detectors; past it
	// events are dropped and counted (rampart_detect_events_dropped_total),
	// never waited for. Between 1024 and 1048576.
	QueueSize int `yaml:"queue_size" default:"65536" conf:"min=1024,max=1048576"`

	// CredentialStuffing counts failed logins and authentications.
	CredentialStuffing CredentialStuffing `yaml:"credential_stuffing"`
	// Scanning counts requests for paths that are not routes.
	Scanning Scanning `yaml:"scanning"`
	// TokenSharing counts the client addresses of each principal.
	TokenSharing TokenSharing `yaml:"token_sharing"`
	// Volume compares each client's and principal's request rate with its
	// own recent baseline.
	Volume Volume `yaml:"volume"`
	// ContractViolations counts refusals for requests that break the API's
	// contract (OpenAPI, deny routes, ownership, WAF).
	ContractViolations ContractViolations `yaml:"contract_violations"`
}

// CredentialStuffing: failed authentications (the gateway's own 400/401
// refusals of a presented credential, lockout refusals) and failed logins
// (the upstream's 401/403 on a route with login:).
type CredentialStuffing struct {
	// Enabled turns the detector off when false.
	Enabled bool `yaml:"enabled" default:"true"`
	// Action is log (alert only) or block (alert, and refuse the subject
	// for block_for).
	Action string `yaml:"action" default:"block" conf:"oneof=log|block"`
	// BlockFor is how long a block lasts, and the quiet period between two
	// alerts about one subject; between 1s and 7 days.
	BlockFor time.Duration `yaml:"block_for" default:"15m" conf:"min=1s,max=168h"`
	// Failures from one client within window fire the detector; between 2
	// and 10000.
	Failures int `yaml:"failures" default:"20" conf:"min=2,max=10000"`
	// Window is how far back failures count; between 1s and 24h.
	Window time.Duration `yaml:"window" default:"1m" conf:"min=1s,max=24h"`
	// DistinctUsernames failed by one client within usernames_window fire it
	// too (password spraying); between 2 and 10000.
	DistinctUsernames int `yaml:"distinct_usernames" default:"10" conf:"min=2,max=10000"`
	// UsernamesWindow is how far back distinct usernames count; between 1s
	// and 24h.
	UsernamesWindow time.Duration `yaml:"usernames_window" default:"5m" conf:"min=1s,max=24h"`
	// ClientsPerUsername: one username failing from this many client
	// addresses within clients_window (a distributed attack on one account);
	// between 2 and 10000. Its subject is the username, so its action is
	// username_action.
	ClientsPerUsername int `yaml:"clients_per_username" default:"10" conf:"min=2,max=10000"`
	// ClientsWindow is how far back the clients of one username count;
	// between 1s and 24h.
	ClientsWindow time.Duration `yaml:"clients_window" default:"10m" conf:"min=1s,max=24h"`
	// UsernameAction is log: blocking a username would lock its owner out,
	// which is what the attacker may want. block refuses the principal of
	// that name after authentication.
	UsernameAction string `yaml:"username_action" default:"log" conf:"oneof=log|block"`
}

// Scanning: 400, 404 and 405 answers to requests no route took.
type Scanning struct {
	// Enabled turns the detector off when false.
	Enabled bool `yaml:"enabled" default:"true"`
	// Action is log (alert only) or block (alert, and refuse the subject
	// for block_for).
	Action string `yaml:"action" default:"block" conf:"oneof=log|block"`
	// BlockFor is how long a block lasts, and the quiet period between two
	// alerts about one subject; between 1s and 7 days.
	BlockFor time.Duration `yaml:"block_for" default:"15m" conf:"min=1s,max=168h"`
	// Misses from one client within window fire it; between 2 and 100000.
	Misses int `yaml:"misses" default:"30" conf:"min=2,max=100000"`
	// Window is how far back misses count; between 1s and 24h.
	Window time.Duration `yaml:"window" default:"1m" conf:"min=1s,max=24h"`
	// SensitiveWeight is what a miss on a well-known sensitive path (/.env,
	// /.git/, /wp-admin, ...; docs/detect.md lists them) counts for;
	// between 1 and 100.
	SensitiveWeight int `yaml:"sensitive_weight" default:"5" conf:"min=1,max=100"`
}

// TokenSharing: one principal seen from many client addresses.
type TokenSharing struct {
	// Enabled turns the detector off when false.
	Enabled bool `yaml:"enabled" default:"true"`
	// Action is log (alert only) or block (alert, and refuse the subject
	// for block_for).
	Action string `yaml:"action" default:"log" conf:"oneof=log|block"`
	// BlockFor is how long a block lasts, and the quiet period between two
	// alerts about one subject; between 1s and 7 days.
	BlockFor time.Duration `yaml:"block_for" default:"1h" conf:"min=1s,max=168h"`
	// Addresses: distinct client addresses (IPv6 by /64) of one principal
	// within window that fire it; between 2 and 10000.
	Addresses int `yaml:"addresses" default:"20" conf:"min=2,max=10000"`
	// Window is how far back addresses count; between 1s and 24h.
	Window time.Duration `yaml:"window" default:"10m" conf:"min=1s,max=24h"`
}

// Volume: requests per interval of a client or principal against an
// exponentially weighted moving average (EWMA) of its own past intervals.
// It fires when an interval's count exceeds max(floor, factor × baseline);
// until warm_up has passed since a key was first seen, the limit is
// factor × floor.
type Volume struct {
	// Enabled turns the detector off when false.
	Enabled bool `yaml:"enabled" default:"true"`
	// Action is log (alert only) or block (alert, and refuse the subject
	// for block_for).
	Action string `yaml:"action" default:"log" conf:"oneof=log|block"`
	// BlockFor is how long a block lasts, and the quiet period between two
	// alerts about one subject; between 1s and 7 days.
	BlockFor time.Duration `yaml:"block_for" default:"5m" conf:"min=1s,max=168h"`
	// Interval is the bucket requests are counted in; between 1s and 1h.
	Interval time.Duration `yaml:"interval" default:"10s" conf:"min=1s,max=1h"`
	// Factor: how many times its baseline an interval must reach; between 2
	// and 1000.
	Factor int `yaml:"factor" default:"10" conf:"min=2,max=1000"`
	// Floor: the fewest requests per interval that can fire it; at least 1.
	Floor int `yaml:"floor" default:"300" conf:"min=1,max=100000000"`
	// WarmUp is how long a new key is watched before its baseline is
	// trusted.
	WarmUp time.Duration `yaml:"warm_up" default:"5m" conf:"min=0s,max=24h"`
}

// ContractViolations: OpenAPI refusals (request-invalid: unknown fields are
// mass-assignment attempts; undocumented operations), deny-route hits,
// ownership refusals and WAF refusals (request-blocked) from one client.
type ContractViolations struct {
	// Enabled turns the detector off when false.
	Enabled bool `yaml:"enabled" default:"true"`
	// Action is log (alert only) or block (alert, and refuse the subject
	// for block_for).
	Action string `yaml:"action" default:"block" conf:"oneof=log|block"`
	// BlockFor is how long a block lasts, and the quiet period between two
	// alerts about one subject; between 1s and 7 days.
	BlockFor time.Duration `yaml:"block_for" default:"15m" conf:"min=1s,max=168h"`
	// Violations from one client within window fire it; between 2 and
	// 100000.
	Violations int `yaml:"violations" default:"30" conf:"min=2,max=100000"`
	// Window is how far back violations count; between 1s and 24h.
	Window time.Duration `yaml:"window" default:"1m" conf:"min=1s,max=24h"`
}

// Validate checks never_block and block_status.
func (c *Config) Validate() []error {
	var errs []error
	for i, s := range c.NeverBlock {
		if _, err := parsePrefix(s); err != nil {
			errs = append(errs, &conf.FieldError{Field: "never_block", Index: i, Entry: "entry", Got: true,
				Msg: err.Error()})
		}
	}
	if c.BlockStatus != 403 && c.BlockStatus != 429 {
		errs = append(errs, conf.Errorf("block_status", "must be 403 or 429"))
	}
	return errs
}

// parsePrefix reads an address or a canonical CIDR prefix: the rule of
// every address entry in the config (ipfilter.ParseEntry).
func parsePrefix(s string) (netip.Prefix, error) { return ipfilter.ParseEntry(strings.TrimSpace(s)) }

// Login is a route's login: key: the route is the application's login
// endpoint, whose 401/403 answers count as failed logins of the username
// read from the request body.
type Login struct {
	// UsernameField is the top-level field of the JSON or form body that
	// holds the username; required. Only this field is read, and at most
	// 128 bytes of it.
	UsernameField string `yaml:"username_field" conf:"required"`
}

// Validate refuses fields that name a secret: the username is kept in
// memory and put in alerts.
func (l *Login) Validate() []error {
	f := strings.ToLower(l.UsernameField)
	for _, w := range []string{"pass", "secret", "token", "pin", "otp"} {
		if strings.Contains(f, w) {
			return []error{conf.Badf("username_field", "looks like a secret; name the username field (it is kept in memory and alerts)")}
		}
	}
	return nil
}
