//go:build !race

package faulttest

// raceOn reports a build with the race detector; see race_test.go.
const raceOn = false
