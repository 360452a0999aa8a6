// Package ipfilter refuses requests by client address: allow and deny lists
// of IPv4 and IPv6 CIDR prefixes, written inline in the config or kept in
// files that are re-read when they change.
//
// Decisions are about pipeline.Info.Client: the client the gateway resolved
// from the peer address and, only when the peer is one of
// server.trusted_proxies, X-Forwarded-For (internal/clientip). This package
// never reads a header: a client cannot name its own address.
//
// Semantics, for one ip_filter: block:
//
//   - deny wins: a client in deny (or deny_file) is refused even if it is
//     allowed too;
//   - with allow or allow_file set, only clients they list pass. An empty
//     allow file then admits nobody: an allowlist fails closed, it is never
//     turned off by a file that lost its lines;
//   - without either, every client not denied passes;
//   - a request whose client address is unknown (the peer address did not
//     parse) is refused.
//
// The top-level ip_filter applies to every request, before routing, so a
// refused client learns nothing about routes; a route's own ip_filter
// applies after it, as the route's first step (before CORS, so a refused
// client gets no preflight answer either). A refusal is 403 problem+json
// of type "ip-denied" with a generic detail that never echoes a list.
//
// Entries are validated at load: a bad inline entry is reported at its
// position in the config, a bad line of a list file at file:line:col of
// that file. A prefix with bits set after its length (10.0.0.1/8) is
// refused with the canonical form in the message, never widened silently.
//
// Lists are compiled into sorted, merged ranges (List): a lookup is a binary
// search with no allocation. A list file is polled (size and modification
// time; a content hash skips rewrites that change nothing); a change that
// holds for one interval is re-read and swapped in atomically, so requests
// never wait on a lock. A file that became unreadable or invalid keeps the
// previous list: the problem is logged once per change and counted
// (Files' Failed callback, rampart_ip_list_reload_errors_total).
//
//	files := ipfilter.NewFiles(ipfilter.FilesOptions{Logger: logger})
//	f, err := ipfilter.New(ipfilter.Config{Deny: []string{"203.0.113.0/24"}, AllowFile: "office.txt"}, files)
//	files.Start()
//	defer files.Close()
//	mw := f.Middleware(observer)
package ipfilter

import (
	"errors"
	"net/http"
	"net/netip"
	"path/filepath"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Config is an ip_filter: block, at the top level (every request) or on a
// route (that route's requests; both apply).
type Config struct {
	// Allow lists the client addresses and CIDR prefixes (IPv4 or IPv6; a
	// bare address is one address) that may send requests. When allow or
	// allow_file is set, every client they do not list is refused.
	Allow []string `yaml:"allow" conf:"nonempty"`
	// Deny lists the client addresses and CIDR prefixes that are refused,
	// even when allow lists them too.
	Deny []string `yaml:"deny" conf:"nonempty"`
	// AllowFile is a file of allowed addresses and prefixes, one per line
	// ("#" starts a comment), relative to the config file's directory. It
	// is re-read when it changes; a change that does not parse keeps the
	// previous list. Setting it turns the allowlist on, even while the file
	// is empty.
	AllowFile string `yaml:"allow_file" conf:"nonempty"`
	// DenyFile is a file of denied addresses and prefixes, in the format of
	// allow_file, re-read the same way.
	DenyFile string `yaml:"deny_file" conf:"nonempty"`

	// BaseDir resolves relative file paths. "" means the working directory.
	BaseDir string `yaml:"-"`
}

// Validate checks every inline entry.
func (c Config) Validate() []error {
	var errs []error
	for _, l := range []struct {
		key     string
		entries []string
	}{{"allow", c.Allow}, {"deny", c.Deny}} {
		for i, s := range l.entries {
			if _, err := ParseEntry(s); err != nil {
				errs = append(errs, &conf.FieldError{Field: l.key, Index: i, Msg: err.Error(), Got: true, Entry: "entry"})
			}
		}
	}
	return errs
}

// TypeDenied is the problem type of a refusal.
const TypeDenied = "ip-denied"

// Denied is the refusal of a client a filter does not admit. Its detail is
// the same whatever the reason, so it tells the client nothing about the
// lists.
func Denied() *pipeline.Rejection {
	return pipeline.Reject(http.StatusForbidden, TypeDenied, "Requests from this client address are not allowed.")
}

// Filter decides by client address. It is safe for concurrent use; lists
// from files change under it atomically.
type Filter struct {
	allow, deny         *List
	allowFile, denyFile *file // nil when not configured
	allowlist           bool  // allow or allow_file is set
}

// New compiles cfg. List files are read now, through files (which re-reads
// them once started); every bad entry is returned: *conf.FieldError for an
// inline entry or a file that cannot be read, *LineError for a bad line of
// a file.
func New(cfg Config, files *Files) (*Filter, error) {
	errs := cfg.Validate()
	f := &Filter{allowlist: len(cfg.Allow) > 0 || cfg.AllowFile != ""}
	for _, src := range []struct {
		key, path string
		dst       **file
	}{{"allow_file", cfg.AllowFile, &f.allowFile}, {"deny_file", cfg.DenyFile, &f.denyFile}} {
		if src.path == "" {
			continue
		}
		path := src.path
		if !filepath.IsAbs(path) && cfg.BaseDir != "" {
			path = filepath.Join(cfg.BaseDir, path)
		}
		fl, ferrs := files.open(path)
		if len(ferrs) > 0 {
			for _, err := range ferrs {
				var le *LineError
				if !errors.As(err, &le) {
					err = conf.Errorf(src.key, "%v", err)
				}
				errs = append(errs, err)
			}
			continue
		}
		*src.dst = fl
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	f.allow, f.deny = inline(cfg.Allow), inline(cfg.Deny)
	return f, nil
}

// inline compiles inline entries, which Validate found valid.
func inline(entries []string) *List {
	ps := make([]netip.Prefix, 0, len(entries))
	for _, s := range entries {
		if p, err := ParseEntry(s); err == nil {
			ps = append(ps, p)
		}
	}
	return NewList(ps)
}

// Allows reports whether client may send requests.
func (f *Filter) Allows(client netip.Addr) bool {
	if !client.IsValid() {
		return false // unknown client: fail closed
	}
	if f.deny.Contains(client) || f.denyFile != nil && f.denyFile.list.Load().Contains(client) {
		return false
	}
	if !f.allowlist {
		return true
	}
	return f.allow.Contains(client) || f.allowFile != nil && f.allowFile.list.Load().Contains(client)
}

// Middleware refuses requests whose client the filter does not allow, with
// Denied, reported to obs under the step "ipfilter".
func (f *Filter) Middleware(obs pipeline.Observer) pipeline.Middleware {
	return pipeline.Guard(Step, obs, func(r *http.Request) (*http.Request, error) {
		if info := pipeline.InfoFrom(r.Context()); info != nil && f.Allows(info.Client) {
			return r, nil
		}
		return r, Denied()
	})
}

// Step names the filter's refusals for the observer.
const Step = "ipfilter"
