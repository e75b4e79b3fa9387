package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/sqlstore"
	"github.com/botrelay/botrelay/sqlstore/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() (botrelay.Store, error) {
		path := filepath.Join(t.TempDir(), "botrelay.db")
		return func() (botrelay.Store, error) {
			return sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.SQLite, DSN: path, Logger: quiet})
		}
	})
}

// TestPostgres runs the suite on the server named by BOTRELAY_TEST_POSTGRES
// (.ci/run starts one). Each test gets its own schema, dropped afterwards.
func TestPostgres(t *testing.T) {
	base := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if base == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	t.Logf("running the store conformance suite on PostgreSQL")
	storetest.Run(t, func(t *testing.T) func() (botrelay.Store, error) {
		schema := "t_" + randomHex(8)
		if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
		dsn := withSearchPath(t, base, schema)
		return func() (botrelay.Store, error) {
			return sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.Postgres, DSN: dsn, Logger: quiet})
		}
	})
}

func withSearchPath(t testing.TB, base, schema string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
