package scan

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// checkTransport runs TLS001-TLS005 (TLS004 is judged with the headers).
func (s *scanner) checkTransport(ctx context.Context, base *exchange) {
	if s.target.Scheme == "http" {
		for _, r := range []string{"TLS002", "TLS003", "TLS004", "TLS005"} {
			s.skipped(r, "the target is plain HTTP")
		}
		s.tested("TLS001")
		s.plainHTTP(s.firstHTTP, "The API answers over plain HTTP without redirecting to HTTPS.")
		return
	}
	s.tested("TLS001")
	if s.upgradedFrom == nil {
		s.probePlainPort(ctx)
	}
	st, err := s.c.handshake(ctx, 0, 0)
	if err != nil {
		for _, r := range []string{"TLS002", "TLS003", "TLS005"} {
			s.skipped(r, "TLS handshake failed: "+err.Error())
		}
		return
	}
	s.tested("TLS005")
	if err := verifyChain(*st, s.opts.RootCAs, time.Now()); err != nil {
		leaf := st.PeerCertificates[0]
		proof := fmt.Sprintf("%v (subject %q, issuer %q, valid %s to %s)", err, leaf.Subject.String(), leaf.Issuer.String(),
			leaf.NotBefore.UTC().Format("2006-01-02"), leaf.NotAfter.UTC().Format("2006-01-02"))
		s.foundTLS("TLS005", "ClientHello for "+s.target.Hostname()+", TLS 1.2-1.3",
			"The certificate does not verify for "+s.target.Hostname()+"; the scan continued pinned to it.", proof)
	}
	if s.out(ctx) {
		s.skipped("TLS003", "request budget exhausted")
		s.skipped("TLS002", "request budget exhausted")
		return
	}
	s.tested("TLS003")
	if _, err := s.c.handshake(ctx, tls.VersionTLS13, tls.VersionTLS13); err != nil && ctx.Err() == nil && !errors.Is(err, errBudget) {
		s.foundTLS("TLS003", "ClientHello offering only TLS 1.3",
			"The server does not offer TLS 1.3; it negotiated "+tls.VersionName(st.Version)+" by default.",
			"a handshake requiring TLS 1.3 failed: "+err.Error())
	}
	if s.out(ctx) {
		s.skipped("TLS002", "request budget exhausted")
		return
	}
	s.tested("TLS002")
	if legacy, err := s.c.handshake(ctx, tls.VersionTLS10, tls.VersionTLS11); err == nil {
		s.foundTLS("TLS002", "ClientHello offering only TLS 1.0 and 1.1",
			"The server accepts "+tls.VersionName(legacy.Version)+".",
			fmt.Sprintf("negotiated %s with %s", tls.VersionName(legacy.Version), tls.CipherSuiteName(legacy.CipherSuite)))
	}
}

// plainHTTP reports an http:// answer that is not a redirect to https://.
func (s *scanner) plainHTTP(ex *exchange, message string) {
	if ex == nil {
		return
	}
	if loc := ex.header.Get("Location"); ex.status >= 300 && ex.status < 400 && strings.HasPrefix(strings.ToLower(loc), "https://") {
		return
	}
	h := hit{rule: "TLS001", ex: ex, key: "plain", message: message,
		proof: fmt.Sprintf("%s %s answered %d over plain HTTP, with no redirect to https://", ex.req.method, s.red.url(ex.url), ex.status)}
	if host := hostOf(ex.url); isLoopback(host) {
		h.override, h.severity = true, Info
		h.message += " The target is a loopback address, so the traffic does not leave this machine (info)."
	}
	s.found(h)
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// probePlainPort asks http://host/ (port 80) when the HTTPS target is on
// the default port: serving the API there without a redirect is TLS001.
func (s *scanner) probePlainPort(ctx context.Context) {
	if p := s.target.Port(); p != "" && p != "443" {
		s.partial("TLS001", "HTTPS on a non-default port: the matching plain-HTTP port is unknown, not probed")
		return
	}
	origin := &url.URL{Scheme: "http", Host: s.target.Hostname()}
	if strings.Contains(origin.Host, ":") {
		origin.Host = "[" + origin.Host + "]"
	}
	ex := s.send(ctx, &request{method: http.MethodGet, target: s.rootTarget(), kind: kindProbe, origin: origin})
	if ex == nil {
		return // nothing listens on port 80: fine
	}
	s.plainHTTP(ex, "The HTTPS API is also served over plain HTTP on port 80 without a redirect.")
}
