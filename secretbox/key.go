package secretbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeyFileName is the name of the master key file inside the data directory.
const KeyFileName = "master.key"

// SourceEnv is the source LoadKey reports for a key taken from the
// environment.
const SourceEnv = "env"

// keyFormat describes the accepted key encodings for error messages.
const keyFormat = "must be 32 bytes encoded as base64 (44 characters, " +
	"e.g. from `openssl rand -base64 32`) or as 64 hexadecimal characters " +
	"(e.g. from `openssl rand -hex 32`)"

// LoadKey returns the master key and where it came from.
//
// env is the value of the BOTRELAY_MASTER_KEY environment variable, which
// the caller reads. When it is not empty it must hold 32 bytes as base64
// (standard or URL-safe alphabet, padded or not) or as 64 hexadecimal
// characters; surrounding white space is ignored. The error for a bad value
// explains the expected format and never repeats the value. source is then
// SourceEnv ("env").
//
// Otherwise the key is read from dataDir/master.key, a text file holding the
// key in the same encodings (LoadKey writes standard base64). The file must
// not be accessible to group or others (mode 0600 or stricter); a looser
// mode is an error that tells the user to chmod it. If the file does not
// exist, LoadKey creates dataDir (mode 0700) if needed and a new file with 32
// random bytes and mode 0600. The new key is written to a temporary file in
// dataDir that is then linked into place, so master.key never exists half
// written and an existing master.key is never replaced: if another process
// creates it first, LoadKey returns that process's key. On file systems
// without hard links it falls back to a rename after checking that
// master.key is still absent. source is then the path of the key file.
//
// Neither source nor any error text contains the key. Keep the key safe: a
// lost key makes every secret sealed with it unreadable.
func LoadKey(env string, dataDir string) (key []byte, source string, err error) {
	if env != "" {
		key, err := decodeKey(env)
		if err != nil {
			return nil, "", fmt.Errorf("secretbox: BOTRELAY_MASTER_KEY %w", err)
		}
		return key, SourceEnv, nil
	}
	if dataDir == "" {
		return nil, "", errors.New("secretbox: no master key: BOTRELAY_MASTER_KEY is empty and no data directory is set")
	}
	path := filepath.Join(dataDir, KeyFileName)
	key, found, err := readKeyFile(path)
	if err != nil {
		return nil, "", err
	}
	if !found {
		if key, err = createKeyFile(dataDir, path); err != nil {
			return nil, "", err
		}
	}
	return key, path, nil
}

// decodeKey decodes a key given as 64 hex characters or as base64 in any of
// the standard and URL-safe alphabets, padded or not. Its errors describe
// the expected format without quoting s.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	decodedLen := -1
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		key, err := enc.Strict().DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) == KeySize {
			return key, nil
		}
		decodedLen = len(key)
	}
	if decodedLen >= 0 {
		return nil, fmt.Errorf("%s; the value given decodes to %d bytes", keyFormat, decodedLen)
	}
	return nil, errors.New(keyFormat + "; the value given is not valid base64 or hex")
}

// readKeyFile reads and checks the key file at path. found is false, with a
// nil error, when the file does not exist.
func readKeyFile(path string) (key []byte, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("secretbox: opening master key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("secretbox: checking master key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("secretbox: master key file %s is not a regular file", path)
	}
	// Windows does not map its access control onto these bits.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, false, fmt.Errorf("secretbox: master key file %s has mode %04o, which lets other users read it; restrict it with `chmod 600 %s`", path, perm, path)
	}
	// A valid file is under 100 bytes; the limit only guards against
	// reading something huge by mistake.
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, false, fmt.Errorf("secretbox: reading master key file: %w", err)
	}
	key, err = decodeKey(string(data))
	if err != nil {
		return nil, false, fmt.Errorf("secretbox: master key file %s %w", path, err)
	}
	return key, true, nil
}

// createKeyFile makes a new random key and publishes it at path without ever
// replacing an existing file. It returns the key that is in the file
// afterwards, which is another process's key if that process won a race.
func createKeyFile(dataDir, path string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("secretbox: creating data directory: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secretbox: generating master key: %w", err)
	}

	// os.CreateTemp opens a new, randomly named file with
	// O_CREATE|O_EXCL and mode 0600, so it never reuses an existing file.
	tmp, err := os.CreateTemp(dataDir, "."+KeyFileName+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("secretbox: creating master key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a successful link this only drops the extra name
	_, err = io.WriteString(tmp, base64.StdEncoding.EncodeToString(key)+"\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("secretbox: writing master key file: %w", err)
	}

	// link(2) fails if path exists, unlike rename(2), which would replace it.
	err = linkFile(tmpName, path)
	switch {
	case err == nil:
		syncDir(dataDir)
		return key, nil
	case errors.Is(err, fs.ErrExist):
		// Another process created the file after our first look: use its key.
	default:
		// No hard links here (some network and FUSE file systems). Rename,
		// unless the file has appeared meanwhile; a race in the short window
		// between the check and the rename is resolved by reading the file
		// back below, so every caller ends up with what is on disk.
		if _, statErr := os.Lstat(path); errors.Is(statErr, fs.ErrNotExist) {
			if err := os.Rename(tmpName, path); err != nil {
				return nil, fmt.Errorf("secretbox: creating master key file: %w", err)
			}
			syncDir(dataDir)
		}
	}
	onDisk, found, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("secretbox: master key file %s disappeared while it was being created", path)
	}
	return onDisk, nil
}

// linkFile is os.Link; tests replace it to exercise the rename fallback.
var linkFile = os.Link

// syncDir flushes a directory entry change to disk where the platform
// supports it. Errors are ignored: the key file itself is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
