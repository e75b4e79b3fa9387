package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/internal/provision"
	"github.com/botrelay/botrelay/internal/webhook"
	"github.com/botrelay/botrelay/secretbox"
	"github.com/botrelay/botrelay/sqlstore"
)

// rotationDir is the folder in the data folder that holds the new master
// key while a rotation runs; an interrupted rotation finds it there and
// finishes with the same key.
const rotationDir = "master-key-rotation"

// newKeyEnv gives the new master key when the current one comes from
// BOTRELAY_MASTER_KEY.
const newKeyEnv = "BOTRELAY_NEW_MASTER_KEY"

func init() { config.NonConfigEnv = append(config.NonConfigEnv, newKeyEnv) }

// RotateMasterKeyCommand runs `botrelay rotate-master-key`: with every
// botrelay of the database stopped, it re-seals every bot's secrets (vendor
// credentials and the bot user's API key set) under a new master key, then
// puts the new key in place of the old one. It is safe to run again after
// an interruption: bots already sealed under the new key are left alone.
// It returns the exit status; every error is one line on stderr.
func RotateMasterKeyCommand(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, code := rotateConfig(args, stdout, stderr)
	if cfg == nil {
		return code
	}
	if err := rotateMasterKey(cfg, getenv, stdout); err != nil {
		fmt.Fprintf(stderr, "botrelay rotate-master-key: %s\n", err)
		return 1
	}
	return 0
}

// rotateConfig reads the command's flags and the configuration; a nil
// config comes with the exit status (0 after -h).
func rotateConfig(args []string, stdout, stderr io.Writer) (*config.Config, int) {
	fset := flag.NewFlagSet("rotate-master-key", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	configPath := fset.String("config", "", "YAML configuration `file` (as for serve)")
	data := fset.String("data", "", "data `folder` (as for serve)")
	database := fset.String("database", "", "database `url` (as for serve)")
	account := fset.String("account", "", "account `id` (as for serve)")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: botrelay rotate-master-key [--config FILE] [--data DIR] [--database URL] [--account ID]\n\n"+
				"Stop every botrelay that uses the database first. Re-seals every bot's secrets under a new master key and\n"+
				"replaces master.key; with BOTRELAY_MASTER_KEY, give the new key in "+newKeyEnv+".")
			return nil, 0
		}
		fmt.Fprintf(stderr, "botrelay rotate-master-key: %v; run 'botrelay rotate-master-key -h' for the flags\n", err)
		return nil, 2
	}
	if fset.NArg() > 0 {
		fmt.Fprintf(stderr, "botrelay rotate-master-key: unexpected argument %q; run 'botrelay rotate-master-key -h' for the flags\n", fset.Arg(0))
		return nil, 2
	}
	cfg, err := config.Load(*configPath, os.Environ())
	if err == nil {
		fset.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "data":
				cfg.Data = *data
			case "database":
				cfg.Database = *database
			case "account":
				cfg.Account = *account
			}
		})
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "botrelay rotate-master-key: %s\n", trimLine(err.Error()))
		return nil, 1
	}
	return &cfg, 0
}

// rotateMasterKey re-seals the bots of cfg's account under the new master
// key and puts the key in place.
func rotateMasterKey(cfg *config.Config, getenv func(string) string, stdout io.Writer) error {
	oldKey, newKey, fromEnv, err := rotationKeys(cfg, getenv)
	if err != nil {
		return err
	}
	oldBox, _ := secretbox.New(oldKey)
	newBox, _ := secretbox.New(newKey)
	store, err := openRotationStore(cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	resealed, already, err := provision.Reseal(context.Background(), store, botrelay.AccountID(cfg.Account), oldBox, newBox)
	if err != nil {
		return errors.New(trimLine(err.Error()))
	}
	hooks, hooksAlready, err := webhook.Reseal(context.Background(), store, botrelay.AccountID(cfg.Account), oldBox, newBox)
	if err != nil {
		return errors.New(trimLine(err.Error()))
	}
	// The hub's signing key was sealed with the old key: the next start
	// makes a new one from the new key.
	if err := store.DeleteHubKey(context.Background(), hubKeyName); err != nil {
		return errors.New(trimLine(err.Error()))
	}
	if !fromEnv {
		if err := os.Rename(filepath.Join(cfg.Data, rotationDir, "master.key"), filepath.Join(cfg.Data, "master.key")); err != nil {
			return fmt.Errorf("put the new master key in place: %v (the bots are sealed under %s; move it to %s by hand)",
				err, filepath.Join(cfg.Data, rotationDir, "master.key"), filepath.Join(cfg.Data, "master.key"))
		}
		_ = os.Remove(filepath.Join(cfg.Data, rotationDir))
	}
	fmt.Fprintf(stdout, "re-sealed the secrets of %d bots under the new master key (%d were already)\n", resealed, already)
	fmt.Fprintf(stdout, "re-sealed the secrets of %d webhooks (%d were already)\n", hooks, hooksAlready)
	if fromEnv {
		fmt.Fprintf(stdout, "now start botrelay with BOTRELAY_MASTER_KEY set to the value of %s; the old key opens nothing any more\n", newKeyEnv)
	} else {
		fmt.Fprintf(stdout, "%s holds the new key; the old key is gone\n", filepath.Join(cfg.Data, "master.key"))
	}
	fmt.Fprintln(stdout, "consumer tokens and file links signed with the old key stop working; the consumer page gets a new token by itself")
	return nil
}

// rotationKeys returns the current and the new master key, and whether the
// current one comes from BOTRELAY_MASTER_KEY (then the new one comes from
// BOTRELAY_NEW_MASTER_KEY; else it is generated in the rotation folder).
func rotationKeys(cfg *config.Config, getenv func(string) string) (oldKey, newKey []byte, fromEnv bool, err error) {
	oldKey, source, err := secretbox.LoadKey(getenv("BOTRELAY_MASTER_KEY"), cfg.Data)
	if err != nil {
		return nil, nil, false, fmt.Errorf("current master key: %s", trimLine(err.Error()))
	}
	fromEnv = source == secretbox.SourceEnv
	switch newEnv := getenv(newKeyEnv); {
	case fromEnv && newEnv == "":
		return nil, nil, false, fmt.Errorf("the master key comes from BOTRELAY_MASTER_KEY; give the new one in %s "+
			"(32 random bytes, base64: openssl rand -base64 32), then start botrelay with BOTRELAY_MASTER_KEY set to it", newKeyEnv)
	case fromEnv:
		if newKey, _, err = secretbox.LoadKey(newEnv, ""); err != nil {
			return nil, nil, false, fmt.Errorf("%s: %s", newKeyEnv, trimLine(err.Error()))
		}
	case newEnv != "":
		return nil, nil, false, fmt.Errorf("%s is only for a master key given in BOTRELAY_MASTER_KEY; this one is the file %s, and the new key is generated", newKeyEnv, source)
	default:
		// A new key file in the rotation folder, or the one an
		// interrupted run left there.
		if newKey, _, err = secretbox.LoadKey("", filepath.Join(cfg.Data, rotationDir)); err != nil {
			return nil, nil, false, fmt.Errorf("new master key: %s", trimLine(err.Error()))
		}
	}
	if string(newKey) == string(oldKey) {
		return nil, nil, false, errors.New("the new master key is the current one; choose another")
	}
	return oldKey, newKey, fromEnv, nil
}

// openRotationStore opens the database of cfg, refusing to create an
// SQLite one.
func openRotationStore(cfg *config.Config) (*sqlstore.Store, error) {
	driver, dsn := cfg.DatabaseURL()
	o := sqlstore.Options{DSN: dsn, Logger: slog.New(slog.DiscardHandler), Dialect: sqlstore.Postgres}
	if driver == "sqlite" {
		o.Dialect = sqlstore.SQLite
		if _, err := os.Stat(dsn); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s; is --data (or --database) the one botrelay serve uses?", dsn)
		}
	}
	store, err := sqlstore.Open(context.Background(), o)
	if err != nil {
		return nil, fmt.Errorf("open the database: %s", trimLine(err.Error()))
	}
	return store, nil
}
