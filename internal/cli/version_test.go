package cli

import (
	"context"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	defer func(v, c, d string) { Version, Commit, BuildDate = v, c, d }(Version, Commit, BuildDate)
	Version, Commit, BuildDate = "v1.2.3", "0123456789abcdef", "2026-12-05T10:00:00Z"
	var out, errb strings.Builder
	if code := Run(context.Background(), []string{"version"}, noEnv, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := "rampart v1.2.3\ncommit: 0123456789abcdef\nbuilt:  2026-12-05T10:00:00Z\ngo:     " + runtime.Version() + "\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	// Without ldflags the facts come from the toolchain's build info (a test
	// binary has no VCS stamp), never empty lines.
	Version, Commit, BuildDate = "dev", "", ""
	out.Reset()
	Run(context.Background(), []string{"version"}, noEnv, &out, &errb)
	if !regexp.MustCompile(`^rampart \S+\ncommit: \S+.*\nbuilt:  \S+\ngo:     go`).MatchString(out.String()) {
		t.Errorf("without ldflags: %q", out.String())
	}
}
