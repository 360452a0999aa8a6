package ratelimit_test

import (
	"fmt"

	"github.com/rampart-gw/rampart/internal/ratelimit"
)

func ExampleParse() {
	for _, s := range []string{"10r/s burst=20", "200 per day", "10 per 5 minutes"} {
		l, err := ratelimit.Parse(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-18q → %-16s GCRA=%v\n", s, l, l.Algorithm == ratelimit.GCRA)
	}
	_, err := ratelimit.Parse("10/fortnight")
	fmt.Println(err)
	// Output:
	// "10r/s burst=20"   → 10/s burst 20    GCRA=true
	// "200 per day"      → 200/day          GCRA=false
	// "10 per 5 minutes" → 10/5minute       GCRA=false
	// invalid rate: unknown time unit "fortnight"; units are s, minute, hour, day, month, year
}
