package pathnorm_test

import (
	"errors"
	"fmt"

	"github.com/rampart-gw/rampart/internal/pathnorm"
)

func ExamplePath() {
	for _, raw := range []string{
		"/api/items/42",
		"//api/./items/%7euser/r%c3%a9sum%c3%a9",
		"/..;/admin",
		"/%2e%2e/etc/passwd",
	} {
		p, err := pathnorm.Path(raw)
		var e *pathnorm.Error
		if errors.As(err, &e) {
			fmt.Printf("%-40s rejected: %s\n", raw, e.Reason)
			continue
		}
		fmt.Printf("%-40s %s\n", raw, p)
	}
	// Output:
	// /api/items/42                            /api/items/42
	// //api/./items/%7euser/r%c3%a9sum%c3%a9   /api/items/~user/r%C3%A9sum%C3%A9
	// /..;/admin                               rejected: path-parameter
	// /%2e%2e/etc/passwd                       rejected: encoded-dot-segment
}

func ExampleQuery() {
	fmt.Println(pathnorm.Query("a=1&&b=2", 0))
	fmt.Println(pathnorm.Query("a=1;b=2", 0))
	// Output:
	// <nil>
	// pathnorm: query-semicolon: query contains ";" at byte 3
}
