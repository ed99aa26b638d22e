package openapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := Load()
	require.NoError(t, err)
	require.NotNil(t, doc)
	return doc
}

func schema(t *testing.T, name string) *openapi3.Schema {
	t.Helper()
	ref, ok := loadDoc(t).Components.Schemas[name]
	require.Truef(t, ok, "schema %s is missing", name)
	require.NotNil(t, ref.Value)
	return ref.Value
}

// decode turns JSON text into the generic form VisitJSON expects (numbers as
// float64, objects as map[string]any), the same form a decoded body has.
func decode(t *testing.T, text string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(text), &v))
	return v
}

func TestLoadValidates(t *testing.T) {
	doc := loadDoc(t)
	assert.Equal(t, "3.0.3", doc.OpenAPI)
	assert.Equal(t, "Ledgerline API", doc.Info.Title)
	assert.Equal(t, "1.0.0", doc.Info.Version)
	require.Len(t, doc.Servers, 1)
	assert.Equal(t, "/", doc.Servers[0].URL)

	scheme := doc.Components.SecuritySchemes["bearerAuth"]
	require.NotNil(t, scheme)
	assert.Equal(t, "http", scheme.Value.Type)
	assert.Equal(t, "bearer", scheme.Value.Scheme)
	assert.Equal(t, "JWT", scheme.Value.BearerFormat)

	again, err := Load()
	require.NoError(t, err)
	assert.Same(t, doc, again, "the document must be parsed once")
}

func TestSpecIsTheEmbeddedYAML(t *testing.T) {
	assert.True(t, bytes.HasPrefix(Spec(), []byte("openapi: 3.0.3\n")))
}

func TestOperations(t *testing.T) {
	want := map[string]Operation{
		"CounterpartiesCreate": {ID: "CounterpartiesCreate", Method: http.MethodPost, Path: "/v1/counterparties"},
		"CounterpartiesGet":    {ID: "CounterpartiesGet", Method: http.MethodGet, Path: "/v1/counterparties/{id}"},
		"CounterpartiesList":   {ID: "CounterpartiesList", Method: http.MethodGet, Path: "/v1/counterparties"},
		"InvoicesCreate":       {ID: "InvoicesCreate", Method: http.MethodPost, Path: "/v1/invoices"},
		"InvoicesGet":          {ID: "InvoicesGet", Method: http.MethodGet, Path: "/v1/invoices/{id}"},
		"InvoicesList":         {ID: "InvoicesList", Method: http.MethodGet, Path: "/v1/invoices"},
	}
	assert.Equal(t, want, Operations())

	// Callers get a copy, so one caller's edits cannot leak into another's.
	ops := Operations()
	delete(ops, "InvoicesGet")
	assert.Contains(t, Operations(), "InvoicesGet")
}

func TestEveryOperationFollowsTheConventions(t *testing.T) {
	doc := loadDoc(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			t.Run(method+" "+path, func(t *testing.T) {
				require.NotEmpty(t, op.OperationID)
				require.NotNil(t, op.Security, "operation must state its security")
				require.NotEmpty(t, *op.Security)
				assert.Contains(t, (*op.Security)[0], "bearerAuth")

				problems := []int{400, 401, 403, 500}
				if strings.Contains(path, "{id}") {
					problems = append(problems, 404)
				}
				if method == http.MethodPost {
					problems = append(problems, 409, 413, 415, 422)
				}
				for _, status := range problems {
					resp := op.Responses.Status(status)
					require.NotNilf(t, resp, "response %d is missing", status)
					mt := resp.Value.Content.Get("application/problem+json")
					require.NotNilf(t, mt, "response %d must be application/problem+json", status)
					assert.Equalf(t, "#/components/schemas/Problem", mt.Schema.Ref, "response %d", status)
				}

				for code, resp := range op.Responses.Map() {
					assert.Containsf(t, resp.Value.Headers, "X-Request-Id", "response %s must declare X-Request-Id", code)
				}

				key := op.Parameters.GetByInAndName(openapi3.ParameterInHeader, "Idempotency-Key")
				if method != http.MethodPost {
					assert.Nil(t, key, "only POSTs take an Idempotency-Key")
					return
				}
				require.NotNil(t, key, "POSTs must accept an Idempotency-Key")
				assert.False(t, key.Required)
				assert.Equal(t, uint64(1), key.Schema.Value.MinLength)
				require.NotNil(t, key.Schema.Value.MaxLength)
				assert.Equal(t, uint64(255), *key.Schema.Value.MaxLength)

				require.NotNil(t, op.RequestBody)
				assert.True(t, op.RequestBody.Value.Required)
				assert.NotNil(t, op.RequestBody.Value.Content.Get("application/json"))
				created := op.Responses.Status(http.StatusCreated)
				require.NotNil(t, created)
				assert.Contains(t, created.Value.Headers, "Idempotent-Replayed")
			})
		}
	}
}

// Every object in the contract is closed, so an unknown field is caught by
// validation on both sides instead of being silently dropped or accepted.
func TestObjectsAreClosed(t *testing.T) {
	doc := loadDoc(t)
	seen := map[*openapi3.Schema]bool{}
	var walk func(where string, s *openapi3.Schema)
	walk = func(where string, s *openapi3.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		if s.Type.Is(openapi3.TypeObject) {
			ap := s.AdditionalProperties
			open := ap.Has == nil || *ap.Has
			if ap.Schema != nil {
				// A map such as Problem.errors: open on purpose, but typed.
				assert.NotNilf(t, ap.Schema.Value, "%s: additionalProperties schema", where)
				walk(where+"{}", ap.Schema.Value)
			} else {
				assert.Falsef(t, open, "%s must set additionalProperties: false", where)
			}
		}
		for name, p := range s.Properties {
			walk(where+"."+name, p.Value)
		}
		if s.Items != nil {
			walk(where+"[]", s.Items.Value)
		}
	}
	for name, ref := range doc.Components.Schemas {
		walk(name, ref.Value)
	}
	assert.NotEmpty(t, seen)
}

// The two schemas are written out in full because allOf cannot combine
// closed objects; this keeps them from drifting apart.
func TestInvoiceSummaryIsInvoiceWithoutLines(t *testing.T) {
	invoice, summary := schema(t, "Invoice"), schema(t, "InvoiceSummary")

	wantProps := slices.Sorted(func(yield func(string) bool) {
		for name := range invoice.Properties {
			if name != "lines" && !yield(name) {
				return
			}
		}
	})
	gotProps := slices.Sorted(func(yield func(string) bool) {
		for name := range summary.Properties {
			if !yield(name) {
				return
			}
		}
	})
	assert.Equal(t, wantProps, gotProps)
	for _, name := range gotProps {
		a, err := json.Marshal(invoice.Properties[name])
		require.NoError(t, err)
		b, err := json.Marshal(summary.Properties[name])
		require.NoError(t, err)
		assert.JSONEqf(t, string(a), string(b), "property %s differs", name)
	}

	wantRequired := slices.DeleteFunc(slices.Clone(invoice.Required), func(s string) bool { return s == "lines" })
	assert.ElementsMatch(t, wantRequired, summary.Required)
	assert.ElementsMatch(t, slices.Collect(func(yield func(string) bool) {
		for name := range invoice.Properties {
			if !yield(name) {
				return
			}
		}
	}), invoice.Required, "every Invoice property is required")
}

const sampleInvoice = `{
  "id": "9c4b2e1a-7f3d-4a6c-b5e8-0d1f2a3b4c5d",
  "object": "invoice",
  "direction": "receivable",
  "status": "open",
  "number": "INV-000001",
  "counterparty_id": "0b7e3c52-6a1f-4f0e-9a3d-2f6c1d8e4b90",
  "currency": "EUR",
  "issue_date": "2025-03-01",
  "due_date": "2025-03-31",
  "memo": null,
  "external_id": null,
  "subtotal_minor": 30000,
  "tax_minor": 6000,
  "total_minor": 36000,
  "amount_paid_minor": 0,
  "amount_credited_minor": 0,
  "amount_due_minor": 36000,
  "version": 1,
  "created_at": "2025-03-01T09:30:00Z",
  "updated_at": "2025-03-01T09:30:00Z",
  "finalized_at": "2025-03-01T09:30:00Z",
  "lines": [
    {
      "id": "5a1c9e7b-3d2f-4b8a-8c6e-1f0d9a7b3e21",
      "position": 1,
      "description": "Consulting, March",
      "quantity": "2.5",
      "unit_amount_minor": 12000,
      "tax_rate": "20",
      "amount_minor": 30000,
      "tax_minor": 6000,
      "total_minor": 36000
    }
  ]
}`

func TestInvoiceSchema(t *testing.T) {
	s := schema(t, "Invoice")
	require.NoError(t, s.VisitJSON(decode(t, sampleInvoice)))

	mutate := func(edit func(inv map[string]any)) any {
		v := decode(t, sampleInvoice)
		edit(v.(map[string]any))
		return v
	}
	line := func(inv map[string]any) map[string]any {
		return inv["lines"].([]any)[0].(map[string]any)
	}

	bad := map[string]any{
		"extra field":         mutate(func(inv map[string]any) { inv["tenant_id"] = "t1" }),
		"extra line field":    mutate(func(inv map[string]any) { line(inv)["discount"] = 1 }),
		"missing required":    mutate(func(inv map[string]any) { delete(inv, "amount_due_minor") }),
		"null lines":          mutate(func(inv map[string]any) { inv["lines"] = nil }),
		"fractional amount":   mutate(func(inv map[string]any) { inv["total_minor"] = 360.5 }),
		"numeric quantity":    mutate(func(inv map[string]any) { line(inv)["quantity"] = 2.5 }),
		"lower-case currency": mutate(func(inv map[string]any) { inv["currency"] = "eur" }),
		"unknown status":      mutate(func(inv map[string]any) { inv["status"] = "sent" }),
		"wrong object":        mutate(func(inv map[string]any) { inv["object"] = "counterparty" }),
	}
	for name, v := range bad {
		assert.Errorf(t, s.VisitJSON(v), "%s must be rejected", name)
	}

	// A draft has no number and no finalization time yet.
	draft := mutate(func(inv map[string]any) {
		inv["status"] = "draft"
		inv["number"] = nil
		inv["finalized_at"] = nil
	})
	assert.NoError(t, s.VisitJSON(draft))

	// List items carry no lines.
	summary := schema(t, "InvoiceSummary")
	assert.Error(t, summary.VisitJSON(decode(t, sampleInvoice)))
	assert.NoError(t, summary.VisitJSON(mutate(func(inv map[string]any) { delete(inv, "lines") })))
}

func TestInvoiceCreateSchema(t *testing.T) {
	s := schema(t, "InvoiceCreate")
	ok := `{
	  "direction": "payable",
	  "counterparty_id": "0b7e3c52-6a1f-4f0e-9a3d-2f6c1d8e4b90",
	  "currency": "USD",
	  "issue_date": "2025-03-01",
	  "lines": [{"description": "Paper", "quantity": "3", "unit_amount_minor": 499}]
	}`
	require.NoError(t, s.VisitJSON(decode(t, ok), openapi3.VisitAsRequest()))

	for name, text := range map[string]string{
		"no lines":          strings.Replace(ok, `[{"description": "Paper", "quantity": "3", "unit_amount_minor": 499}]`, `[]`, 1),
		"numeric quantity":  strings.Replace(ok, `"quantity": "3"`, `"quantity": 3`, 1),
		"bad quantity":      strings.Replace(ok, `"quantity": "3"`, `"quantity": "3."`, 1),
		"negative amount":   strings.Replace(ok, `499`, `-1`, 1),
		"status paid":       strings.Replace(ok, `"direction"`, `"status": "paid", "direction"`, 1),
		"bad tax rate":      strings.Replace(ok, `"quantity": "3"`, `"quantity": "3", "tax_rate": "20%"`, 1),
		"unknown field":     strings.Replace(ok, `"direction"`, `"tenant_id": "x", "direction"`, 1),
		"missing direction": strings.Replace(ok, `"direction": "payable",`, ``, 1),
	} {
		assert.Errorf(t, s.VisitJSON(decode(t, text), openapi3.VisitAsRequest()), "%s must be rejected", name)
	}
}

func TestProblemSchema(t *testing.T) {
	s := schema(t, "Problem")
	require.NoError(t, s.VisitJSON(decode(t, `{
	  "type": "about:blank", "title": "Unprocessable Entity", "status": 422,
	  "detail": "The request has 1 invalid field.", "instance": "req-1",
	  "code": "validation_failed", "errors": {"lines[0].quantity": "must be greater than 0"}
	}`)))
	assert.Error(t, s.VisitJSON(decode(t, `{"type": "about:blank", "title": "x", "status": 422}`)), "code is required")
	assert.Error(t, s.VisitJSON(decode(t, `{"type": "about:blank", "title": "x", "status": 422, "code": "c", "errors": {"a": 1}}`)), "messages are strings")
}

func TestJSON(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(JSON(), &doc))
	assert.Equal(t, "3.0.3", doc["openapi"])

	// The JSON form must describe the same contract as the YAML it came from.
	loader := openapi3.NewLoader()
	parsed, err := loader.LoadFromData(JSON())
	require.NoError(t, err)
	require.NoError(t, parsed.Validate(loader.Context))
	assert.Len(t, parsed.Paths.Map(), 4)
	assert.Equal(t, len(loadDoc(t).Components.Schemas), len(parsed.Components.Schemas))

	assert.Same(t, &JSON()[0], &JSON()[0], "the JSON form must be encoded once")
}
