package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/clientcert"
)

// MaxTokenRequestSize bounds the body of a token request, in bytes.
const MaxTokenRequestSize = 64 << 10

// tokenResponse is a successful token response (RFC 6749 section 5.1).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	// IDToken is issued in user flows when openid is granted.
	IDToken string `json:"id_token,omitempty"`
	// RefreshToken is issued when offline_access is granted.
	RefreshToken string `json:"refresh_token,omitempty"`

	// logged describes the issued tokens for the "issued access token"
	// line, written only once the whole request has succeeded.
	logged []zap.Field
}

// errAbandoned answers a token request whose client went away before it
// was served (while it waited for an issuing slot, or while the server
// was reading what the request needs), should anything still read the
// answer.
var errAbandoned = ErrTemporarilyUnavailable.WithDescription("The request ended before it was served; try again.")

// tokenRequest holds the parameters of a token request, each present at
// most once; a parameter sent with an empty value counts as absent.
type tokenRequest map[string]string

// serveToken is the token endpoint (RFC 6749 section 3.2).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, ErrMethodNotAllowed.WithDescription("The token endpoint accepts only POST."))
		return
	}
	resp, err := s.tracedToken(w, r)
	var refusal *Error
	if err != nil && !errors.As(err, &refusal) && r.Context().Err() != nil {
		// The client went away, and the database refused to work for an
		// ended request: not a server error.
		err = errAbandoned
	}
	if err != nil {
		if c := s.logger.Check(zapcore.DebugLevel, "token request refused"); c != nil {
			c.Write(zap.Error(err))
		}
		writeError(w, err)
		return
	}
	s.logIssued(resp.logged)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) (*tokenResponse, error) {
	req, err := s.readClientRequest(r)
	if err != nil {
		return nil, err
	}
	// The body is read: wait for an issuing slot. A client that goes away
	// meanwhile leaves the queue and gets nothing.
	if err := s.issuing.acquire(r.Context()); err != nil {
		return nil, errAbandoned
	}
	defer s.issuing.release()
	grantType := req["grant_type"]
	if grantType == "" {
		return nil, ErrInvalidRequest.WithDescription("Missing required parameter: grant_type")
	}
	cert, err := s.requestCertificate(r)
	if err != nil {
		return nil, err
	}
	client, err := s.authenticateClient(r.Context(), r, req, cert)
	if err != nil {
		return nil, err
	}
	traceTokenRequest(r.Context(), grantType, req["audience"], client.ClientID)
	if err := allowOrigin(w, r, client); err != nil {
		return nil, err
	}
	switch grantType {
	case clients.GrantClientCredentials:
		return s.clientCredentials(r.Context(), client, req, cert)
	case clients.GrantAuthorizationCode:
		return s.authorizationCode(r.Context(), client, req, cert)
	case clients.GrantRefreshToken:
		return s.refreshToken(r.Context(), client, req, cert)
	default:
		return nil, ErrUnsupportedGrantType.WithDescription(fmt.Sprintf("Unsupported grant type: %s", grantType))
	}
}

// readTokenRequest reads the body: application/x-www-form-urlencoded as
// RFC 6749 requires, or a JSON object of strings as Auth0 also accepts.
func readTokenRequest(r *http.Request) (tokenRequest, error) {
	if q := r.URL.Query(); q.Has("client_secret") || q.Has("client_assertion") {
		return nil, ErrInvalidRequest.WithDescription("Client credentials must not be sent in the URL.")
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (ct != "application/x-www-form-urlencoded" && ct != "application/json") {
		return nil, ErrInvalidRequest.WithDescription("Content-Type must be application/x-www-form-urlencoded or application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxTokenRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, ErrTooLarge.WithDescription(fmt.Sprintf("The request body is larger than %d bytes.", MaxTokenRequestSize))
		}
		return nil, ErrInvalidRequest.WithDescription("The request body could not be read.")
	}
	req := tokenRequest{}
	if ct == "application/json" {
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, ErrInvalidRequest.WithDescription("The request body is not a JSON object.")
		}
		for k, v := range obj {
			str, ok := v.(string)
			if !ok {
				return nil, ErrInvalidRequest.WithDescription(fmt.Sprintf("Parameter %s must be a string.", k))
			}
			if str != "" {
				req[k] = str
			}
		}
		return req, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, ErrInvalidRequest.WithDescription("The request body is not a valid form.")
	}
	for k, vs := range form {
		if len(vs) > 1 {
			return nil, ErrInvalidRequest.WithDescription(fmt.Sprintf("Parameter %s is repeated.", k))
		}
		if vs[0] != "" {
			req[k] = vs[0]
		}
	}
	return req, nil
}

// identifyClient is authenticateClient without its span.
func (s *Server) identifyClient(ctx context.Context, r *http.Request, req tokenRequest, cert clientcert.Info) (*clients.Client, error) {
	method := clients.AuthNone
	clientID, secret := req["client_id"], req["client_secret"]
	failed := ErrInvalidClient.WithDescription("Client authentication failed.")
	if h := r.Header.Get("Authorization"); h != "" {
		user, pass, ok := r.BasicAuth()
		if !ok {
			return nil, ErrInvalidRequest.WithDescription("The Authorization header must use the Basic scheme.")
		}
		if secret != "" {
			return nil, ErrInvalidRequest.WithDescription("Use only one client authentication method.")
		}
		failed.BasicChallenge = true
		// RFC 6749 section 2.3.1: both parts are form-encoded.
		id, err1 := url.QueryUnescape(user)
		pw, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || (clientID != "" && clientID != id) {
			return nil, failed
		}
		method, clientID, secret = clients.AuthSecretBasic, id, pw
	} else if secret != "" {
		method = clients.AuthSecretPost
	}
	traceClientAuthMethod(ctx, method)
	if clientID == "" {
		return nil, ErrInvalidClient.WithDescription("Missing client credentials: send client_id and client_secret.")
	}
	c, err := s.store.Client(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, failed
	}
	if err != nil {
		return nil, err
	}
	if c.UsesCertificates() {
		if method != clients.AuthNone {
			return nil, ErrInvalidClient.WithDescription("The client authenticates with a TLS client certificate, not a secret.")
		}
		return c, s.authenticateCertificate(c, cert)
	}
	if method == clients.AuthNone || c.TokenEndpointAuthMethod == clients.AuthNone {
		if method != c.TokenEndpointAuthMethod {
			return nil, failed
		}
		return c, nil
	}
	// RFC 6749 section 2.3.1: a client issued a secret may present it
	// either way, whichever of the two it is registered for, as Auth0
	// allows.
	if !c.TokenEndpointAuthMethod.IsSecret() || !s.hasher.Matches(c.SecretHash, secret) {
		return nil, failed
	}
	return c, nil
}
