// Package token is the OAuthToken function: POST /v1/oauth/token, the OAuth 2.0 token
// endpoint of API clients (client-credentials grant, RFC 6749 §4.4). It is public: the
// client authenticates with its id and secret, not with a bearer token.
package token

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/ledgerline/ledgerline/shared/apiclients"
	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("OAuthToken", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &apiclients.Service{DB: d.DB, Now: d.Now, Issuer: d.Issuer}
	// Behind the API gateway the function's Authorization is the gateway's own identity
	// token, and the client's header (HTTP Basic credentials) is forwarded in
	// X-Forwarded-Authorization; only then is that header read, as for bearer tokens
	// (auth.Authenticator.Forwarded), so a caller reaching the function directly cannot
	// choose which header counts.
	header := "Authorization"
	if d.Config.AuthForwardedHeader {
		header = auth.ForwardedHeader
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := issue(w, r, svc, header, d.Config.MaxBodyBytes)
		if err != nil {
			writeError(w, r, err)
			return
		}
		// RFC 6749 §5.1: a token response must never be cached.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		_ = httpx.JSON(w, http.StatusOK, tok)
	})
}

// issue answers the token request; the client's Authorization header, if it sent one,
// is in header.
func issue(w http.ResponseWriter, r *http.Request, svc *apiclients.Service, header string, limit int64) (apiclients.TokenResponse, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return apiclients.TokenResponse{}, apperr.New(apperr.TooLarge, "body_too_large", "the request body is too large")
		}
		return apiclients.TokenResponse{}, apperr.Wrap(err, apperr.Invalid, apiclients.ErrInvalidRequest, "the request body could not be read")
	}
	req, err := apiclients.ParseTokenRequest(r.Header.Get(header), r.Header.Get("Content-Type"), body)
	if err != nil {
		return apiclients.TokenResponse{}, err
	}
	return svc.IssueToken(r.Context(), req)
}

// oauthProblem is a problem document (RFC 9457) that is an OAuth 2.0 error response
// (RFC 6749 §5.2) as well: problem+json allows extension members, so clients of either
// kind understand it.
type oauthProblem struct {
	httpx.Problem
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// writeError answers err in both shapes. Every refusal of the client's credentials is a
// 401 with a Basic challenge, as HTTP requires of a 401 and RFC 6749 of a client that
// tried the Authorization header.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.From(err)
	status := apperr.Status(e.Kind)
	p := oauthProblem{Problem: httpx.Problem{
		Type: httpx.ProblemTypeBase + e.Code, Title: http.StatusText(status), Status: status,
		Detail: e.Message, Instance: httpx.RequestID(r.Context()), Code: e.Code,
	}}
	switch {
	case apiclients.IsOAuthError(e.Code):
		p.Error = e.Code
	case status >= 500:
		p.Error = "server_error"
		if e.Kind == apperr.Unavailable {
			p.Error = "temporarily_unavailable"
			w.Header().Set("Retry-After", "1")
		}
	default:
		p.Error = apiclients.ErrInvalidRequest
	}
	if status >= 500 {
		slog.ErrorContext(r.Context(), "request failed", "error", err.Error(), "code", e.Code)
		if e.Kind == apperr.Internal {
			p.Code, p.Type, p.Detail = "internal", httpx.ProblemTypeBase+"internal", "internal error"
		}
	} else {
		slog.DebugContext(r.Context(), "request refused", "code", e.Code, "error", err.Error())
	}
	p.ErrorDescription = p.Detail
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="ledgerline", charset="UTF-8"`)
	}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
