package syslog

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// Config is alerts.syslog: where every audit event goes as an RFC 5424
// message.
type Config struct {
	// Address is the collector: tls://HOST:PORT (RFC 5425, usually port
	// 6514) or tcp://HOST:PORT (usually 514; plain TCP only to a loopback
	// host unless allow_insecure). Messages are octet-counted (RFC 6587).
	Address string `yaml:"address" conf:"required"`
	// AllowInsecure permits tcp:// to a host that is not loopback: audit
	// events (client addresses, usernames) then cross the network in clear
	// text.
	AllowInsecure bool `yaml:"allow_insecure"`
	// CAFile is a PEM bundle of the CAs that sign the collector's
	// certificate (tls:// only); unset means the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile is a client certificate (PEM) for collectors that
	// authenticate their senders (tls:// only; with key_file).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the client certificate's private key (PEM; with
	// cert_file).
	KeyFile string `yaml:"key_file"`
	// ServerName is the name the collector's certificate must carry; unset
	// means the address's host. Verification is never turned off.
	ServerName string `yaml:"server_name"`
	// Facility of every message. authpriv (10) by default: audit events are
	// security messages that name clients and users, and authpriv is the
	// facility syslog daemons keep out of world-readable files.
	Facility string `yaml:"facility" default:"authpriv" conf:"oneof=auth|authpriv|security|audit|daemon|user|local0|local1|local2|local3|local4|local5|local6|local7"`
	// AppName is the APP-NAME field (printable ASCII, at most 48 bytes).
	AppName string `yaml:"app_name" default:"rampart"`
	// Hostname is the HOSTNAME field; unset means the machine's host name.
	Hostname string `yaml:"hostname"`
	// IncludeAccess sends the access lines (one per request) too, with
	// severity info and MSGID access. Off by default: audit events only.
	IncludeAccess bool `yaml:"include_access"`
	// Queue bounds the bytes of messages waiting for the collector (while it
	// is slow or unreachable); past it new messages are dropped and counted
	// (rampart_syslog_dropped_total). Memory use is at most twice this.
	Queue conf.Size `yaml:"queue" default:"4MiB" conf:"min=64KiB,max=256MiB"`
	// DialTimeout bounds connecting (and the TLS handshake).
	DialTimeout time.Duration `yaml:"dial_timeout" default:"5s" conf:"min=100ms,max=1m"`
	// WriteTimeout bounds one write to the collector; past it the
	// connection is dropped and made again.
	WriteTimeout time.Duration `yaml:"write_timeout" default:"5s" conf:"min=100ms,max=1m"`
}

// facilities are the RFC 5424 facility codes by name ("security" is an
// alias of auth, as in rsyslog).
var facilities = map[string]int{"user": 1, "daemon": 3, "auth": 4, "security": 4, "authpriv": 10, "audit": 13,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

// Validate checks the address and how the TLS settings fit it.
func (c *Config) Validate() []error {
	var errs []error
	if c.Address != "" {
		if _, _, prob := parseAddress(c.Address, c.AllowInsecure); prob != "" {
			errs = append(errs, conf.Errorf("address", "%s", prob))
		}
	}
	if !strings.HasPrefix(c.Address, "tls://") {
		for _, k := range []struct{ key, v string }{{"ca_file", c.CAFile}, {"cert_file", c.CertFile}, {"key_file", c.KeyFile}, {"server_name", c.ServerName}} {
			if k.v != "" && c.Address != "" {
				errs = append(errs, conf.Errorf(k.key, "is only for tls:// addresses"))
			}
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("cert_file and key_file go together: set both or neither"))
	}
	if c.AppName != "" && !validField(c.AppName, 48) {
		errs = append(errs, conf.Badf("app_name", "must be 1 to 48 printable ASCII characters without spaces"))
	}
	if c.Hostname != "" && !validField(c.Hostname, 255) {
		errs = append(errs, conf.Badf("hostname", "must be 1 to 255 printable ASCII characters without spaces"))
	}
	return errs
}

// parseAddress splits tcp://HOST:PORT or tls://HOST:PORT.
func parseAddress(s string, allowInsecure bool) (tlsOn bool, hostport, problem string) {
	const want = "must be tls://HOST:PORT or tcp://HOST:PORT"
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "tls") || u.Opaque != "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return false, "", want
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return false, "", want + " (with a host and a port)"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return false, "", want + " (with a port between 1 and 65535)"
	}
	if u.Scheme == "tcp" && !allowInsecure && !conf.LoopbackHost(host) {
		return false, "", "tcp:// sends audit events in clear text: use tls://, a loopback host, or allow_insecure: true"
	}
	return u.Scheme == "tls", u.Host, ""
}

// validField reports whether s fits an RFC 5424 header field: 1 to max
// bytes of PRINTUSASCII (33-126).
func validField(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}
