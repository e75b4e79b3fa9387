package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/botrelay/botrelay/internal/backup"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/secretbox"
	"github.com/botrelay/botrelay/sqlstore"
)

// storeFlags are the flags that name a botrelay database, as serve takes
// them; the environment (BOTRELAY_DATA, BOTRELAY_DATABASE,
// BOTRELAY_MASTER_KEY) applies as for serve.
type storeFlags struct {
	fs             *flag.FlagSet
	data, database *string
	dataSet, dbSet bool
	name, usage    string
}

func newStoreFlags(name, usage string) *storeFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &storeFlags{fs: fs, name: name, usage: usage,
		data:     fs.String("data", "", "data `folder` (default ./botrelay-data): its SQLite database and master.key"),
		database: fs.String("database", "", "database `url`: postgres://… or sqlite:PATH (default: SQLite in the data folder)")}
}

// parse parses args; code is the exit status when parsing ends the command.
func (s *storeFlags) parse(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if code, ok := parseFlags(s.fs, s.name, "usage: "+s.usage+"\n", args, stdout, stderr); !ok {
		return code, false
	}
	if s.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "botrelay %s: unexpected argument %q; run 'botrelay %s -h' for the flags\n", s.name, s.fs.Arg(0), s.name)
		return 2, false
	}
	s.fs.Visit(func(f *flag.Flag) {
		s.dataSet = s.dataSet || f.Name == "data"
		s.dbSet = s.dbSet || f.Name == "database"
	})
	return 0, true
}

// target resolves the database and the data folder like serve does.
func (s *storeFlags) target() (backup.Database, string, error) {
	cfg, err := config.Load("", os.Environ())
	if err != nil {
		return backup.Database{}, "", err
	}
	if s.dataSet {
		cfg.Data = *s.data
	}
	if s.dbSet {
		cfg.Database = *s.database
	}
	if err := cfg.Validate(); err != nil {
		return backup.Database{}, "", err
	}
	driver, dsn := cfg.DatabaseURL()
	d := backup.Database{DSN: dsn, Dialect: sqlstore.SQLite}
	if driver == "postgres" {
		d.Dialect = sqlstore.Postgres
	}
	return d, cfg.Data, nil
}

// masterKey returns the master key the server would use — from
// BOTRELAY_MASTER_KEY or dataDir/master.key — without creating one; nil
// when there is none.
func masterKey(dataDir string) ([]byte, string, error) {
	env := os.Getenv("BOTRELAY_MASTER_KEY")
	if env == "" {
		if _, err := os.Stat(filepath.Join(dataDir, secretbox.KeyFileName)); err != nil {
			return nil, "", nil
		}
	}
	key, source, err := secretbox.LoadKey(env, dataDir)
	if source == secretbox.SourceEnv {
		source = "BOTRELAY_MASTER_KEY"
	}
	return key, source, err
}

func rowsSummary(rows map[string]int) string {
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, rows[n])
	}
	return strings.Join(parts, ", ")
}

// backupCommand writes a consistent snapshot of the database to --out.
func backupCommand(args []string, stdout, stderr io.Writer) int {
	s := newStoreFlags("backup", "botrelay backup --out FILE [--data DIR] [--database URL]")
	out := s.fs.String("out", "", "backup `file` to write (mode 0600; replaced if it exists)")
	if code, ok := s.parse(args, stdout, stderr); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "botrelay backup: --out is required: the file to write the backup to")
		return 2
	}
	db, dataDir, err := s.target()
	if err != nil {
		fmt.Fprintln(stderr, "botrelay backup: "+oneLine(err.Error()))
		return 1
	}
	key, keySource, err := masterKey(dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "botrelay backup: "+oneLine(err.Error()))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*.tmp")
	if err != nil {
		fmt.Fprintf(stderr, "botrelay backup: cannot write next to %s: %v\n", *out, err)
		return 1
	}
	defer os.Remove(tmp.Name())
	sum, err := backup.Backup(ctx, db, tmp, backup.KeyFingerprint(key))
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), *out)
	}
	if err != nil {
		fmt.Fprintln(stderr, "botrelay backup: "+oneLine(err.Error()))
		return 1
	}
	fmt.Fprintf(stdout, "backed up %s (schema %d) to %s: %s\n", db.Dialect, sum.Header.Schema, *out, rowsSummary(sum.Rows))
	if key == nil {
		fmt.Fprintln(stdout, "no master key found (BOTRELAY_MASTER_KEY or "+filepath.Join(dataDir, secretbox.KeyFileName)+"): bots' vendor credentials in this backup cannot be read without the key they were sealed with")
	} else {
		fmt.Fprintf(stdout, "the master key is not in the backup: keep %s (sha256 %s) safe; restore needs it\n", keySource, sum.Header.MasterKey[:16])
	}
	return 0
}

// restoreCommand loads a backup into a new data folder or an empty database.
func restoreCommand(args []string, stdout, stderr io.Writer) int {
	s := newStoreFlags("restore", "botrelay restore --in FILE (--data DIR | --database URL)")
	in := s.fs.String("in", "", "backup `file` to read")
	if code, ok := s.parse(args, stdout, stderr); !ok {
		return code
	}
	if *in == "" {
		fmt.Fprintln(stderr, "botrelay restore: --in is required: the backup file to restore")
		return 2
	}
	if !s.dataSet && !s.dbSet {
		fmt.Fprintln(stderr, "botrelay restore: say where to restore: --data DIR (a new data folder) or --database URL (an empty database)")
		return 2
	}
	db, dataDir, err := s.target()
	if err != nil {
		fmt.Fprintln(stderr, "botrelay restore: "+oneLine(err.Error()))
		return 1
	}
	f, err := os.Open(*in)
	if err != nil {
		fmt.Fprintln(stderr, "botrelay restore: "+oneLine(err.Error()))
		return 1
	}
	defer f.Close()
	checkKey := func(want string) error {
		if want == "" {
			return nil
		}
		key, source, err := masterKey(dataDir)
		if err != nil {
			return err
		}
		keyFile := filepath.Join(dataDir, secretbox.KeyFileName)
		if key == nil {
			return fmt.Errorf("the backup's vendor credentials are sealed with the master key sha256 %s…: copy that master.key to %s (mode 0600) or set BOTRELAY_MASTER_KEY, then restore again", want[:16], keyFile)
		}
		if got := backup.KeyFingerprint(key); got != want {
			return fmt.Errorf("the master key of %s (sha256 %s…) is not the one the backup was made with (sha256 %s…): put the backup's master.key at %s or set BOTRELAY_MASTER_KEY to it", source, got[:16], want[:16], keyFile)
		}
		return nil
	}
	if db.Dialect == sqlstore.SQLite {
		if err := os.MkdirAll(filepath.Dir(db.DSN), 0o700); err != nil {
			fmt.Fprintln(stderr, "botrelay restore: "+oneLine(err.Error()))
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := backup.Restore(ctx, f, db, checkKey)
	if err != nil {
		fmt.Fprintln(stderr, "botrelay restore: "+oneLine(err.Error()))
		return 1
	}
	fmt.Fprintf(stdout, "restored %s into %s (backup of %s at schema %d, made %s): %s\n", *in, db.Dialect, sum.Header.Engine,
		sum.Header.Schema, sum.Header.CreatedAt, rowsSummary(sum.Rows))
	return 0
}
