package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/fence"
)

// Cluster membership and leases (migration 007, docs/cluster.md). Every
// time is judged by the database's clock, so nodes with skewed clocks agree
// on who is alive and who holds what. These methods need PostgreSQL: cluster
// mode refuses to start on SQLite.

// dbNow is the database clock in Unix milliseconds.
const dbNow = `(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT`

// ClusterNode is one node's membership row.
type ClusterNode struct {
	ID          string
	Incarnation string
	Address     string
	StartedAt   time.Time
	HeartbeatAt time.Time
	ExpiresAt   time.Time
	// Alive is true while the row has not expired by the database clock.
	Alive bool
}

// ClusterLease is one lease row.
type ClusterLease struct {
	Name        string
	Node        string
	Incarnation string
	Epoch       int64
	AcquiredAt  time.Time
	ExpiresAt   time.Time
	// Held is true while the lease has not expired by the database clock.
	Held bool
}

func (s *Store) needPostgres(op string) error {
	if s.dialect != Postgres {
		return botrelay.Errorf(botrelay.EINVALID, "%s: cluster mode needs PostgreSQL (start with --database postgres://…)", op)
	}
	return nil
}

// Heartbeat records that the node is alive for ttl more; join also resets
// its start time (a new process of the node). It returns the database's
// time.
func (s *Store) Heartbeat(ctx context.Context, n ClusterNode, ttl time.Duration, join bool) (time.Time, error) {
	if err := s.needPostgres("heartbeat"); err != nil {
		return time.Time{}, err
	}
	var now int64
	err := s.pool().queryRow(ctx, `INSERT INTO cluster_nodes (id, incarnation, address, started_at, heartbeat_at, expires_at)
		VALUES ($1, $2, $3, `+dbNow+`, `+dbNow+`, `+dbNow+` + $4)
		ON CONFLICT (id) DO UPDATE SET incarnation = excluded.incarnation, address = excluded.address,
			started_at = CASE WHEN $5 THEN excluded.started_at ELSE cluster_nodes.started_at END,
			heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at
		RETURNING heartbeat_at`, n.ID, n.Incarnation, n.Address, ttl.Milliseconds(), join).Scan(&now)
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat: %w", err)
	}
	return fromMillis(now), nil
}

// LeaveCluster marks the node's row expired, so the others take its work
// at once instead of waiting for the lease to run out.
func (s *Store) LeaveCluster(ctx context.Context, node, incarnation string) error {
	if err := s.needPostgres("leave"); err != nil {
		return err
	}
	_, err := s.pool().exec(ctx, `UPDATE cluster_nodes SET expires_at = 0 WHERE id = $1 AND incarnation = $2`, node, incarnation)
	return err
}

// ClusterNodes lists every node that ever joined, by id.
func (s *Store) ClusterNodes(ctx context.Context) ([]ClusterNode, error) {
	if err := s.needPostgres("nodes"); err != nil {
		return nil, err
	}
	rows, err := s.pool().query(ctx, `SELECT id, incarnation, address, started_at, heartbeat_at, expires_at,
		expires_at > `+dbNow+` FROM cluster_nodes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	defer rows.Close()
	var out []ClusterNode
	for rows.Next() {
		var n ClusterNode
		var started, beat, expires int64
		if err := rows.Scan(&n.ID, &n.Incarnation, &n.Address, &started, &beat, &expires, &n.Alive); err != nil {
			return nil, err
		}
		n.StartedAt, n.HeartbeatAt, n.ExpiresAt = fromMillis(started), fromMillis(beat), fromMillis(expires)
		out = append(out, n)
	}
	return out, rows.Err()
}

// ClusterLeases lists every lease, by name.
func (s *Store) ClusterLeases(ctx context.Context) ([]ClusterLease, error) {
	if err := s.needPostgres("leases"); err != nil {
		return nil, err
	}
	rows, err := s.pool().query(ctx, `SELECT name, node_id, incarnation, epoch, acquired_at, expires_at,
		expires_at > `+dbNow+` FROM cluster_leases ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	defer rows.Close()
	var out []ClusterLease
	for rows.Next() {
		var l ClusterLease
		var acquired, expires int64
		if err := rows.Scan(&l.Name, &l.Node, &l.Incarnation, &l.Epoch, &acquired, &expires, &l.Held); err != nil {
			return nil, err
		}
		l.AcquiredAt, l.ExpiresAt = fromMillis(acquired), fromMillis(expires)
		out = append(out, l)
	}
	return out, rows.Err()
}

// leaseLockTimeout bounds how long a lease write waits for the lease row:
// a node paused in the middle of a fenced write holds the row share-locked
// until PostgreSQL ends its idle transaction (Options.IdleTxTimeout); the
// acquirer tries again at its next round instead of stalling.
const leaseLockTimeout = "250ms"

// AcquireLease takes the named lease for ttl when it is free (never held,
// released, or expired by the database clock), one epoch on. ok is false
// when another holder has it, or its row is locked for now.
func (s *Store) AcquireLease(ctx context.Context, name, node, incarnation string, ttl time.Duration) (epoch int64, ok bool, err error) {
	if err := s.needPostgres("acquire lease"); err != nil {
		return 0, false, err
	}
	err = s.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, `SET LOCAL lock_timeout = '`+leaseLockTimeout+`'`); err != nil {
			return err
		}
		rows, err := c.query(ctx, `INSERT INTO cluster_leases (name, node_id, incarnation, epoch, acquired_at, expires_at)
		VALUES ($1, $2, $3, 1, `+dbNow+`, `+dbNow+` + $4)
		ON CONFLICT (name) DO UPDATE SET node_id = excluded.node_id, incarnation = excluded.incarnation,
			epoch = cluster_leases.epoch + 1, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
		WHERE cluster_leases.expires_at <= `+dbNow+`
		RETURNING epoch`, name, node, incarnation, ttl.Milliseconds())
		if err != nil {
			return err
		}
		defer rows.Close()
		if rows.Next() {
			ok = true
			if err := rows.Scan(&epoch); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if lockTimedOut(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return epoch, ok, nil
}

// lockTimedOut reports a lock_timeout (SQLSTATE 55P03).
func lockTimedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

// RenewLeases extends every lease the holder still has by ttl and returns
// them by name with their epochs; a lease missing from the answer was taken
// over. A lease that expired without anyone taking it is renewed too: its
// epoch did not change, so no one else wrote under it.
func (s *Store) RenewLeases(ctx context.Context, node, incarnation string, ttl time.Duration) (map[string]int64, error) {
	if err := s.needPostgres("renew leases"); err != nil {
		return nil, err
	}
	rows, err := s.pool().query(ctx, `UPDATE cluster_leases SET expires_at = `+dbNow+` + $3
		WHERE node_id = $1 AND incarnation = $2 AND expires_at > 0 RETURNING name, epoch`, node, incarnation, ttl.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var epoch int64
		if err := rows.Scan(&name, &epoch); err != nil {
			return nil, err
		}
		out[name] = epoch
	}
	return out, rows.Err()
}

// ReleaseLease gives the lease up (it stays at its epoch, so the next
// holder's is higher). Releasing a lease held by someone else does nothing.
func (s *Store) ReleaseLease(ctx context.Context, t fence.Token) error {
	if err := s.needPostgres("release lease"); err != nil {
		return err
	}
	_, err := s.pool().exec(ctx, `UPDATE cluster_leases SET expires_at = 0
		WHERE name = $1 AND node_id = $2 AND incarnation = $3 AND epoch = $4`, t.Lease, t.Node, t.Incarnation, t.Epoch)
	return err
}

// fenceQuery finds the lease row of a token that still holds it, and
// share-locks it.
const fenceQuery = `SELECT 1 FROM cluster_leases
	WHERE name = $1 AND node_id = $2 AND incarnation = $3 AND epoch = $4 AND expires_at > 0
	FOR SHARE`

// checkFence runs first in a fenced write's transaction: it share-locks
// the lease row, so a takeover or a release waits for the write to commit,
// and refuses the write when the lease is no longer the writer's: taken
// over (another epoch) or released. A lease that ran out without anyone
// taking it is still the writer's: nobody else can have written under it,
// and a node slowed down past its renewal (a starved CPU, a slow database)
// must not fail its writes for that alone.
func checkFence(ctx context.Context, c conn) error {
	t, ok := fence.From(ctx)
	if !ok || c.s.dialect != Postgres {
		return nil
	}
	rows, err := c.query(ctx, fenceQuery, t.Lease, t.Node, t.Incarnation, t.Epoch)
	if err != nil {
		return fmt.Errorf("check lease %s: %w", t.Lease, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%w (lease %s, epoch %d)", fence.ErrLost, t.Lease, t.Epoch)
	}
	return rows.Close()
}
