package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/botrelay/botrelay"
)

// AddBotStats implements botrelay.BotStatsStore. The counters are added to
// with INSERT … ON CONFLICT DO UPDATE, which both engines run atomically,
// so nodes adding to one counter at once never lose an addition.
func (s *Store) AddBotStats(ctx context.Context, stats []botrelay.BotStat) error {
	for _, st := range stats {
		if err := botrelay.CheckBotStat(st); err != nil {
			return err
		}
	}
	if len(stats) == 0 {
		return nil
	}
	return s.inTx(ctx, func(c conn) error {
		for _, st := range stats {
			_, err := c.exec(ctx, `INSERT INTO bot_stats (bot_id, resolution, bucket, metric, value) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (bot_id, resolution, bucket, metric) DO UPDATE SET value = bot_stats.value + excluded.value`,
				string(st.BotID), int64(st.Resolution/time.Second), millis(st.Bucket), st.Metric, st.Value)
			if err != nil {
				return fmt.Errorf("add bot stat: %w", redactDriverError(err))
			}
		}
		return nil
	})
}

// BotStats implements botrelay.BotStatsStore.
func (s *Store) BotStats(ctx context.Context, bot botrelay.BotID, res time.Duration, from, to time.Time) ([]botrelay.BotStat, error) {
	rows, err := s.pool().query(ctx, `SELECT bucket, metric, value FROM bot_stats
		WHERE bot_id = $1 AND resolution = $2 AND bucket >= $3 AND bucket < $4 ORDER BY bucket, metric`,
		string(bot), int64(res/time.Second), millis(from), millis(to))
	if err != nil {
		return nil, fmt.Errorf("list bot stats: %w", err)
	}
	defer rows.Close()
	var out []botrelay.BotStat
	for rows.Next() {
		st := botrelay.BotStat{BotID: bot, Resolution: res}
		var bucket int64
		if err := rows.Scan(&bucket, &st.Metric, &st.Value); err != nil {
			return nil, fmt.Errorf("scan bot stat: %w", err)
		}
		st.Bucket = fromMillis(bucket)
		out = append(out, st)
	}
	return out, rows.Err()
}

// PruneBotStats implements botrelay.BotStatsStore.
func (s *Store) PruneBotStats(ctx context.Context, res time.Duration, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(c conn) error {
		r, err := c.exec(ctx, `DELETE FROM bot_stats WHERE resolution = $1 AND bucket < $2`, int64(res/time.Second), millis(before))
		if err != nil {
			return fmt.Errorf("prune bot stats: %w", err)
		}
		n, err = r.RowsAffected()
		return err
	})
	return n, err
}
