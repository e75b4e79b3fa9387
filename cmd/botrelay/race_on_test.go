//go:build race

package main

// raceEnabled: this test binary runs under the race detector, which
// multiplies memory and CPU; measurements of a server need a plain build.
const raceEnabled = true
