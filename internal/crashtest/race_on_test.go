//go:build race

package crashtest

// raceBuild is true when the tests run with -race; the server binary is
// then built with the race detector too, so the load hunts data races in
// the server as well as in the client.
const raceBuild = true
