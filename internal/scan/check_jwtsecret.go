package scan

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"slices"
	"strings"
)

// weakSecrets is a compact dictionary of HMAC secrets known to sign real
// tokens, compiled by hand from public sources:
//   - the placeholders of documentation sites and libraries: jwt.io's
//     "your-256-bit-secret" (and 384/512), jsonwebtoken's README "shhhhh",
//     express-jwt's "shhhhhhared-secret", express-session's "keyboard cat",
//     Flask-JWT-Extended's "super-secret", tutorials' "secretkey"/"mysecret";
//   - framework and sample-app defaults (VAmPI's "random", "changeme",
//     "change-me", "jwt_secret", "SECRET_KEY");
//   - the most frequent entries of the public weak-JWT-secret word lists
//     (wallarm/jwt-secrets, the example secrets used with hashcat mode 16500
//     and jwt_tool's common list): "secret", "password", "123456", "key"...
//
// It is deliberately small: the point is to catch defaults and placeholders
// left in production, offline and in microseconds, not to crack keys.
var weakSecrets = []string{
	"secret", "Secret", "SECRET", "secret123", "secretkey", "secret_key", "secret-key", "SECRET_KEY", "SecretKey",
	"mysecret", "my_secret", "my-secret", "mysecretkey", "my_secret_key", "my-secret-key", "topsecret",
	"supersecret", "super-secret", "super_secret", "super-secret-key", "supersecretkey", "s3cr3t", "s3cret",
	"your-256-bit-secret", "your-384-bit-secret", "your-512-bit-secret", "your_jwt_secret", "your-jwt-secret",
	"your-secret-key", "your_secret_key", "yoursecret", "jwt", "jwt_secret", "jwt-secret", "jwtsecret", "JWT_SECRET",
	"jwtSecret", "jwt-key", "jwtkey", "token", "tokensecret", "secrettoken", "auth", "authsecret",
	"shhhhh", "shhhhhhared-secret", "keyboard cat", "changeme", "change-me", "changethis", "change_this",
	"changeit", "ChangeMe", "password", "Password", "passw0rd", "P@ssw0rd", "123456", "1234567890", "12345678",
	"qwerty", "admin", "default", "key", "private", "privatekey", "test", "testing", "dev", "development",
	"random", "hello", "abc123", "letmein", "api", "apikey", "app", "appsecret", "app_secret", "flask",
	"django-insecure", "laravel", "rails", "node", "express", "spring", "hashcat", "none", "null", "",
}

// hmacFor returns the hash for an HS* algorithm, or nil.
func hmacFor(alg string) func() hash.Hash {
	switch alg {
	case "HS256":
		return sha256.New
	case "HS384":
		return sha512.New384
	case "HS512":
		return sha512.New
	}
	return nil
}

// weakSecret returns the dictionary entry that verifies j, or false.
func weakSecret(j *jwtParts) (string, bool) {
	h := hmacFor(str(j.header["alg"]))
	if h == nil {
		return "", false
	}
	sig, err := b64.DecodeString(strings.TrimRight(j.signature, "="))
	if err != nil || len(sig) == 0 {
		return "", false
	}
	signing := []byte(j.rawHeader + "." + j.rawClaims)
	for _, sec := range weakSecrets {
		mac := hmac.New(h, []byte(sec))
		mac.Write(signing)
		if hmac.Equal(mac.Sum(nil), sig) {
			return sec, true
		}
	}
	return "", false
}

// checkWeakSecret is AUTH006: zero requests, --token against weakSecrets.
func (s *scanner) checkWeakSecret() {
	switch {
	case s.token == nil:
		s.skipped("AUTH006", "needs a JWT in --token")
		return
	case hmacFor(str(s.token.header["alg"])) == nil:
		s.skipped("AUTH006", fmt.Sprintf("--token is signed with %q, not an HMAC algorithm", str(s.token.header["alg"])))
		return
	}
	s.tested("AUTH006")
	sec, ok := weakSecret(s.token)
	if !ok {
		return
	}
	// Show where the token is accepted, when the scan saw it accepted.
	var ex *exchange
	for _, ep := range s.eps {
		if ep.auth != nil && is2xx(ep.auth) {
			ex = ep.auth
			break
		}
	}
	alg := str(s.token.header["alg"])
	s.found(hit{rule: "AUTH006", ex: ex, key: "token",
		message: fmt.Sprintf("The %s signature of the scan's own JWT checks out with a well-known weak secret (%d characters, from the scan's public dictionary of %d entries). "+
			"With it anyone can sign tokens with any claims: the same claims with sub \"admin\", role \"admin\" and is_admin true would pass. "+
			"Neither the secret nor such a forged JWT is shown.", alg, len(sec), len(weakSecrets)),
		proof: fmt.Sprintf("HMAC-%s of the token's header and claims with a dictionary secret equals its signature (checked offline, no request sent)", strings.TrimPrefix(alg, "HS"))})
}

// add makes a secret found during the scan redacted everywhere.
func (r *redactor) add(secret string) {
	if len(secret) < 4 || slices.Contains(r.secrets, secret) {
		return
	}
	r.secrets = append(r.secrets, secret)
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}
