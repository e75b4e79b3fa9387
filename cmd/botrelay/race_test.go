//go:build race

package main

// raceEnabled: the race detector slows botrelay about tenfold, and the
// chaos suite scales its size down so that `go test -race ./...` stays in
// CI's time budget.
const raceEnabled = true
