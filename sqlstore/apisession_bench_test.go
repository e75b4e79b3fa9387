package sqlstore_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/sqlstore"
)

// BenchmarkAPISessionRead is what moving the management API's credentials
// into the store adds to each API request: one read of a session or a token
// by its hash. SQLite always; PostgreSQL too when BOTRELAY_TEST_POSTGRES is
// set (over loopback, so the time includes a round trip).
func BenchmarkAPISessionRead(b *testing.B) {
	engines := map[string]*sqlstore.Store{}
	s, _ := benchStore(b)
	engines["sqlite"] = s
	if base := os.Getenv("BOTRELAY_TEST_POSTGRES"); base != "" {
		engines["postgres"] = benchPostgres(b, base)
	}
	ctx := context.Background()
	for name, s := range engines {
		admin, err := s.UserByLogin(ctx, "1000", "admin")
		if err != nil {
			b.Fatal(err)
		}
		exp := time.Now().Add(time.Hour)
		if err := s.CreateAPISession(ctx, &botrelay.APISession{IDHash: "bench-session", UserID: admin.ID, CSRFHash: "c", ExpiresAt: exp}); err != nil {
			b.Fatal(err)
		}
		if err := s.CreateAPIToken(ctx, &botrelay.APIToken{ID: "bench", Hash: "bench-token", UserID: admin.ID}); err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/session", func(b *testing.B) {
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := s.APISession(ctx, "bench-session"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
		b.Run(name+"/token", func(b *testing.B) {
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := s.APIToken(ctx, "bench-token"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// benchPostgres opens a bootstrapped store in a fresh schema on base.
func benchPostgres(b *testing.B, base string) *sqlstore.Store {
	b.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	schema := "b_" + randomHex(8)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); admin.Close() })
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.Postgres, DSN: withSearchPathTB(b, base, schema), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	boot := &botrelay.Bootstrap{Account: &botrelay.Account{ID: "1000", Name: "Bench"}, Profiles: botrelay.BuiltInProfiles(),
		Skills: []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
		Admin:  &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true}}
	if _, err := s.Bootstrap(context.Background(), boot); err != nil {
		b.Fatal(err)
	}
	return s
}

// processCPU is the process's user and system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func withSearchPathTB(b testing.TB, base, schema string) string {
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
