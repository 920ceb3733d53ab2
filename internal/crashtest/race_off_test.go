//go:build !race

package crashtest

// raceBuild is true when the tests run with -race; the server binary is
// then built with the race detector too.
const raceBuild = false
