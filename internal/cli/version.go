package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Build facts; `make release` sets them with -ldflags "-X", which wins over
// what the Go toolchain recorded (a `go install …@version` build records
// the module version but no VCS facts; a checkout build records the VCS
// facts but no version).
var (
	Commit    = ""
	BuildDate = ""
)

// BuildInfo is what `rampart version` prints.
type BuildInfo struct {
	Version, Commit, Date, Go string
	Modified                  bool
}

// ReadBuildInfo merges the ldflags values with debug.ReadBuildInfo.
func ReadBuildInfo() BuildInfo {
	b := BuildInfo{Version: Version, Commit: Commit, Date: BuildDate, Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Commit == "" {
				b.Commit = s.Value
			}
		case "vcs.time":
			if b.Date == "" {
				b.Date = s.Value
			}
		case "vcs.modified":
			b.Modified = s.Value == "true" && Commit == ""
		}
	}
	return b
}

func printVersion(w io.Writer) {
	b := ReadBuildInfo()
	commit, date := orUnknown(b.Commit), orUnknown(b.Date)
	if b.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "rampart %s\ncommit: %s\nbuilt:  %s\ngo:     %s\n", b.Version, commit, date, b.Go)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
