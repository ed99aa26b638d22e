package apiclients

import (
	"encoding/base64"
	"mime"
	"net/url"
	"strings"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// GrantClientCredentials is the one grant the token endpoint serves.
const GrantClientCredentials = "client_credentials"

// The error codes of RFC 6749 §5.2 the token endpoint answers with. They are the
// problems' code as well as the protocol's error member, so a client of either kind
// reads the same thing.
const (
	ErrInvalidRequest       = "invalid_request"
	ErrInvalidClient        = "invalid_client"
	ErrUnsupportedGrantType = "unsupported_grant_type"
	ErrInvalidScope         = "invalid_scope"
)

// IsOAuthError reports whether code is one of the codes above, for the renderer that
// must tell them from the platform's own codes.
func IsOAuthError(code string) bool {
	switch code {
	case ErrInvalidRequest, ErrInvalidClient, ErrUnsupportedGrantType, ErrInvalidScope:
		return true
	}
	return false
}

// FormContentType is the only body the token endpoint accepts (RFC 6749 §4.4.2).
const FormContentType = "application/x-www-form-urlencoded"

// TokenRequest is a token request as parsed: the client's credentials and the roles it
// asks for.
type TokenRequest struct {
	ClientID string
	Secret   string
	// Scope is the roles asked for, space-separated in the request; nil asks for every
	// role of the client.
	Scope []string
}

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	// Scope is the roles the token carries, space-separated.
	Scope string `json:"scope"`
}

func invalidRequest(msg string) error { return apperr.New(apperr.Invalid, ErrInvalidRequest, msg) }

func invalidClient(msg string) error {
	return apperr.New(apperr.Unauthenticated, ErrInvalidClient, msg)
}

// ParseTokenRequest reads a client-credentials token request from its Authorization
// header, content type and body. The client authenticates with HTTP Basic (RFC 6749
// §2.3.1: id and secret form-urlencoded, then as Basic's user and password) or with
// client_id and client_secret in the body, never both. Parameters the grant does not
// define are ignored, as §3.2 requires; a defined one given twice is refused.
func ParseTokenRequest(authorization, contentType string, body []byte) (TokenRequest, error) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != FormContentType {
		return TokenRequest{}, invalidRequest("the body must be " + FormContentType)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return TokenRequest{}, invalidRequest("the body is not a valid form")
	}
	for _, name := range []string{"grant_type", "scope", "client_id", "client_secret"} {
		if len(form[name]) > 1 {
			return TokenRequest{}, invalidRequest(name + " is given more than once")
		}
	}
	// §3.1: a parameter without a value is as if it were not sent.
	switch grant := form.Get("grant_type"); grant {
	case GrantClientCredentials:
	case "":
		return TokenRequest{}, invalidRequest("grant_type is required")
	default:
		return TokenRequest{}, apperr.New(apperr.Invalid, ErrUnsupportedGrantType, "only the client_credentials grant is supported")
	}
	req := TokenRequest{ClientID: form.Get("client_id"), Secret: form.Get("client_secret")}
	if authorization != "" {
		if req.Secret != "" {
			return TokenRequest{}, invalidRequest("authenticate either with HTTP Basic or with client_id and client_secret in the body, not both")
		}
		id, secret, err := parseBasic(authorization)
		if err != nil {
			return TokenRequest{}, err
		}
		// A client_id beside Basic is tolerated when it names the same client: some
		// clients send it always.
		if req.ClientID != "" && req.ClientID != id {
			return TokenRequest{}, invalidRequest("client_id names another client than the Authorization header")
		}
		req.ClientID, req.Secret = id, secret
	}
	if req.ClientID == "" || req.Secret == "" {
		return TokenRequest{}, invalidClient("client authentication is required: HTTP Basic, or client_id and client_secret in the body")
	}
	if scope := form.Get("scope"); scope != "" {
		req.Scope = strings.Fields(scope)
	}
	return req, nil
}

// parseBasic reads HTTP Basic credentials, each form-urlencoded as RFC 6749 §2.3.1
// asks. Any other scheme is an authentication method the endpoint does not support.
func parseBasic(authorization string) (id, secret string, err error) {
	scheme, encoded, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", invalidClient("the token endpoint takes client credentials by HTTP Basic or in the body")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", "", invalidClient("the Basic credentials are not valid base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", invalidClient("the Basic credentials must be client_id:client_secret")
	}
	if id, err = url.QueryUnescape(user); err != nil {
		return "", "", invalidClient("the Basic client id is not form-urlencoded")
	}
	if secret, err = url.QueryUnescape(pass); err != nil {
		return "", "", invalidClient("the Basic client secret is not form-urlencoded")
	}
	return id, secret, nil
}
