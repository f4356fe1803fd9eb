package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// millis is t as Unix milliseconds; the zero time is 0.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// forever stands for "no end" in expires_at columns, so that purging never
// takes such rows.
const forever = int64(1) << 62

func endMillis(t time.Time) int64 {
	if t.IsZero() {
		return forever
	}
	return t.UnixMilli()
}

func encode(v any) (string, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	return string(doc), nil
}

// CreateSession stores a new session; a taken id is storage.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, ses *sessions.Session) error {
	doc, err := encode(ses)
	if err == nil {
		err = s.insert(ctx, `INSERT INTO sessions (id, user_id, expires_at, doc) VALUES (?, ?, ?, ?)`,
			ses.ID, ses.UserID, endMillis(ses.ExpiresAt), doc)
	}
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns the session with id, or storage.ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*sessions.Session, error) {
	ses, err := scanDoc[sessions.Session](s.queryRow(ctx, `SELECT doc FROM sessions WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("session: %w", notFound(err))
	}
	return ses, nil
}

// UpdateSession replaces the session with ses.ID, keeping its user.
func (s *Store) UpdateSession(ctx context.Context, ses *sessions.Session) error {
	doc, err := encode(ses)
	if err == nil {
		err = s.execOne(ctx, `UPDATE sessions SET expires_at = ?, doc = ? WHERE id = ? AND user_id = ?`,
			endMillis(ses.ExpiresAt), doc, ses.ID, ses.UserID)
	}
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	return nil
}

// DeleteSession deletes the session with id, if there is one.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// CreateAuthorizationCode stores a new, unused code.
func (s *Store) CreateAuthorizationCode(ctx context.Context, c *sessions.AuthorizationCode) error {
	doc, err := encode(c)
	if err == nil {
		err = s.insert(ctx, `INSERT INTO authorization_codes (id, client_id, user_id, expires_at, used_at, doc) VALUES (?, ?, ?, ?, 0, ?)`,
			c.ID, c.ClientID, c.UserID, endMillis(c.ExpiresAt), doc)
	}
	if err != nil {
		return fmt.Errorf("create authorization code: %w", err)
	}
	return nil
}

// ConsumeAuthorizationCode marks the code used at `at` with a conditional
// UPDATE, so that of concurrent calls only one changes the row, and
// returns it.
func (s *Store) ConsumeAuthorizationCode(ctx context.Context, id string, at time.Time) (*sessions.AuthorizationCode, error) {
	var code *sessions.AuthorizationCode
	err := s.atomically(ctx, func(tx *Store) error {
		res, err := tx.exec(ctx, `UPDATE authorization_codes SET used_at = ? WHERE id = ? AND used_at = 0`, millis(at), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		var usedAt int64
		var doc []byte
		if err := tx.queryRow(ctx, `SELECT used_at, doc FROM authorization_codes WHERE id = ?`, id).Scan(&usedAt, &doc); err != nil {
			return notFound(err)
		}
		code = new(sessions.AuthorizationCode)
		if err := json.Unmarshal(doc, code); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		code.UsedAt = time.UnixMilli(usedAt).UTC()
		if n == 0 {
			return storage.ErrUsed
		}
		return nil
	})
	if err != nil && !errors.Is(err, storage.ErrUsed) {
		return nil, fmt.Errorf("consume authorization code: %w", err)
	}
	return code, err
}

// CreateRefreshToken stores a new refresh token, in one transaction with
// the check that its family is not revoked.
func (s *Store) CreateRefreshToken(ctx context.Context, t *sessions.RefreshToken) error {
	err := s.atomically(ctx, func(tx *Store) error {
		if err := tx.lockFamily(ctx, t); err != nil {
			return err
		}
		return tx.insertRefreshToken(ctx, t)
	})
	if err != nil {
		return fmt.Errorf("create refresh token: %w", err)
	}
	return nil
}

// lockFamily takes the lock of the row of t's family in
// refresh_token_families, inserting the row (ending with t's family) if
// there is none, and returns storage.ErrRevoked if the family is revoked.
// Every transaction that stores or revokes tokens of a family does this
// first, so that they run one after the other for that family and a token
// stored while its family is revoked is either deleted by the revocation or
// refused: on PostgreSQL, the upsert waits for the transaction holding the
// row and then sees its latest version; SQLite transactions lock the whole
// database.
func (s *Store) lockFamily(ctx context.Context, t *sessions.RefreshToken) error {
	var revoked int
	err := s.queryRow(ctx, `INSERT INTO refresh_token_families (family_id, revoked, expires_at) VALUES (?, 0, ?)
		ON CONFLICT (family_id) DO UPDATE SET revoked = refresh_token_families.revoked
		RETURNING revoked`, t.FamilyID, endMillis(t.ExpiresAt)).Scan(&revoked)
	switch {
	case err != nil:
		return fmt.Errorf("lock refresh token family: %w", err)
	case revoked != 0:
		return storage.ErrRevoked
	}
	return nil
}

// insertRefreshToken inserts t; its family must be locked (lockFamily).
func (s *Store) insertRefreshToken(ctx context.Context, t *sessions.RefreshToken) error {
	doc, err := encode(t)
	if err != nil {
		return err
	}
	return s.insert(ctx, `INSERT INTO refresh_tokens (id, family_id, client_id, user_id, expires_at, used_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.FamilyID, t.ClientID, t.UserID, refreshEnd(t), millis(t.UsedAt), doc)
}

// refreshEnd is the earlier of a token's ends, for purging.
func refreshEnd(t *sessions.RefreshToken) int64 {
	return min(endMillis(t.ExpiresAt), endMillis(t.IdleExpiresAt))
}

// RefreshToken returns the refresh token with id, or storage.ErrNotFound.
func (s *Store) RefreshToken(ctx context.Context, id string) (*sessions.RefreshToken, error) {
	var usedAt int64
	var doc []byte
	if err := s.queryRow(ctx, `SELECT used_at, doc FROM refresh_tokens WHERE id = ?`, id).Scan(&usedAt, &doc); err != nil {
		return nil, fmt.Errorf("refresh token: %w", notFound(err))
	}
	t := new(sessions.RefreshToken)
	if err := json.Unmarshal(doc, t); err != nil {
		return nil, fmt.Errorf("refresh token: decode: %w", err)
	}
	if usedAt != 0 {
		t.UsedAt = time.UnixMilli(usedAt).UTC()
	}
	return t, nil
}

// RotateRefreshToken locks the family, marks the token used with a
// conditional UPDATE and inserts the successor, in one transaction.
func (s *Store) RotateRefreshToken(ctx context.Context, id string, at time.Time, successor *sessions.RefreshToken) error {
	err := s.atomically(ctx, func(tx *Store) error {
		if err := tx.lockFamily(ctx, successor); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND family_id = ? AND used_at = 0`,
			millis(at), id, successor.FamilyID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			var usedAt int64
			if err := tx.queryRow(ctx, `SELECT used_at FROM refresh_tokens WHERE id = ? AND family_id = ?`, id, successor.FamilyID).Scan(&usedAt); err != nil {
				return notFound(err)
			}
			return storage.ErrUsed
		}
		return tx.insertRefreshToken(ctx, successor)
	})
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	return nil
}

// TouchRefreshToken sets the idle end of the token with id.
func (s *Store) TouchRefreshToken(ctx context.Context, id string, idleExpiresAt time.Time) error {
	err := s.atomically(ctx, func(tx *Store) error {
		t, err := tx.RefreshToken(ctx, id)
		if err != nil {
			return err
		}
		t.IdleExpiresAt = idleExpiresAt
		doc, err := encode(t)
		if err != nil {
			return err
		}
		return tx.execOne(ctx, `UPDATE refresh_tokens SET expires_at = ?, doc = ? WHERE id = ?`, refreshEnd(t), doc, id)
	})
	if err != nil {
		return fmt.Errorf("touch refresh token: %w", err)
	}
	return nil
}

// RevokeRefreshTokenFamily marks the family's row revoked, with the later
// of its end and until, and deletes the family's tokens, in one
// transaction. The upsert takes the row's lock first, as lockFamily does.
func (s *Store) RevokeRefreshTokenFamily(ctx context.Context, familyID string, until time.Time) error {
	err := s.atomically(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, `INSERT INTO refresh_token_families (family_id, revoked, expires_at) VALUES (?, 1, ?)
			ON CONFLICT (family_id) DO UPDATE SET revoked = 1, expires_at = CASE
				WHEN excluded.expires_at > refresh_token_families.expires_at THEN excluded.expires_at
				ELSE refresh_token_families.expires_at END`, familyID, endMillis(until)); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `DELETE FROM refresh_tokens WHERE family_id = ?`, familyID)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke refresh token family: %w", err)
	}
	return nil
}

// Consent returns the consent of the user to the client for audience, or
// storage.ErrNotFound.
func (s *Store) Consent(ctx context.Context, userID, clientID, audience string) (*sessions.Consent, error) {
	c, err := scanDoc[sessions.Consent](s.queryRow(ctx,
		`SELECT doc FROM consents WHERE user_id = ? AND client_id = ? AND audience = ?`, userID, clientID, audience))
	if err != nil {
		return nil, fmt.Errorf("consent: %w", notFound(err))
	}
	return c, nil
}

// SaveConsent inserts or replaces the consent.
func (s *Store) SaveConsent(ctx context.Context, c *sessions.Consent) error {
	doc, err := encode(c)
	if err == nil {
		_, err = s.exec(ctx, `INSERT INTO consents (user_id, client_id, audience, doc) VALUES (?, ?, ?, ?)
			ON CONFLICT (user_id, client_id, audience) DO UPDATE SET doc = excluded.doc`,
			c.UserID, c.ClientID, c.Audience, doc)
	}
	if err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	return nil
}

// RecordLoginFailure adds a failure row for key and attempt.
func (s *Store) RecordLoginFailure(ctx context.Context, key, attempt string, at time.Time) error {
	if _, err := s.exec(ctx, `INSERT INTO login_failures (key, attempt, at) VALUES (?, ?, ?)`, key, attempt, millis(at)); err != nil {
		return fmt.Errorf("record login failure: %w", err)
	}
	return nil
}

// ForgetLoginFailure deletes the failure row of key and attempt.
func (s *Store) ForgetLoginFailure(ctx context.Context, key, attempt string) error {
	if _, err := s.exec(ctx, `DELETE FROM login_failures WHERE key = ? AND attempt = ?`, key, attempt); err != nil {
		return fmt.Errorf("forget login failure: %w", err)
	}
	return nil
}

// LoginFailures counts the failure rows of key since `since`.
func (s *Store) LoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM login_failures WHERE key = ? AND at >= ?`, key, millis(since)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count login failures: %w", err)
	}
	return n, nil
}

// ClearLoginFailures deletes the failure rows of key.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, `DELETE FROM login_failures WHERE key = ?`, key); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}

// PurgeExpired deletes what ended before now, and failures and rate-limit
// windows recorded before failuresBefore, in one transaction. Refresh
// token families go first, as in every transaction that locks both a
// family and its tokens, so that such transactions cannot deadlock.
func (s *Store) PurgeExpired(ctx context.Context, now, failuresBefore time.Time) error {
	err := s.atomically(ctx, func(tx *Store) error {
		for _, table := range []string{"refresh_token_families", "sessions", "authorization_codes", "refresh_tokens"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE expires_at < ?`, millis(now)); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `DELETE FROM login_failures WHERE at < ?`, millis(failuresBefore)); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `DELETE FROM rate_limits WHERE window_start < ?`, millis(failuresBefore))
		return err
	})
	if err != nil {
		return fmt.Errorf("purge expired sign-in state: %w", err)
	}
	return nil
}

// Setting returns the document of the setting name, or
// storage.ErrNotFound.
func (s *Store) Setting(ctx context.Context, name string) ([]byte, error) {
	var doc []byte
	if err := s.queryRow(ctx, `SELECT doc FROM settings WHERE name = ?`, name).Scan(&doc); err != nil {
		return nil, fmt.Errorf("setting %q: %w", name, notFound(err))
	}
	return doc, nil
}

// SaveSetting inserts or replaces the document of the setting name.
func (s *Store) SaveSetting(ctx context.Context, name string, doc []byte) error {
	_, err := s.exec(ctx, `INSERT INTO settings (name, doc) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET doc = excluded.doc`, name, string(doc))
	if err != nil {
		return fmt.Errorf("save setting %q: %w", name, err)
	}
	return nil
}

// MarkChanged increments the change version.
func (s *Store) MarkChanged(ctx context.Context) error {
	if _, err := s.exec(ctx, `UPDATE changes SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("mark changed: %w", err)
	}
	return nil
}

// ChangeVersion returns the change version.
func (s *Store) ChangeVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.queryRow(ctx, `SELECT version FROM changes WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read change version: %w", err)
	}
	return v, nil
}

// CountHits adds n hits to the window of key with one upsert, which both
// engines run atomically, and returns the window's hits.
func (s *Store) CountHits(ctx context.Context, key string, window time.Time, n int) (int, error) {
	var hits int
	err := s.queryRow(ctx, `INSERT INTO rate_limits (key, window_start, hits) VALUES (?, ?, ?)
		ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + excluded.hits
		RETURNING hits`, key, millis(window), n).Scan(&hits)
	if err != nil {
		return 0, fmt.Errorf("count hit: %w", err)
	}
	return hits, nil
}
