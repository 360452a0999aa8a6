// Package cli implements the rampart command line. Run is main without the
// process: tests call it with their own context, arguments and writers.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3".
var Version = "dev"

// Env looks up environment variables (os.LookupEnv in production).
type Env func(string) (string, bool)

const usage = `rampart — a security-first API gateway

Usage:
  rampart serve -c rampart.yaml   run the gateway (SIGHUP reloads, SIGTERM drains and stops)
  rampart check -c rampart.yaml   validate a config offline; exit 1 with file:line:col errors
                                  (--online also fetches JWKS/specs, connects to store and Redis;
                                  an IdP that does not answer warns, or fails with --strict)
  rampart config schema           print the config file's JSON Schema (for editors)
  rampart demo                    gateway + example backend with embedded defaults
  rampart scan URL [--openapi F]  API security scan (text, json or sarif); exit 1 on findings
  rampart cert dev                self-signed certificate for local TLS
  rampart keys create|list|rotate|revoke -c rampart.yaml   manage API keys in the store
  rampart blocks list|add|remove -c rampart.yaml   manage blocks through the admin API
  rampart waf report [FILE]       rules the WAF fired, from the audit log, with suggested exclusions
  rampart version                 print the version, commit, build date and Go version

Run 'rampart <command> -h' for a command's flags.
`

// Run runs one command and returns the process exit code.
func Run(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, env, stdout, stderr)
	case "check":
		return check(ctx, rest, env, stdout, stderr)
	case "config":
		return configCmd(rest, stdout, stderr)
	case "demo":
		return demo(ctx, rest, stdout, stderr)
	case "scan":
		return scan(ctx, rest, env, stdout, stderr)
	case "cert":
		return cert(rest, stdout, stderr)
	case "keys":
		return keys(ctx, rest, env, stdout, stderr)
	case "blocks":
		return blocks(ctx, rest, env, stdout, stderr)
	case "waf":
		return wafCmd(rest, os.Stdin, stdout, stderr)
	case "version", "--version", "-v":
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "rampart: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// newFlags returns a FlagSet that reports errors to stderr and never exits.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rampart "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
