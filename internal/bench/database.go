package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// pgRun is the PostgreSQL database of a run: a schema of its own in the
// database --database names, which the started servers use through
// search_path, and a connection that reads the database's commit counter.
type pgRun struct {
	db     *sql.DB
	schema string
	dsn    string // --database with search_path set to schema
	dbName string
}

// isPostgres reports whether a --database value names PostgreSQL.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openPG creates a fresh schema in the database of dsn and returns the run
// with the DSN that uses it.
func openPG(ctx context.Context, dsn string) (*pgRun, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("--database: %v", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("--database: %v", err)
	}
	db.SetMaxOpenConns(2)
	p := &pgRun{db: db, schema: "bench_" + randHex(6)}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.QueryRowContext(cctx, "SELECT current_database()").Scan(&p.dbName); err != nil {
		db.Close()
		return nil, fmt.Errorf("--database: cannot reach PostgreSQL: %v", oneLine(err))
	}
	if _, err := db.ExecContext(cctx, "CREATE SCHEMA "+p.schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("--database: create schema %s: %v", p.schema, oneLine(err))
	}
	q := u.Query()
	q.Set("search_path", p.schema)
	u.RawQuery = q.Encode()
	p.dsn = u.String()
	return p, nil
}

// close drops the run's schema unless keep, and closes the connection.
func (p *pgRun) close(keep bool, o *Options) {
	if keep {
		o.logf("kept schema %s in database %s", p.schema, p.dbName)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := p.db.ExecContext(ctx, "DROP SCHEMA "+p.schema+" CASCADE"); err != nil {
			o.logf("drop schema %s: %v", p.schema, oneLine(err))
		}
	}
	p.db.Close()
}

// commits reads pg_stat_database.xact_commit for the run's database: every
// committed transaction of every session on it (reads included). The
// figure lags by up to a second (sessions report their statistics when
// they go idle, at most once a second), the same lag at both ends of a
// window under a steady load.
func (p *pgRun) commits(ctx context.Context) (int64, error) {
	var n int64
	err := p.db.QueryRowContext(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
	return n, err
}

// settings reads what decides the cost of a commit, for the report.
func (p *pgRun) settings(ctx context.Context) string {
	var version, sync, fsync string
	if err := p.db.QueryRowContext(ctx, "SELECT current_setting('server_version'), current_setting('synchronous_commit'), current_setting('fsync')").
		Scan(&version, &sync, &fsync); err != nil {
		return "postgresql"
	}
	return fmt.Sprintf("postgresql %s (synchronous_commit=%s, fsync=%s)", version, sync, fsync)
}

func oneLine(err error) string {
	return strings.SplitN(err.Error(), "\n", 2)[0]
}

// checkDatabase refuses a combination of --database and --nodes the bench
// cannot run.
func (o *Options) checkDatabase() error {
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	if o.Database != "" && !isPostgres(o.Database) {
		return fmt.Errorf("--database must be a postgres:// or postgresql:// URL, not %q (leave it out for SQLite)", o.Database)
	}
	if o.Nodes > 1 && !isPostgres(o.Database) {
		return errors.New("--nodes > 1 runs a cluster, which needs PostgreSQL: add --database postgres://…")
	}
	if o.Server != "" && (o.Database != "" || o.Nodes > 1) {
		return errors.New("--database and --nodes configure the servers the bench starts; leave them out with --server")
	}
	if o.Nodes > 1 && o.Bots < o.Nodes {
		return fmt.Errorf("--nodes %d needs at least as many bots (--bots %d) for every node to run one", o.Nodes, o.Bots)
	}
	return nil
}
