package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rampart-gw/rampart/internal/waf"
)

const wafUsage = `Usage: rampart waf report [FILE]

Reads the gateway's audit log (JSON lines; FILE, or standard input) and lists
the WAF rules that fired — in detect mode, the ones that would have blocked —
with how often, on which routes and which request fields, and a suggested
exclusion for each, to tune a policy before switching it to mode: block.
`

func wafCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "report" {
		fmt.Fprint(stderr, wafUsage)
		return 2
	}
	fs := newFlags("waf report", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, wafUsage) }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	in := stdin
	switch fs.NArg() {
	case 0:
	case 1:
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "rampart waf report: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	default:
		fs.Usage()
		return 2
	}
	rules, events, err := waf.Report(in)
	if err != nil {
		fmt.Fprintf(stderr, "rampart waf report: %v\n", err)
		return 1
	}
	waf.WriteReport(stdout, rules, events)
	return 0
}
