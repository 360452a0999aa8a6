package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/tlsconfig"
)

func cert(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "dev" {
		fmt.Fprintln(stderr, "usage: rampart cert dev [--host localhost,127.0.0.1] [--out DIR]")
		return 2
	}
	fs := newFlags("cert dev", stderr)
	hosts := fs.String("host", "localhost,127.0.0.1,::1", "comma-separated host names and IPs the certificate is for")
	out := fs.String("out", ".", "directory to write tls.crt and tls.key into")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var list []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			list = append(list, h)
		}
	}
	if len(list) == 0 {
		fmt.Fprintln(stderr, "rampart cert dev: --host needs at least one name or IP")
		return 2
	}
	certPath, keyPath, err := tlsconfig.WriteDevCert(*out, list, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "rampart cert dev:", err)
		return 1
	}
	fmt.Fprintf(stdout, `Wrote a self-signed development certificate (ECDSA P-256, 90 days) for %s:
  %s
  %s   (mode 0600)

Use it in rampart.yaml:
  server:
    listen: ":8443"
    tls: { cert_file: %s, key_file: %s }

Clients must trust it explicitly, e.g.:
  curl --cacert %s https://localhost:8443/health

Do not use it in production.
`, strings.Join(list, ", "), certPath, keyPath, certPath, keyPath, certPath)
	return 0
}
