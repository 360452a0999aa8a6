package cli

import (
	"fmt"
	"io"

	"github.com/rampart-gw/rampart/internal/config"
)

const configUsage = `Usage:
  rampart config schema   print the JSON Schema (draft 2020-12) of the config file

Editors using yaml-language-server validate and complete a config whose first
line names the schema, such as:
  # yaml-language-server: $schema=./rampart.schema.json
The reference of every key is docs/config.md.
`

// configCmd runs "rampart config": tooling around the config file itself.
func configCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "schema" {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	if _, err := stdout.Write(config.Schema()); err != nil {
		fmt.Fprintln(stderr, "rampart config schema:", err)
		return 1
	}
	return 0
}
