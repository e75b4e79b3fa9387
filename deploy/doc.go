// Package deploy holds what an operator deploys botrelay with — the
// container image's Dockerfile, the systemd unit and an example
// configuration — and the tests that check them. It has no code.
package deploy
