package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// SQLite files are private to the user botrelay runs as: the database is
// created with mode 0600 before SQLite opens it (SQLite gives its -wal and
// -shm files the database's mode), and a database, -wal, -shm or -journal
// file that other users can read is tightened to 0600 on every open.

// sqliteFiles are the files of a SQLite database at path.
func sqliteFiles(path string) []string {
	return []string{path, path + "-wal", path + "-shm", path + "-journal"}
}

// isFilePath reports whether a SQLite DSN is a plain file path (not an
// in-memory database or a URI with options).
func isFilePath(dsn string) bool {
	return dsn != "" && !strings.HasPrefix(dsn, "file:") && !strings.Contains(dsn, ":memory:")
}

// prepareSQLiteFile creates the database file with mode 0600 when it does
// not exist and tightens the files of an existing one.
func prepareSQLiteFile(path string) error {
	if !isFilePath(path) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
		return tightenSQLiteFiles(path)
	default:
		return fmt.Errorf("sqlstore: create %s: %w", path, err)
	}
}

// tightenSQLiteFiles sets the existing files of the database at path that
// group or others may access to mode 0600.
func tightenSQLiteFiles(path string) error {
	if !isFilePath(path) || runtime.GOOS == "windows" {
		return nil
	}
	for _, p := range sqliteFiles(path) {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlstore: check %s: %w", p, err)
		}
		if fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return fmt.Errorf("sqlstore: restrict %s to mode 0600: %w", p, err)
			}
		}
	}
	return nil
}
