package sqlstore

import (
	"context"
	"fmt"

	"github.com/botrelay/botrelay"
)

const skillColumns = `id, account_id, name, description, post_survey, created_at, updated_at`

func scanSkill(row interface{ Scan(...any) error }) (*botrelay.Skill, error) {
	sk := &botrelay.Skill{}
	var created, updated int64
	if err := row.Scan(&sk.ID, &sk.AccountID, &sk.Name, &sk.Description, &sk.PostSurvey, &created, &updated); err != nil {
		return nil, err
	}
	sk.CreatedAt, sk.UpdatedAt = fromMillis(created), fromMillis(updated)
	return sk, nil
}

// CreateSkill implements botrelay.SkillStore.
func (s *Store) CreateSkill(ctx context.Context, sk *botrelay.Skill) error {
	return s.insertSkill(ctx, s.pool(), sk)
}

func (s *Store) insertSkill(ctx context.Context, c conn, sk *botrelay.Skill) error {
	if err := sk.Validate(); err != nil {
		return err
	}
	sk.CreatedAt = s.nowTime()
	sk.UpdatedAt = sk.CreatedAt
	err := c.queryRow(ctx, `INSERT INTO skills (account_id, name, description, post_survey, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`,
		string(sk.AccountID), sk.Name, sk.Description, sk.PostSurvey, millis(sk.CreatedAt)).Scan(&sk.ID)
	return normalize(err, "insert skill", "", fmt.Sprintf("a skill named %q already exists", sk.Name),
		fmt.Sprintf("account %q does not exist", sk.AccountID))
}

// Skill implements botrelay.SkillStore.
func (s *Store) Skill(ctx context.Context, id botrelay.SkillID) (*botrelay.Skill, error) {
	sk, err := scanSkill(s.pool().queryRow(ctx, `SELECT `+skillColumns+` FROM skills WHERE id = $1`, int64(id)))
	return sk, normalize(err, "get skill", fmt.Sprintf("skill %d not found", id), "", "")
}

// SkillByName implements botrelay.SkillStore.
func (s *Store) SkillByName(ctx context.Context, account botrelay.AccountID, name string) (*botrelay.Skill, error) {
	sk, err := scanSkill(s.pool().queryRow(ctx, `SELECT `+skillColumns+` FROM skills WHERE account_id = $1 AND name = $2`,
		string(account), name))
	return sk, normalize(err, "get skill by name", fmt.Sprintf("skill %q not found", name), "", "")
}

// Skills implements botrelay.SkillStore.
func (s *Store) Skills(ctx context.Context, account botrelay.AccountID) ([]*botrelay.Skill, error) {
	rows, err := s.pool().query(ctx, `SELECT `+skillColumns+` FROM skills WHERE account_id = $1 ORDER BY id`, string(account))
	if err != nil {
		return nil, fmt.Errorf("list skills: %w", err)
	}
	defer rows.Close()
	var out []*botrelay.Skill
	for rows.Next() {
		sk, err := scanSkill(rows)
		if err != nil {
			return nil, fmt.Errorf("scan skill: %w", err)
		}
		out = append(out, sk)
	}
	return out, rows.Err()
}

// UpdateSkill implements botrelay.SkillStore.
func (s *Store) UpdateSkill(ctx context.Context, sk *botrelay.Skill) error {
	if err := sk.Validate(); err != nil {
		return err
	}
	sk.UpdatedAt = s.nowTime()
	res, err := s.pool().exec(ctx, `UPDATE skills SET name = $1, description = $2, post_survey = $3, updated_at = $4 WHERE id = $5`,
		sk.Name, sk.Description, sk.PostSurvey, millis(sk.UpdatedAt), int64(sk.ID))
	if err := mustAffect(res, err, "update skill", fmt.Sprintf("skill %d not found", sk.ID),
		fmt.Sprintf("a skill named %q already exists", sk.Name)); err != nil {
		return err
	}
	cur, err := s.Skill(ctx, sk.ID)
	if err == nil {
		*sk = *cur
	}
	return err
}

// DeleteSkill implements botrelay.SkillStore.
func (s *Store) DeleteSkill(ctx context.Context, id botrelay.SkillID) error {
	res, err := s.pool().exec(ctx, `DELETE FROM skills WHERE id = $1`, int64(id))
	return mustAffect(res, err, "delete skill", fmt.Sprintf("skill %d not found", id), "")
}

// mustAffect normalises the result of an UPDATE or DELETE of one row: an
// error is normalised, and no affected row is ENOTFOUND.
func mustAffect(res interface{ RowsAffected() (int64, error) }, err error, op, notFound, conflict string) error {
	if err != nil {
		return normalize(err, op, notFound, conflict, "")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return botrelay.Errorf(botrelay.ENOTFOUND, "%s", notFound)
	}
	return nil
}
