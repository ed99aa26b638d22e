package functions_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
)

// TestIdempotencyKeyRefusedOnSecretResponses checks the operations whose answer carries
// a secret shown once: an Idempotency-Key is refused (400 idempotency_not_supported)
// before anything runs, as their OpenAPI descriptions say, so the secret never reaches
// idempotency_keys, where any caller of the tenant sending the same key and body would
// have had it replayed for 24 hours.
func TestIdempotencyKeyRefusedOnSecretResponses(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, admin := s.Tenant(t, "Acme")

	cases := []struct {
		name, path string
		body       map[string]any
	}{
		{"api client", "/v1/api-clients", map[string]any{"name": "ERP", "roles": []string{"viewer"}}},
		{"webhook endpoint", "/v1/webhook-endpoints", map[string]any{"url": "https://erp.example.com/hooks", "enabled_events": []string{"*"}}},
	}
	for _, tc := range cases {
		keyed := apitest.Request{Method: "POST", Path: tc.path, Token: admin, Body: tc.body,
			Header: map[string]string{"Idempotency-Key": "secret-" + tc.name}}
		for range 2 { // a second caller with the same key and body has nothing replayed either
			resp := s.Do(t, keyed)
			requireProblem(t, resp, http.StatusBadRequest, "idempotency_not_supported")
			require.Empty(t, resp.Header.Get("Idempotent-Replayed"), tc.name)
		}
		list := s.Do(t, apitest.Request{Method: "GET", Path: tc.path, Token: admin})
		require.Equal(t, http.StatusOK, list.Status, string(list.Body))
		var l struct {
			Data []map[string]any `json:"data"`
		}
		list.JSON(t, &l)
		require.Empty(t, l.Data, "%s: a refused request creates nothing", tc.name)

		// Without the header the operation works and shows its secret, once.
		created := s.Do(t, apitest.Request{Method: "POST", Path: tc.path, Token: admin, Body: tc.body})
		require.Equal(t, http.StatusCreated, created.Status, string(created.Body))
		var withSecret struct {
			Secret string `json:"secret"`
		}
		created.JSON(t, &withSecret)
		require.NotEmpty(t, withSecret.Secret)
		var holding int64
		require.NoError(t, s.DB.Admin.QueryRow(t.Context(),
			`SELECT count(*) FROM idempotency_keys WHERE position(convert_to($1, 'UTF8') IN response_body) > 0`,
			withSecret.Secret).Scan(&holding))
		require.Zero(t, holding, "%s: no stored response holds the secret", tc.name)
	}

	var stored int64
	require.NoError(t, s.DB.Admin.QueryRow(t.Context(),
		`SELECT count(*) FROM idempotency_keys WHERE tenant_id = $1 OR position(convert_to('llsec_', 'UTF8') IN response_body) > 0`, tenant).Scan(&stored))
	require.Zero(t, stored, "no idempotency key was stored, and no stored response holds an API client secret (llsec_)")
}
