package authserver

import (
	"errors"
	"net/http"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// serveRevoke is the revocation endpoint (RFC 7009). The client
// authenticates as at the token endpoint. Revoking a refresh token
// revokes its whole family, so that no successor of a rotating token
// survives it. Access tokens are self-contained JWTs that resource servers
// verify without asking this server: they cannot be revoked, and stay good
// until they expire. As RFC 7009 section 2.2 asks, the answer is 200 with
// an empty body whether or not anything was revoked: for an unknown
// token, an access token, or another client's token (which is left
// alone). token_type_hint is accepted and not needed.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, ErrMethodNotAllowed.WithDescription("The revocation endpoint accepts only POST."))
		return
	}
	if err := s.revoke(w, r); err != nil {
		writeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	req, err := s.readClientRequest(r)
	if err != nil {
		return err
	}
	cert, err := s.requestCertificate(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	c, err := s.authenticateClient(ctx, r, req, cert)
	if err != nil {
		return err
	}
	if err := allowOrigin(w, r, c); err != nil {
		return err
	}
	token := req["token"]
	if token == "" {
		return ErrInvalidRequest.WithDescription("Missing required parameter: token")
	}
	rt, err := s.store.RefreshToken(ctx, sessions.Key(token))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rt.ClientID != c.ClientID {
		return nil
	}
	if err := s.store.RevokeRefreshTokenFamily(ctx, rt.FamilyID, rt.ExpiresAt); err != nil {
		return err
	}
	if ce := s.logger.Check(zapcore.InfoLevel, "revoked refresh token family"); ce != nil {
		ce.Write(zap.String("client_id", c.ClientID), zap.String("user_id", rt.UserID), zap.String("family_id", rt.FamilyID))
	}
	return nil
}
