package cli

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"text/template"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/demoapp"
	"github.com/rampart-gw/rampart/internal/server"
)

//go:embed demo.yaml
var demoConfig []byte

var demoIntro = template.Must(template.New("intro").Parse(`
  Rampart demo is running.

  gateway   http://{{.Addr}}      (config: the embedded demo.yaml, shown with: rampart demo --print-config)
  upstream  http://{{.Upstream}}      (an example inventory API, reachable only through the gateway in real life)
  admin     http://{{.Admin}}      (token: {{.Token}})
  dashboard http://{{.Admin}}/dashboard/login#token={{.Token}}
            (open it in a browser: the link logs you in; the token after # never leaves the browser)

  Try these in another terminal:

  # public routes reach the service
  curl -i http://{{.Addr}}/health
  curl -i http://{{.Addr}}/api/items

  # protected routes need a token (two demo tokens, valid 12 hours, signed with the demo's secret)
  WRITER='{{.Writer}}'
  READER='{{.Reader}}'
  curl -i -X POST http://{{.Addr}}/api/items -H 'Content-Type: application/json' -d '{"name":"gear","qty":5}'                           # 401: no token
  curl -i -X POST http://{{.Addr}}/api/items -H "Authorization: Bearer $READER" -H 'Content-Type: application/json' -d '{"name":"gear","qty":5}'  # 403: scope items:write missing
  curl -i -X POST http://{{.Addr}}/api/items -H "Authorization: Bearer $WRITER" -H 'Content-Type: application/json' -d '{"name":"gear","qty":5}'  # 201

  # the service's own software banner (Server, X-Powered-By) never leaves the gateway,
  # and its debug traceback (with a database password in it) is replaced by a problem+json
  curl -i http://{{.Addr}}/api/debug/crash

  # spoofed client headers are dropped: the service sees the real peer, the gateway's request id
  # and the verified identity (X-Rampart-*), but not the token itself
  curl -s http://{{.Addr}}/api/whoami -H "Authorization: Bearer $READER" -H 'X-Forwarded-For: 6.6.6.6' -H 'X-Rampart-Subject: admin'

  # rejected before the service is touched (RFC 9457 problem+json with a request id)
  curl -i http://{{.Addr}}/admin                                  # 404: no such route
  curl -i -X DELETE http://{{.Addr}}/api/items/1                  # 405 with Allow
  curl -i --path-as-is 'http://{{.Addr}}/api/items/..%2f..%2fadmin'  # 400: encoded slash
  curl -i 'http://{{.Addr}}/api/items?id=1;drop'                  # 400: ';' in the query
  curl -i http://{{.Addr}}/api/items -H 'Content-Length: 5' -H 'Transfer-Encoding: chunked' -d x   # 400: smuggling shape

  # admin: health is open, everything else needs the token
  curl -i http://{{.Admin}}/readyz
  curl -i http://{{.Admin}}/anything                               # 401 without the token

  Press Ctrl-C to stop.
`))

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "gateway address (falls back to a free port if taken)")
	printConfig := fs.Bool("print-config", false, "print the embedded demo config and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *printConfig {
		_, _ = stdout.Write(demoConfig)
		return 0
	}
	// stdout gets the banner for people; stderr the same JSON lines as
	// serve (access, audit), for jq.
	logger, sink := jsonLogger(stderr)
	defer sink.Close()
	stderr = sink
	upstreamLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "rampart demo:", err)
		return 1
	}
	app := &http.Server{Handler: demoapp.New(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = app.Serve(upstreamLn) }()
	defer app.Close()

	token, secret := randomHex(24), randomHex(32)
	env := func(name string) (string, bool) {
		switch name {
		case "DEMO_UPSTREAM":
			return "http://" + upstreamLn.Addr().String(), true
		case "DEMO_ADMIN_TOKEN":
			return token, true
		case "DEMO_JWT_SECRET":
			return secret, true
		}
		return "", false
	}
	writer, err := demoToken(secret, "demo-writer", "items:read items:write")
	if err != nil {
		fmt.Fprintln(stderr, "rampart demo:", err)
		return 1
	}
	reader, err := demoToken(secret, "demo-reader", "items:read")
	if err != nil {
		fmt.Fprintln(stderr, "rampart demo:", err)
		return 1
	}
	cfg, err := config.Parse("demo.yaml", demoConfig, env)
	if err != nil {
		fmt.Fprintln(stderr, "rampart demo: embedded config:", err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		logger.Warn("demo: the address is taken; using a free port instead", "listen", *listen)
		host, _, _ := net.SplitHostPort(*listen)
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		fmt.Fprintln(stderr, "rampart demo:", err)
		return 1
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, "rampart demo:", err)
		return 1
	}
	err = server.Run(ctx, cfg, server.Options{
		Logger: logger, LogSink: sink, Listener: ln, AdminListener: adminLn,
		Ready: func(addr, adminAddr net.Addr) {
			_ = demoIntro.Execute(stdout, map[string]string{
				"Addr": addr.String(), "Upstream": upstreamLn.Addr().String(),
				"Admin": adminAddr.String(), "Token": token, "Writer": writer, "Reader": reader,
			})
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "rampart demo:", err)
		return 1
	}
	fmt.Fprintln(stdout, strings.TrimSpace("\n  Demo stopped."))
	return 0
}

// demoToken mints an HS256 access token the demo's authenticator accepts.
func demoToken(secret, sub, scope string) (string, error) {
	now := time.Now()
	return jwtlib.NewWithClaims(jwtlib.SigningMethodHS256, jwtlib.MapClaims{
		"iss": "https://demo.rampart.invalid/", "aud": "inventory-api", "sub": sub, "scope": scope,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(12 * time.Hour).Unix(),
	}).SignedString([]byte(secret))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
