package store

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what a key carries. They keep a key's principal small enough for
// the identity headers (auth.MaxIdentityHeaderBytes) and the cache.
const (
	MaxConsumerLen = 128
	MaxItems       = 64  // scopes, roles
	MaxItemLen     = 128 // one scope or role
	MaxLabels      = 32
	MaxLabelKeyLen = 63
	MaxLabelValLen = 256
)

// ValidateConsumer checks a consumer name: 1–128 bytes of letters, digits
// and . _ @ : + -, starting with a letter or digit. The name becomes the
// principal's subject and the X-Rampart-Subject header, so it is kept to
// characters no log, header or shell gives a second meaning.
func ValidateConsumer(name string) error {
	if name == "" || len(name) > MaxConsumerLen {
		return fmt.Errorf("%w: consumer must have 1 to %d characters", ErrInvalid, MaxConsumerLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._@:+-", rune(c))) {
			return fmt.Errorf("%w: consumer may only contain letters, digits and . _ @ : + - (starting with a letter or digit)", ErrInvalid)
		}
	}
	return nil
}

// ValidateSpec checks spec against the limits above; now is the current
// time (an expiry must be in the future). It returns a copy with nil slices
// and maps replaced by empty ones and duplicate scopes and roles removed.
func ValidateSpec(spec KeySpec, now time.Time) (KeySpec, error) {
	if err := ValidateConsumer(spec.Consumer); err != nil {
		return spec, err
	}
	var err error
	if spec.Scopes, err = items("scope", spec.Scopes, scopeChar); err != nil {
		return spec, err
	}
	if spec.Roles, err = items("role", spec.Roles, roleChar); err != nil {
		return spec, err
	}
	if len(spec.Labels) > MaxLabels {
		return spec, fmt.Errorf("%w: at most %d labels", ErrInvalid, MaxLabels)
	}
	labels := make(map[string]string, len(spec.Labels))
	for k, v := range spec.Labels {
		if err := ValidateLabel(k, v); err != nil {
			return spec, err
		}
		labels[k] = v
	}
	spec.Labels = labels
	if !spec.ExpiresAt.IsZero() {
		spec.ExpiresAt = Timestamp(spec.ExpiresAt)
		if !spec.ExpiresAt.After(now) {
			return spec, fmt.Errorf("%w: expires_at must be in the future", ErrInvalid)
		}
	}
	return spec, nil
}

// ValidateLabel checks one label: a key of 1–63 lower-case letters, digits
// and . _ / - starting with a letter or digit, and a value of at most 256
// bytes of UTF-8 without control characters.
func ValidateLabel(k, v string) error {
	if k == "" || len(k) > MaxLabelKeyLen {
		return fmt.Errorf("%w: label keys must have 1 to %d characters", ErrInvalid, MaxLabelKeyLen)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._/-", rune(c))) {
			return fmt.Errorf("%w: label key %q: only lower-case letters, digits and . _ / - (starting with a letter or digit)", ErrInvalid, k)
		}
	}
	if len(v) > MaxLabelValLen || !utf8.ValidString(v) {
		return fmt.Errorf("%w: label %q: the value must be UTF-8 of at most %d bytes", ErrInvalid, k, MaxLabelValLen)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: label %q: the value contains a control character", ErrInvalid, k)
		}
	}
	return nil
}

// scopeChar is RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
func scopeChar(c byte) bool { return c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e }

// roleChar is a scope character other than the comma, which separates roles
// in X-Rampart-Roles.
func roleChar(c byte) bool { return scopeChar(c) && c != ',' }

func items(what string, in []string, ok func(byte) bool) ([]string, error) {
	if len(in) > MaxItems {
		return nil, fmt.Errorf("%w: at most %d %ss", ErrInvalid, MaxItems, what)
	}
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if s == "" || len(s) > MaxItemLen {
			return nil, fmt.Errorf("%w: each %s must have 1 to %d characters", ErrInvalid, what, MaxItemLen)
		}
		for i := 0; i < len(s); i++ {
			if !ok(s[i]) {
				return nil, fmt.Errorf("%w: %s %q contains a character that is not allowed (spaces, quotes, backslashes, commas, controls)", ErrInvalid, what, s)
			}
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// ParseDuration reads a lifetime or grace period: a Go duration ("36h",
// "90m") or a whole number of days ("90d"). It must be positive unless
// allowZero, and at most ten years.
func ParseDuration(s string, allowZero bool) (time.Duration, error) {
	const max = 10 * 365 * 24 * time.Hour
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 32)
		if err != nil || n > uint64(max/(24*time.Hour)) {
			return 0, fmt.Errorf("%w: %q is not a duration such as 90d or 24h", ErrInvalid, s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%w: %q is not a duration such as 90d or 24h", ErrInvalid, s)
		}
	}
	switch {
	case d < 0 || d == 0 && !allowZero:
		return 0, fmt.Errorf("%w: %q must be positive", ErrInvalid, s)
	case d > max:
		return 0, fmt.Errorf("%w: %q is longer than ten years", ErrInvalid, s)
	}
	return d, nil
}

// SortedLabels returns labels as k=v strings in key order (for display).
func SortedLabels(labels map[string]string) []string {
	out := make([]string, 0, len(labels))
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
