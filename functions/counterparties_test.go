package functions_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
)

func TestCounterpartyCreateGetList(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, tok := s.Tenant(t, "Acme")

	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: tok,
		Body: map[string]any{"name": "Globex", "kind": "customer", "email": "ap@globex.test", "default_currency": "EUR"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var c map[string]any
	resp.JSON(t, &c)
	require.Equal(t, "Globex", c["name"])
	require.EqualValues(t, 30, c["payment_terms_days"])
	require.Equal(t, "/v1/counterparties/"+c["id"].(string), resp.Header.Get("Location"))

	got := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties/" + c["id"].(string), Token: tok})
	require.Equal(t, http.StatusOK, got.Status, string(got.Body))
	require.JSONEq(t, string(resp.Body), string(got.Body))

	list := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties?limit=10", Token: tok})
	require.Equal(t, http.StatusOK, list.Status, string(list.Body))
	var l struct {
		Data    []map[string]any `json:"data"`
		HasMore bool             `json:"has_more"`
	}
	list.JSON(t, &l)
	require.Len(t, l.Data, 1)
	require.False(t, l.HasMore)
}
