package functions_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
)

type counterparty struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	Kind             string  `json:"kind"`
	Email            *string `json:"email"`
	TaxID            *string `json:"tax_id"`
	DefaultCurrency  *string `json:"default_currency"`
	PaymentTermsDays int     `json:"payment_terms_days"`
	ExternalID       *string `json:"external_id"`
	Version          int     `json:"version"`
	CreatedAt        string  `json:"created_at"`
	UpdatedAt        string  `json:"updated_at"`
}

// counterpartyAPI drives the counterparty endpoints for one tenant.
type counterpartyAPI struct {
	s     *apitest.Server
	token string
}

func (c counterpartyAPI) create(t *testing.T, body map[string]any) counterparty {
	t.Helper()
	resp := c.s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: c.token, Body: body})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var out counterparty
	resp.JSON(t, &out)
	require.Equal(t, `"1"`, resp.Header.Get("ETag"))
	return out
}

func (c counterpartyAPI) get(t *testing.T, id string) apitest.Response {
	t.Helper()
	return c.s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties/" + id, Token: c.token})
}

// patch sends body as a merge patch; ifMatch "" leaves the header out.
func (c counterpartyAPI) patch(t *testing.T, id, ifMatch string, body any) apitest.Response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/merge-patch+json"}
	if ifMatch != "" {
		h["If-Match"] = ifMatch
	}
	return c.s.Do(t, apitest.Request{Method: "PATCH", Path: "/v1/counterparties/" + id, Token: c.token, Body: body, Header: h})
}

func (c counterpartyAPI) delete(t *testing.T, id, ifMatch string) apitest.Response {
	t.Helper()
	h := map[string]string{}
	if ifMatch != "" {
		h["If-Match"] = ifMatch
	}
	return c.s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/counterparties/" + id, Token: c.token, Header: h})
}

func requireProblem(t *testing.T, resp apitest.Response, status int, code string) apitest.Problem {
	t.Helper()
	require.Equal(t, status, resp.Status, string(resp.Body))
	p := resp.Problem(t)
	require.Equal(t, code, p.Code, string(resp.Body))
	return p
}

func TestCounterpartyUpdate(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, tok := s.Tenant(t, "Acme")
	api := counterpartyAPI{s: s, token: tok}
	c := api.create(t, map[string]any{
		"name": "Globex", "kind": "customer", "email": "ap@globex.test", "tax_id": "DE123456789",
		"default_currency": "EUR", "external_id": "crm-1",
	})
	got := api.get(t, c.ID)
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, `"1"`, got.Header.Get("ETag"))

	t.Run("members set, cleared and kept", func(t *testing.T) {
		resp := api.patch(t, c.ID, `"1"`, map[string]any{"name": " Globex AG ", "kind": "both", "email": nil, "payment_terms_days": 45})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Equal(t, `"2"`, resp.Header.Get("ETag"))
		var u counterparty
		resp.JSON(t, &u)
		require.Equal(t, c.ID, u.ID)
		require.Equal(t, "Globex AG", u.Name, "trimmed as on create")
		require.Equal(t, "both", u.Kind)
		require.Nil(t, u.Email)
		require.Equal(t, 45, u.PaymentTermsDays)
		require.Equal(t, c.TaxID, u.TaxID)
		require.Equal(t, c.DefaultCurrency, u.DefaultCurrency)
		require.Equal(t, c.ExternalID, u.ExternalID)
		require.Equal(t, 2, u.Version)
		require.Equal(t, c.CreatedAt, u.CreatedAt)

		again := api.get(t, c.ID)
		require.Equal(t, `"2"`, again.Header.Get("ETag"))
		require.JSONEq(t, string(resp.Body), string(again.Body))
	})

	t.Run("plain JSON and a weak tag work too", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "PATCH", Path: "/v1/counterparties/" + c.ID, Token: tok,
			Body: map[string]any{"tax_id": nil, "default_currency": "CHF"}, Header: map[string]string{"If-Match": `W/"2"`}})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Equal(t, `"3"`, resp.Header.Get("ETag"))
		var u counterparty
		resp.JSON(t, &u)
		require.Nil(t, u.TaxID)
		require.Equal(t, "CHF", *u.DefaultCurrency)
		require.Equal(t, "Globex AG", u.Name)
	})

	t.Run("If-Match is required and must be current", func(t *testing.T) {
		requireProblem(t, api.patch(t, c.ID, "", map[string]any{"name": "Lost"}), http.StatusPreconditionRequired, "precondition_required")
		p := requireProblem(t, api.patch(t, c.ID, `"1"`, map[string]any{"name": "Lost"}), http.StatusPreconditionFailed, "version_conflict")
		require.Contains(t, p.Detail, "current version 3")
		requireProblem(t, api.patch(t, c.ID, `"4"`, map[string]any{"name": "Lost"}), http.StatusPreconditionFailed, "version_conflict")
		requireProblem(t, api.patch(t, c.ID, `*`, map[string]any{"name": "Lost"}), http.StatusPreconditionFailed, "version_conflict")

		var u counterparty
		got := api.get(t, c.ID)
		got.JSON(t, &u)
		require.Equal(t, "Globex AG", u.Name)
		require.Equal(t, 3, u.Version)
	})

	t.Run("the rules of create apply", func(t *testing.T) {
		for name, tc := range map[string]struct {
			body  map[string]any
			field string
		}{
			"terms out of range":  {map[string]any{"payment_terms_days": 400}, "payment_terms_days"},
			"null name":           {map[string]any{"name": nil}, "name"},
			"blank name":          {map[string]any{"name": "   "}, "name"},
			"null kind":           {map[string]any{"kind": nil}, "kind"},
			"lower-case currency": {map[string]any{"default_currency": "usd"}, "default_currency"},
			"unknown currency":    {map[string]any{"default_currency": "XYZ"}, "default_currency"},
			"not an address":      {map[string]any{"email": "Globex <ap@globex.test>"}, "email"},
			"empty tax id":        {map[string]any{"tax_id": ""}, "tax_id"},
		} {
			t.Run(name, func(t *testing.T) {
				p := requireProblem(t, api.patch(t, c.ID, `"3"`, tc.body), http.StatusUnprocessableEntity, "validation_failed")
				require.Contains(t, p.Errors, tc.field)
			})
		}
		requireProblem(t, api.patch(t, c.ID, `"3"`, map[string]any{"version": 9}), http.StatusBadRequest, "unknown_field")
		require.Equal(t, `"3"`, api.get(t, c.ID).Header.Get("ETag"), "nothing was written")
	})

	t.Run("external_id stays unique", func(t *testing.T) {
		other := api.create(t, map[string]any{"name": "Initech", "kind": "vendor", "external_id": "crm-2"})
		requireProblem(t, api.patch(t, other.ID, `"1"`, map[string]any{"external_id": "crm-1"}), http.StatusConflict, "counterparty_external_id_exists")
		resp := api.patch(t, other.ID, `"1"`, map[string]any{"external_id": nil})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	})

	t.Run("another tenant's id is not found", func(t *testing.T) {
		_, otherTok := s.Tenant(t, "Other")
		other := counterpartyAPI{s: s, token: otherTok}
		requireProblem(t, other.patch(t, c.ID, `"3"`, map[string]any{"name": "Stolen"}), http.StatusNotFound, "counterparty_not_found")
		requireProblem(t, other.delete(t, c.ID, ""), http.StatusNotFound, "counterparty_not_found")
		requireProblem(t, api.patch(t, uuid.NewString(), `"1"`, map[string]any{"name": "x"}), http.StatusNotFound, "counterparty_not_found")
		requireProblem(t, api.patch(t, "not-an-id", `"1"`, map[string]any{"name": "x"}), http.StatusNotFound, "counterparty_not_found")
		require.Equal(t, http.StatusOK, api.get(t, c.ID).Status)
	})

	t.Run("audited and published", func(t *testing.T) {
		ctx := context.Background()
		var beforeEmail, afterEmail *string
		var afterVersion int
		require.NoError(t, s.DB.Admin.QueryRow(ctx, `
SELECT before->>'email', after->>'email', (after->>'version')::int
  FROM audit_events
 WHERE tenant_id = $1 AND entity_id = $2 AND action = 'counterparty.updated'
 ORDER BY seq LIMIT 1`, tenant, c.ID).Scan(&beforeEmail, &afterEmail, &afterVersion))
		require.Equal(t, "ap@globex.test", *beforeEmail)
		require.Nil(t, afterEmail)
		require.Equal(t, 2, afterVersion)

		rows, err := s.DB.Admin.Query(ctx, `
SELECT event_type, entity_version FROM outbox_events WHERE tenant_id = $1 AND entity_id = $2 ORDER BY entity_version`, tenant, c.ID)
		require.NoError(t, err)
		var got []string
		for rows.Next() {
			var typ string
			var v int
			require.NoError(t, rows.Scan(&typ, &v))
			got = append(got, fmt.Sprintf("%s@%d", typ, v))
		}
		require.NoError(t, rows.Err())
		require.Equal(t, []string{"counterparty.created@1", "counterparty.updated@2", "counterparty.updated@3"}, got,
			"refused updates leave no events")
	})
}

func TestCounterpartyDelete(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Deleter")
	api := counterpartyAPI{s: s, token: f.token}
	ctx := context.Background()

	t.Run("an unused counterparty is deleted", func(t *testing.T) {
		c := api.create(t, map[string]any{"name": "Short-lived", "kind": "vendor"})
		resp := api.delete(t, c.ID, "")
		require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))
		require.Empty(t, resp.Body)
		requireProblem(t, api.get(t, c.ID), http.StatusNotFound, "counterparty_not_found")
		requireProblem(t, api.delete(t, c.ID, ""), http.StatusNotFound, "counterparty_not_found")

		var beforeName string
		var afterIsNull bool
		require.NoError(t, s.DB.Admin.QueryRow(ctx, `
SELECT before->>'name', after IS NULL FROM audit_events WHERE entity_id = $1 AND action = 'counterparty.deleted'`,
			c.ID).Scan(&beforeName, &afterIsNull))
		require.Equal(t, "Short-lived", beforeName)
		require.True(t, afterIsNull)
		var version int
		require.NoError(t, s.DB.Admin.QueryRow(ctx, `
SELECT entity_version FROM outbox_events WHERE entity_id = $1 AND event_type = 'counterparty.deleted'`, c.ID).Scan(&version))
		require.Equal(t, 2, version, "the deletion follows the last version")
	})

	t.Run("a counterparty an invoice names stays", func(t *testing.T) {
		resp, _ := f.create(t, f.invoiceBody(nil))
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		requireProblem(t, api.delete(t, f.customer, ""), http.StatusConflict, "counterparty_in_use")
		requireProblem(t, api.delete(t, f.customer, `"1"`), http.StatusConflict, "counterparty_in_use")
		require.Equal(t, http.StatusOK, api.get(t, f.customer).Status)

		var n int
		require.NoError(t, s.DB.Admin.QueryRow(ctx, `
SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'counterparty.deleted'`, f.customer).Scan(&n))
		require.Zero(t, n)
	})

	t.Run("If-Match, when sent, must be current", func(t *testing.T) {
		c := api.create(t, map[string]any{"name": "Versioned", "kind": "customer"})
		require.Equal(t, http.StatusOK, api.patch(t, c.ID, `"1"`, map[string]any{"kind": "both"}).Status)
		requireProblem(t, api.delete(t, c.ID, `"1"`), http.StatusPreconditionFailed, "version_conflict")
		requireProblem(t, api.delete(t, c.ID, `nonsense`), http.StatusPreconditionFailed, "version_conflict")
		require.Equal(t, http.StatusOK, api.get(t, c.ID).Status)
		require.Equal(t, http.StatusNoContent, api.delete(t, c.ID, `"2"`).Status)
		requireProblem(t, api.get(t, c.ID), http.StatusNotFound, "counterparty_not_found")
	})
}

func TestCounterpartyChangesNeedWriteAccess(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, tok := s.Tenant(t, "Readers")
	c := counterpartyAPI{s: s, token: tok}.create(t, map[string]any{"name": "Globex", "kind": "customer"})

	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleAuditor} {
		reader := counterpartyAPI{s: s, token: s.Token(t, tenant, role)}
		requireProblem(t, reader.patch(t, c.ID, `"1"`, map[string]any{"name": "Renamed"}), http.StatusForbidden, "forbidden")
		requireProblem(t, reader.delete(t, c.ID, ""), http.StatusForbidden, "forbidden")
		require.Equal(t, http.StatusOK, reader.get(t, c.ID).Status)
	}

	accountant := counterpartyAPI{s: s, token: s.Token(t, tenant, auth.RoleAccountant)}
	require.Equal(t, http.StatusOK, accountant.patch(t, c.ID, `"1"`, map[string]any{"name": "Renamed"}).Status)
}
