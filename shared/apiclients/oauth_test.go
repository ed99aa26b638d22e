package apiclients

import (
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestParseTokenRequest(t *testing.T) {
	const (
		id     = "0193a4f2-6b1c-7d3e-8f4a-5b6c7d8e9f01"
		secret = "llsec_abc"
		form   = FormContentType
	)
	grant := "grant_type=client_credentials"
	inBody := grant + "&client_id=" + id + "&client_secret=" + secret
	cases := []struct {
		name          string
		authorization string
		contentType   string
		body          string
		want          TokenRequest
		wantKind      apperr.Kind
		wantCode      string
	}{
		{name: "credentials in the body", contentType: form, body: inBody, want: TokenRequest{ClientID: id, Secret: secret}},
		{name: "HTTP Basic", authorization: basic(id, secret), contentType: form, body: grant, want: TokenRequest{ClientID: id, Secret: secret}},
		{name: "Basic scheme in any case", authorization: "bAsIc " + basic(id, secret)[6:], contentType: form, body: grant,
			want: TokenRequest{ClientID: id, Secret: secret}},
		{name: "Basic credentials are form-urlencoded", authorization: basic("a:b c", "p%q+r"), contentType: form, body: grant,
			want: TokenRequest{ClientID: "a:b c", Secret: "p%q+r"}},
		{name: "Basic with the same client_id in the body", authorization: basic(id, secret), contentType: form, body: grant + "&client_id=" + id,
			want: TokenRequest{ClientID: id, Secret: secret}},
		{name: "charset parameter", contentType: form + "; charset=utf-8", body: inBody, want: TokenRequest{ClientID: id, Secret: secret}},
		{name: "scope", contentType: form, body: inBody + "&scope=viewer+accountant", want: TokenRequest{ClientID: id, Secret: secret, Scope: []string{"viewer", "accountant"}}},
		{name: "empty scope is no scope", contentType: form, body: inBody + "&scope=", want: TokenRequest{ClientID: id, Secret: secret}},
		{name: "unknown parameters are ignored", contentType: form, body: inBody + "&audience=x&resource=y&resource=z",
			want: TokenRequest{ClientID: id, Secret: secret}},

		{name: "JSON body", contentType: "application/json", body: `{"grant_type":"client_credentials"}`, wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "no content type", body: inBody, wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "malformed form", contentType: form, body: inBody + "&x=%zz", wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "no grant_type", contentType: form, body: "client_id=" + id + "&client_secret=" + secret, wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "empty grant_type", contentType: form, body: "grant_type=&client_id=" + id + "&client_secret=" + secret, wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "password grant", contentType: form, body: "grant_type=password&username=u&password=p", wantKind: apperr.Invalid, wantCode: ErrUnsupportedGrantType},
		{name: "authorization code grant", contentType: form, body: "grant_type=authorization_code&code=x", wantKind: apperr.Invalid, wantCode: ErrUnsupportedGrantType},
		{name: "grant_type twice", contentType: form, body: inBody + "&" + grant, wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "client_secret twice", contentType: form, body: inBody + "&client_secret=other", wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "scope twice", contentType: form, body: inBody + "&scope=a&scope=b", wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "Basic and client_secret in the body", authorization: basic(id, secret), contentType: form, body: inBody,
			wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "Basic and another client_id in the body", authorization: basic(id, secret), contentType: form, body: grant + "&client_id=other",
			wantKind: apperr.Invalid, wantCode: ErrInvalidRequest},
		{name: "no client authentication", contentType: form, body: grant, wantKind: apperr.Unauthenticated, wantCode: ErrInvalidClient},
		{name: "client_id without secret", contentType: form, body: grant + "&client_id=" + id, wantKind: apperr.Unauthenticated, wantCode: ErrInvalidClient},
		{name: "empty client_secret", contentType: form, body: grant + "&client_id=" + id + "&client_secret=", wantKind: apperr.Unauthenticated, wantCode: ErrInvalidClient},
		{name: "a bearer token", authorization: "Bearer eyJ.x.y", contentType: form, body: grant, wantKind: apperr.Unauthenticated, wantCode: ErrInvalidClient},
		{name: "Basic not base64", authorization: "Basic ***", contentType: form, body: grant, wantKind: apperr.Unauthenticated, wantCode: ErrInvalidClient},
		{name: "Basic without colon", authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(id)), contentType: form, body: grant,
			wantKind: apperr.Unauthenticated, wantCode: ErrInvalidClient},
		{name: "Basic badly escaped", authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":%zz")), contentType: form, body: grant,
			wantKind: apperr.Unauthenticated, wantCode: ErrInvalidClient},
		{name: "Basic with an empty secret", authorization: basic(id, ""), contentType: form, body: grant, wantKind: apperr.Unauthenticated, wantCode: ErrInvalidClient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTokenRequest(tc.authorization, tc.contentType, []byte(tc.body))
			if tc.wantCode != "" {
				e := apperr.From(err)
				require.Equal(t, tc.wantKind, e.Kind, "%v", err)
				require.Equal(t, tc.wantCode, e.Code, "%v", err)
				require.NotEmpty(t, e.Message)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
