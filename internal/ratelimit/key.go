package ratelimit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// KeySpec says what a policy counts requests by: one or more parts joined
// with "+" in config ("principal+route").
type KeySpec struct {
	text  string
	parts []keyPart
	// apiKey holds the names of the authenticators of type api_key.
	apiKey map[string]bool
}

type partKind uint8

const (
	partClientIP partKind = iota + 1
	partPrincipal
	partAPIKey
	partRoute
	partHeader
	partClaim
)

type keyPart struct {
	kind partKind
	name string // canonical header name, or claim name
}

// ParseKey reads a key spec: client_ip, principal, api_key, route,
// header:NAME, claim:NAME, or several joined with "+". apiKeyAuthenticators
// names the authenticators whose principals are API keys (type api_key in
// config); the api_key part counts by those principals only. Errors do not
// quote spec (the config loader adds it, unless it came from the
// environment).
func ParseKey(spec string, apiKeyAuthenticators []string) (KeySpec, error) {
	k := KeySpec{text: spec, apiKey: map[string]bool{}}
	for _, a := range apiKeyAuthenticators {
		k.apiKey[a] = true
	}
	seen := map[keyPart]bool{}
	for _, s := range strings.Split(spec, "+") {
		var p keyPart
		switch {
		case s == "client_ip":
			p.kind = partClientIP
		case s == "principal":
			p.kind = partPrincipal
		case s == "api_key":
			p.kind = partAPIKey
		case s == "route":
			p.kind = partRoute
		case strings.HasPrefix(s, "header:"):
			name := strings.TrimPrefix(s, "header:")
			if !validHeaderName(name) {
				return KeySpec{}, errors.New("header:NAME needs a valid header name")
			}
			p = keyPart{kind: partHeader, name: http.CanonicalHeaderKey(name)}
		case strings.HasPrefix(s, "claim:"):
			name := strings.TrimPrefix(s, "claim:")
			if name == "" || strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
				return KeySpec{}, errors.New("claim:NAME needs a claim name without spaces")
			}
			p = keyPart{kind: partClaim, name: name}
		default:
			const valid = "must be client_ip, principal, api_key, route, header:NAME or claim:NAME, or several joined with +"
			if sug := conf.Suggest(s, []string{"client_ip", "principal", "api_key", "route"}); sug != "" {
				return KeySpec{}, fmt.Errorf("%s (did you mean %q?)", valid, sug)
			}
			return KeySpec{}, errors.New(valid)
		}
		if seen[p] {
			return KeySpec{}, errors.New("lists a part twice")
		}
		seen[p] = true
		k.parts = append(k.parts, p)
	}
	return k, nil
}

// String returns the spec as written.
func (k KeySpec) String() string { return k.text }

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// keyLen is the number of hash bytes kept: 128 bits of SHA-256, so keys are
// short and fixed-size whatever the request sent, and no one can make two
// callers share a counter by crafting values (a second preimage is out of
// reach).
const keyLen = 16

// errNoKey is returned by appendKey when a request has no Info (the gateway
// always sets one); callers refuse such a request rather than guess.
var errNoKey = errors.New("ratelimit: request has no pipeline.Info")

// Key returns the key of r under this spec, prefixed with prefix (the policy
// name): prefix + ":" + 22 characters of base64url. Every part is hashed, so
// a 16 KiB header costs the same memory as a short one.
//
// A part the request does not have — no principal (anonymous), a principal
// that did not come from an API key authenticator for api_key, a missing
// header or claim — is replaced by the client address, marked so that it
// cannot collide with a real value. Anonymous callers are therefore limited
// one by one, instead of sharing one bucket that a single client could drain
// for everybody, or escaping the limit.
func (k KeySpec) Key(r *http.Request, prefix string) (string, error) {
	info := pipeline.InfoFrom(r.Context())
	if info == nil {
		return "", errNoKey
	}
	var stack [512]byte
	b := stack[:0]
	for _, p := range k.parts {
		b = append(b, byte(p.kind))
		switch p.kind {
		case partClientIP:
			b = appendField(b, clientAddr(r, info))
		case partRoute:
			b = appendField(b, info.Route)
		case partPrincipal:
			if pr := info.Principal; pr != nil && pr.Subject != "" {
				b = append(b, 1)
				b = appendField(b, pr.Authenticator)
				b = appendField(b, pr.Subject)
			} else {
				b = appendAbsent(b, r, info)
			}
		case partAPIKey:
			if pr := info.Principal; pr != nil && pr.Subject != "" && k.apiKey[pr.Authenticator] {
				b = append(b, 1)
				b = appendField(b, pr.Authenticator)
				b = appendField(b, pr.Subject)
			} else {
				b = appendAbsent(b, r, info)
			}
		case partHeader:
			vs := r.Header[p.name]
			if len(vs) == 0 {
				b = appendAbsent(b, r, info)
				break
			}
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(vs)))
			for _, v := range vs {
				b = appendField(b, v)
			}
		case partClaim:
			v, ok := claimString(info.Principal, p.name)
			if !ok {
				b = appendAbsent(b, r, info)
				break
			}
			b = append(b, 1)
			b = appendField(b, v)
		}
	}
	sum := sha256.Sum256(b)
	out := stack[:0]
	out = append(out, prefix...)
	out = append(out, ':')
	out = base64.RawURLEncoding.AppendEncode(out, sum[:keyLen])
	return string(out), nil
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendAbsent(b []byte, r *http.Request, info *pipeline.Info) []byte {
	b = append(b, 0)
	return appendField(b, clientAddr(r, info))
}

// clientAddr is the real client as the gateway resolved it (trusted proxies
// only). Without one it falls back to the TCP peer — never to a header.
func clientAddr(r *http.Request, info *pipeline.Info) string {
	if info.ClientIP != "" {
		return info.ClientIP
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func claimString(p *pipeline.Principal, name string) (string, bool) {
	if p == nil {
		return "", false
	}
	v, ok := p.Claims[name]
	if !ok || v == nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int:
		return strconv.Itoa(v), true
	case bool:
		return strconv.FormatBool(v), true
	}
	j, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(j), true
}
