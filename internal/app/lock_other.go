//go:build !unix

package app

// lockSQLite does nothing where flock is missing.
func lockSQLite(string) (func(), error) { return func() {}, nil }
