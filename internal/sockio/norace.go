//go:build !race

package sockio

const raceBuild = false
