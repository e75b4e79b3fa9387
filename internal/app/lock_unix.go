//go:build unix

package app

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockSQLite takes an exclusive lock on path+".lock" for as long as the
// server runs: one SQLite database serves one botrelay. A second server
// started on it (a second "node") is refused with a line that says what to
// do instead. The lock goes with the process, however it ends.
func lockSQLite(path string) (release func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the database: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another botrelay server is running on the SQLite database %s; a SQLite database serves one server: cluster mode needs PostgreSQL (run every node with --database postgres://… --node-id ID --advertise URL)", path)
		}
		return nil, fmt.Errorf("lock the database: %w", err)
	}
	return func() { f.Close() }, nil
}
