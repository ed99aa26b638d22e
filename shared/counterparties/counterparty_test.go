package counterparties

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

func TestCreateInputApply(t *testing.T) {
	c, err := CreateInput{Name: "  Globex ", Kind: Customer, Email: ptr(" ap@globex.test ")}.Apply()
	require.NoError(t, err)
	require.Equal(t, "Globex", c.Name)
	require.Equal(t, "ap@globex.test", *c.Email)
	require.Equal(t, DefaultPaymentTermsDays, c.PaymentTermsDays)

	c, err = CreateInput{Name: "Globex", Kind: Vendor, PaymentTermsDays: ptr(0)}.Apply()
	require.NoError(t, err)
	require.Zero(t, c.PaymentTermsDays, "0 is a choice, not a missing value")
}

func decodePatch(t *testing.T, text string) UpdateInput {
	t.Helper()
	var in UpdateInput
	require.NoError(t, json.Unmarshal([]byte(text), &in))
	return in
}

func TestUpdateInputApply(t *testing.T) {
	current := Counterparty{
		Name: "Globex", Kind: Customer, Email: ptr("ap@globex.test"), TaxID: ptr("DE1"),
		DefaultCurrency: ptr("EUR"), PaymentTermsDays: 30, ExternalID: ptr("crm-1"), Version: 4,
	}

	c, err := decodePatch(t, `{}`).Apply(current)
	require.NoError(t, err)
	require.Equal(t, current, c, "an empty patch changes nothing")

	c, err = decodePatch(t, `{"name": " Globex AG ", "email": null, "kind": "both", "payment_terms_days": 0}`).Apply(current)
	require.NoError(t, err)
	require.Equal(t, "Globex AG", c.Name)
	require.Nil(t, c.Email)
	require.Equal(t, Both, c.Kind)
	require.Zero(t, c.PaymentTermsDays)
	require.Equal(t, current.TaxID, c.TaxID)
	require.Equal(t, "ap@globex.test", *current.Email, "the current value is not modified")

	_, err = decodePatch(t, `{"name": null, "kind": null, "payment_terms_days": null, "tax_id": null}`).Apply(current)
	require.Equal(t, map[string]string{
		"name": "must not be null", "kind": "must not be null", "payment_terms_days": "must not be null",
	}, apperr.From(err).Fields)
}

// Create and update share one set of rules: every value create refuses, update
// refuses with the same message.
func TestCreateAndUpdateShareTheRules(t *testing.T) {
	current := Counterparty{Name: "Globex", Kind: Customer, PaymentTermsDays: 30}
	for field, value := range map[string]any{
		"name":               "  ",
		"kind":               "partner",
		"email":              "Globex <ap@globex.test>",
		"tax_id":             "",
		"default_currency":   "usd",
		"payment_terms_days": 366,
		"external_id":        "",
	} {
		t.Run(field, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{"name": "Valid", "kind": "vendor", field: value})
			require.NoError(t, err)

			var create CreateInput
			require.NoError(t, json.Unmarshal(body, &create))
			_, createErr := create.Apply()
			_, updateErr := decodePatch(t, string(body)).Apply(current)

			require.Equal(t, apperr.Unprocessable, apperr.KindOf(createErr))
			require.Contains(t, apperr.From(createErr).Fields, field)
			require.Equal(t, apperr.From(createErr).Fields, apperr.From(updateErr).Fields)
		})
	}
}

func ptr[T any](v T) *T { return &v }
