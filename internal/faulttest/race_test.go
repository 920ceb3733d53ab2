//go:build race

package faulttest

// raceOn reports a build with the race detector, which makes the server
// several times slower (SQLite, pure Go here, most of all): the load tests
// then offer less and do not judge latency.
const raceOn = true
