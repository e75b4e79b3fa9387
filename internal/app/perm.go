package app

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/botrelay/botrelay/internal/tlsutil"
)

// secureDataDir makes the data folder private to the user botrelay runs
// as, on every start: the folder and the folders in it become mode 0700 and
// the files in it 0600 (the database and its -wal and -shm files, the master
// key, the signing keys, uploaded files) when group or others had any
// access. The public certificates of --tls-self-signed keep their mode.
// Symbolic links are not followed. It logs what it tightened, since a loose
// key file may have been read already.
func secureDataDir(dir string, log *slog.Logger) error {
	if runtime.GOOS == "windows" {
		return nil // Windows does not map its access control onto these bits
	}
	var tightened []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		switch {
		case d.IsDir():
			want = 0o700
		case !fi.Mode().IsRegular():
			return nil
		case path == filepath.Join(dir, tlsutil.CAFile) || path == filepath.Join(dir, tlsutil.CertFile):
			return nil
		}
		if fi.Mode().Perm()&0o077 == 0 {
			return nil
		}
		if err := os.Chmod(path, want); err != nil {
			return err
		}
		tightened = append(tightened, path)
		return nil
	})
	if len(tightened) > 0 {
		shown := tightened[:min(len(tightened), 10)]
		log.Warn("the data folder was readable by other users; restricted it to this user (folders 0700, files 0600); "+
			"if the master key or a signing key was exposed, rotate it (docs/security.md)",
			"count", len(tightened), "paths", shown)
	}
	return err
}
