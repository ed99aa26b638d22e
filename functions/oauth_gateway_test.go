package functions_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// behindGateway serves the functions as deployed behind the API gateway
// (AUTH_FORWARDED_HEADER): ESPv2 calls each function with its own identity token in
// Authorization and forwards the caller's Authorization in X-Forwarded-Authorization.
func behindGateway(d *platform.Deps) {
	d.Config.AuthForwardedHeader = true
	d.Auth.(*auth.Authenticator).Forwarded = true
}

// gatewayHeaders are the headers a function receives from the gateway for a caller that
// sent callerAuthorization ("" for none).
func gatewayHeaders(callerAuthorization string) map[string]string {
	h := map[string]string{"Authorization": "Bearer gateway-identity-token"}
	if callerAuthorization != "" {
		h[auth.ForwardedHeader] = callerAuthorization
	}
	return h
}

// TestOAuthTokenBehindGateway checks the token endpoint reads the client's HTTP Basic
// credentials from X-Forwarded-Authorization behind the gateway, ignoring the gateway's
// own Authorization, and still takes credentials in the form there.
func TestOAuthTokenBehindGateway(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, behindGateway)
	_, admin := s.Tenant(t, "Acme")
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/api-clients", Header: gatewayHeaders("Bearer " + admin),
		Body: map[string]any{"name": "ERP", "roles": []string{"viewer"}}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var client apiClient
	resp.JSON(t, &client)

	// HTTP Basic, as the client sent it, forwarded by the gateway.
	tok := requireToken(t, s.Do(t, tokenRequest(clientCredentials(), gatewayHeaders(basicAuth(client.ID, client.Secret)))))
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Header: gatewayHeaders("Bearer " + tok.AccessToken)})
	require.Equal(t, http.StatusOK, resp.Status, "the issued token works through the gateway: %s", resp.Body)

	// Credentials in the form: the gateway's Authorization is not the client's.
	requireToken(t, s.Do(t, tokenRequest(clientCredentials("client_id", client.ID, "client_secret", client.Secret), gatewayHeaders(""))))

	// The forwarded header is the client's: a wrong secret there is refused, and Basic
	// credentials in Authorization (which the gateway replaces) are not read.
	requireOAuthError(t, s.Do(t, tokenRequest(clientCredentials(), gatewayHeaders(basicAuth(client.ID, client.Secret+"x")))),
		http.StatusUnauthorized, "invalid_client")
	requireOAuthError(t, s.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})),
		http.StatusUnauthorized, "invalid_client")

	// Reached directly (no gateway mode), the forwarded header counts for nothing.
	direct := apitest.New(t, func(d *platform.Deps) { d.DB = s.Deps.DB })
	requireOAuthError(t, direct.Do(t, tokenRequest(clientCredentials(), map[string]string{auth.ForwardedHeader: basicAuth(client.ID, client.Secret)})),
		http.StatusUnauthorized, "invalid_client")
	requireToken(t, direct.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})))
}
