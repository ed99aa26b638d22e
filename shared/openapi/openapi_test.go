package openapi

import (
	"bytes"
	"encoding/json"
	"maps"
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
	want := map[string]Operation{}
	for _, op := range []Operation{
		{"CounterpartiesCreate", http.MethodPost, "/v1/counterparties"},
		{"CounterpartiesList", http.MethodGet, "/v1/counterparties"},
		{"CounterpartiesGet", http.MethodGet, "/v1/counterparties/{id}"},
		{"CounterpartiesUpdate", http.MethodPatch, "/v1/counterparties/{id}"},
		{"CounterpartiesDelete", http.MethodDelete, "/v1/counterparties/{id}"},
		{"InvoicesCreate", http.MethodPost, "/v1/invoices"},
		{"InvoicesList", http.MethodGet, "/v1/invoices"},
		{"InvoicesGet", http.MethodGet, "/v1/invoices/{id}"},
		{"InvoicesUpdate", http.MethodPatch, "/v1/invoices/{id}"},
		{"InvoicesDelete", http.MethodDelete, "/v1/invoices/{id}"},
		{"InvoicesFinalize", http.MethodPost, "/v1/invoices/{id}/finalize"},
		{"InvoicesVoid", http.MethodPost, "/v1/invoices/{id}/void"},
		{"InvoicesMarkUncollectible", http.MethodPost, "/v1/invoices/{id}/mark-uncollectible"},
		{"InvoicesExport", http.MethodGet, "/v1/exports/invoices"},
		{"CreditNotesCreate", http.MethodPost, "/v1/invoices/{id}/credit-notes"},
		{"CreditNotesList", http.MethodGet, "/v1/invoices/{id}/credit-notes"},
		{"PaymentsCreate", http.MethodPost, "/v1/payments"},
		{"PaymentsList", http.MethodGet, "/v1/payments"},
		{"PaymentsGet", http.MethodGet, "/v1/payments/{id}"},
		{"PaymentsAllocate", http.MethodPost, "/v1/payments/{id}/allocations"},
		{"AllocationsReverse", http.MethodPost, "/v1/payments/{id}/allocations/{allocation_id}/reverse"},
		{"PaymentsReverse", http.MethodPost, "/v1/payments/{id}/reverse"},
		{"AdminDeadLettersList", http.MethodGet, "/v1/admin/dead-letters"},
		{"AdminDeadLettersReplay", http.MethodPost, "/v1/admin/dead-letters/{id}/replay"},
		{"ReconciliationSuggestionsList", http.MethodGet, "/v1/reconciliation/suggestions"},
		{"ReconciliationSuggestionsAccept", http.MethodPost, "/v1/reconciliation/suggestions/{id}/accept"},
		{"ReconciliationSuggestionsReject", http.MethodPost, "/v1/reconciliation/suggestions/{id}/reject"},
		{"WebhookEndpointsCreate", http.MethodPost, "/v1/webhook-endpoints"},
		{"WebhookEndpointsList", http.MethodGet, "/v1/webhook-endpoints"},
		{"WebhookEndpointsGet", http.MethodGet, "/v1/webhook-endpoints/{id}"},
		{"WebhookEndpointsDelete", http.MethodDelete, "/v1/webhook-endpoints/{id}"},
		{"WebhookDeliveriesList", http.MethodGet, "/v1/webhook-endpoints/{id}/deliveries"},
		{"ReportsAging", http.MethodGet, "/v1/reports/aging"},
		{"ReportsCashForecast", http.MethodGet, "/v1/reports/cash-forecast"},
		{"ApiClientsCreate", http.MethodPost, "/v1/api-clients"},
		{"ApiClientsList", http.MethodGet, "/v1/api-clients"},
		{"ApiClientsGet", http.MethodGet, "/v1/api-clients/{id}"},
		{"ApiClientsDelete", http.MethodDelete, "/v1/api-clients/{id}"},
		{"TenantIssuersCreate", http.MethodPost, "/v1/tenant/issuers"},
		{"TenantIssuersList", http.MethodGet, "/v1/tenant/issuers"},
		{"TenantIssuersGet", http.MethodGet, "/v1/tenant/issuers/{id}"},
		{"TenantIssuersDelete", http.MethodDelete, "/v1/tenant/issuers/{id}"},
		{"TenantSettingsGet", http.MethodGet, "/v1/tenant/settings"},
		{"TenantSettingsUpdate", http.MethodPatch, "/v1/tenant/settings"},
		{"TenantSettingsVersions", http.MethodGet, "/v1/tenant/settings/versions"},
		{"TenantFeaturesGet", http.MethodGet, "/v1/tenant/features"},
		{"TenantFeaturesPut", http.MethodPut, "/v1/tenant/features"},
		{"OAuthToken", http.MethodPost, "/v1/oauth/token"},
		{"JWKS", http.MethodGet, "/.well-known/jwks.json"},
		{"ImportsCreate", http.MethodPost, "/v1/imports"},
		{"ImportsList", http.MethodGet, "/v1/imports"},
		{"ImportsGet", http.MethodGet, "/v1/imports/{id}"},
		{"ImportsErrors", http.MethodGet, "/v1/imports/{id}/errors"},
		{"AgentRunsList", http.MethodGet, "/v1/agents/runs"},
		{"AgentUsageGet", http.MethodGet, "/v1/agents/usage"},
		{"ProposalsList", http.MethodGet, "/v1/proposals"},
		{"ProposalsGet", http.MethodGet, "/v1/proposals/{id}"},
		{"ProposalsApprove", http.MethodPost, "/v1/proposals/{id}/approve"},
		{"ProposalsReject", http.MethodPost, "/v1/proposals/{id}/reject"},
		{"AgentsAPExtract", http.MethodPost, "/v1/agents/ap/extract"},
		{"AgentsARCollections", http.MethodPost, "/v1/agents/ar/collections"},
		{"AgentsARCollectionsGet", http.MethodGet, "/v1/agents/ar/collections/{id}"},
		{"AgentsForecastNarrative", http.MethodGet, "/v1/agents/forecast/narrative"},
		{"AgentsMCP", http.MethodPost, "/v1/mcp"},
	} {
		want[op.ID] = op
	}
	assert.Len(t, want, 64)
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
				if publicOperations[op.OperationID] {
					requirePublicConventions(t, op)
					return
				}
				require.NotEmpty(t, *op.Security)
				assert.Contains(t, (*op.Security)[0], "bearerAuth")

				problems := []int{400, 401, 403, 500}
				if strings.Contains(path, "{id}") {
					problems = append(problems, 404)
				}
				switch method {
				case http.MethodPost:
					problems = append(problems, 409, 413, 415, 422)
				case http.MethodPatch:
					problems = append(problems, 409, 412, 413, 415, 422, 428)
				case http.MethodDelete:
					problems = append(problems, 409, 412)
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

				success := successResponse(t, op)
				if versioned(success) {
					assert.Contains(t, success.Headers, "ETag", "a versioned object comes with its ETag")
				}

				ifMatch := op.Parameters.GetByInAndName(openapi3.ParameterInHeader, "If-Match")
				switch method {
				case http.MethodPatch, http.MethodDelete:
					require.NotNil(t, ifMatch, "%s must read If-Match", method)
					// Declared optional even where it is needed: a missing If-Match must
					// reach the handler and answer 428, not fail validation with a 400.
					assert.False(t, ifMatch.Required)
				default:
					assert.Nil(t, ifMatch)
				}

				switch method {
				case http.MethodPatch:
					require.NotNil(t, op.RequestBody)
					assert.True(t, op.RequestBody.Value.Required)
					merge := op.RequestBody.Value.Content.Get("application/merge-patch+json")
					plain := op.RequestBody.Value.Content.Get("application/json")
					require.NotNil(t, merge, "PATCH takes application/merge-patch+json")
					require.NotNil(t, plain, "PATCH takes application/json")
					assert.Equal(t, merge.Schema.Ref, plain.Schema.Ref)
					assert.Empty(t, merge.Schema.Value.Required, "every member of a merge patch is optional")
				case http.MethodDelete:
					assert.Nil(t, op.RequestBody)
					deleted := op.Responses.Status(http.StatusNoContent)
					require.NotNil(t, deleted, "DELETE answers 204")
					assert.Empty(t, deleted.Value.Content)
				}

				key := op.Parameters.GetByInAndName(openapi3.ParameterInHeader, "Idempotency-Key")
				if method != http.MethodPost {
					assert.Nil(t, key, "only POSTs take an Idempotency-Key")
					return
				}
				if key == nil {
					// An operation whose answer carries a secret shown once takes no key
					// (the manifest marks it secret_response; the root package's test
					// checks they agree) and must say what a key gets instead.
					assert.Contains(t, op.Description, "idempotency_not_supported", "a POST without an Idempotency-Key must document its refusal")
					assert.NotContains(t, successResponse(t, op).Headers, "Idempotent-Replayed", "nothing is replayed without a key")
					return
				}
				assert.False(t, key.Required)
				assert.Equal(t, uint64(1), key.Schema.Value.MinLength)
				require.NotNil(t, key.Schema.Value.MaxLength)
				assert.Equal(t, uint64(255), *key.Schema.Value.MaxLength)

				require.NotNil(t, op.RequestBody)
				assert.Equal(t, !optionalBody[op.OperationID], op.RequestBody.Value.Required)
				if fileBody[op.OperationID] {
					// The body is the file itself (or a multipart form holding it).
					assert.Nil(t, op.RequestBody.Value.Content.Get("application/json"))
					assert.NotNil(t, op.RequestBody.Value.Content.Get("text/csv"))
					assert.NotNil(t, op.RequestBody.Value.Content.Get("multipart/form-data"))
				} else {
					assert.NotNil(t, op.RequestBody.Value.Content.Get("application/json"))
				}
				assert.Contains(t, success.Headers, "Idempotent-Replayed")
			})
		}
	}
}

// publicOperations are the operations anyone may call without a token; every other
// operation must state bearerAuth, so this list is the whole of what is public.
var publicOperations = map[string]bool{"OAuthToken": true, "JWKS": true}

// requirePublicConventions checks a public operation: it states an empty security
// requirement, and its errors are problems, the token endpoint's also OAuth 2.0
// errors (OAuthProblem). Idempotency keys and the API's JSON bodies do not apply: its
// protocol (RFC 6749, RFC 7517) defines its requests.
func requirePublicConventions(t *testing.T, op *openapi3.Operation) {
	t.Helper()
	assert.Empty(t, *op.Security, "a public operation states no security requirement")
	assert.Nil(t, op.Parameters.GetByInAndName(openapi3.ParameterInHeader, "Idempotency-Key"))
	for code, resp := range op.Responses.Map() {
		assert.Containsf(t, resp.Value.Headers, "X-Request-Id", "response %s must declare X-Request-Id", code)
		if strings.HasPrefix(code, "2") {
			continue
		}
		mt := resp.Value.Content.Get("application/problem+json")
		require.NotNilf(t, mt, "response %s must be application/problem+json", code)
		assert.Containsf(t, []string{"#/components/schemas/Problem", "#/components/schemas/OAuthProblem"}, mt.Schema.Ref, "response %s", code)
	}
	successResponse(t, op)
}

// optionalBody lists the POSTs whose body may be left out: state transitions
// that need nothing but, at most, a reason.
// fileBody lists the POSTs whose body is an uploaded file (manifest body "file").
var fileBody = map[string]bool{"ImportsCreate": true}

var optionalBody = map[string]bool{
	"AgentsARCollections":             true,
	"ProposalsApprove":                true,
	"AdminDeadLettersReplay":          true,
	"InvoicesFinalize":                true,
	"InvoicesVoid":                    true,
	"InvoicesMarkUncollectible":       true,
	"ReconciliationSuggestionsAccept": true,
	"ReconciliationSuggestionsReject": true,
}

// successResponse is the one 2xx response of op.
func successResponse(t *testing.T, op *openapi3.Operation) *openapi3.Response {
	t.Helper()
	var found *openapi3.Response
	for code, resp := range op.Responses.Map() {
		if strings.HasPrefix(code, "2") {
			require.Nil(t, found, "one success response per operation")
			found = resp.Value
		}
	}
	require.NotNil(t, found, "a success response")
	return found
}

// versioned tells whether a response returns an object with a version.
func versioned(resp *openapi3.Response) bool {
	mt := resp.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return false
	}
	_, ok := mt.Schema.Value.Properties["version"]
	return ok
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

// The list schemas are written out in full because allOf cannot combine
// closed objects; this keeps each from drifting apart from its full form.
func TestSummariesAreTheFullObjectWithoutItsChildren(t *testing.T) {
	for _, c := range []struct{ full, summary, children string }{
		{"Invoice", "InvoiceSummary", "lines"},
		{"Payment", "PaymentSummary", "allocations"},
		{"WebhookEndpointWithSecret", "WebhookEndpoint", "secret"},
		{"ApiClientWithSecret", "ApiClient", "secret"},
	} {
		t.Run(c.summary, func(t *testing.T) {
			full, summary := schema(t, c.full), schema(t, c.summary)
			wantProps := slices.Sorted(func(yield func(string) bool) {
				for name := range full.Properties {
					if name != c.children && !yield(name) {
						return
					}
				}
			})
			gotProps := slices.Sorted(maps.Keys(summary.Properties))
			assert.Equal(t, wantProps, gotProps)
			for _, name := range gotProps {
				a, err := json.Marshal(full.Properties[name])
				require.NoError(t, err)
				b, err := json.Marshal(summary.Properties[name])
				require.NoError(t, err)
				assert.JSONEqf(t, string(a), string(b), "property %s differs", name)
			}

			wantRequired := slices.DeleteFunc(slices.Clone(full.Required), func(s string) bool { return s == c.children })
			assert.ElementsMatch(t, wantRequired, summary.Required)
			assert.ElementsMatch(t, slices.Collect(maps.Keys(full.Properties)), full.Required,
				"every %s property is required", c.full)
		})
	}
}

// Response objects always carry every member, null when empty, so clients
// never have to tell a missing member from a null one.
func TestResponseObjectsRequireEveryProperty(t *testing.T) {
	for _, name := range []string{"Counterparty", "InvoiceLine", "CreditNote", "Allocation", "Payment", "WebhookEndpoint", "WebhookDelivery", "DeadLetter", "ApiClient", "OAuthToken", "TrustedIssuer"} {
		s := schema(t, name)
		assert.ElementsMatchf(t, slices.Collect(maps.Keys(s.Properties)), s.Required, "%s", name)
	}
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
  "voided_at": null,
  "uncollectible_at": null,
  "tax_rounding": "per_line",
  "lines": [
    {
      "id": "5a1c9e7b-3d2f-4b8a-8c6e-1f0d9a7b3e21",
      "position": 1,
      "description": "Consulting, March",
      "quantity": "2.5",
      "unit_amount_minor": 12000,
      "unit_price": null,
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
	assert.Len(t, parsed.Paths.Map(), len(loadDoc(t).Paths.Map()))
	assert.Equal(t, len(loadDoc(t).Components.Schemas), len(parsed.Components.Schemas))

	assert.Same(t, &JSON()[0], &JSON()[0], "the JSON form must be encoded once")
}

func TestInvoiceLinePriceIsOneOfTwo(t *testing.T) {
	s := schema(t, "Invoice")
	withLine := func(edit func(line map[string]any)) any {
		v := decode(t, sampleInvoice)
		edit(v.(map[string]any)["lines"].([]any)[0].(map[string]any))
		return v
	}
	assert.NoError(t, s.VisitJSON(withLine(func(l map[string]any) {
		l["unit_amount_minor"], l["unit_price"] = nil, "0.125"
	})), "a line priced in major units")
	assert.Error(t, s.VisitJSON(withLine(func(l map[string]any) { delete(l, "unit_price") })),
		"the unused price is null, not missing")
	assert.Error(t, s.VisitJSON(withLine(func(l map[string]any) { l["unit_price"] = 0.125 })),
		"a price is a decimal string")

	invoice := decode(t, sampleInvoice).(map[string]any)
	invoice["tax_rounding"] = "per_invoice"
	assert.Error(t, s.VisitJSON(invoice))

	// Exactly one of the two is checked by the server, so that a line with
	// both or neither is one 422 naming the line rather than a schema error.
	create := schema(t, "InvoiceLineCreate")
	for _, text := range []string{
		`{"description": "Paper", "quantity": "3", "unit_price": "0.125"}`,
		`{"description": "Paper", "quantity": "3", "unit_amount_minor": 13}`,
		`{"description": "Paper", "quantity": "3"}`,
	} {
		assert.NoError(t, create.VisitJSON(decode(t, text), openapi3.VisitAsRequest()), text)
	}
	assert.Error(t, create.VisitJSON(decode(t, `{"description": "Paper", "quantity": "3", "unit_price": "1e3"}`), openapi3.VisitAsRequest()))
}

func TestMergePatchSchemas(t *testing.T) {
	s := schema(t, "CounterpartyUpdate")
	for _, text := range []string{
		`{}`,
		`{"email": null, "tax_id": null, "default_currency": null, "external_id": null}`,
		`{"name": "Acme AG", "kind": "both", "payment_terms_days": 0, "default_currency": "CHF"}`,
	} {
		assert.NoError(t, s.VisitJSON(decode(t, text), openapi3.VisitAsRequest()), text)
	}
	for _, text := range []string{
		`{"name": null}`,
		`{"kind": null}`,
		`{"payment_terms_days": null}`,
		`{"payment_terms_days": 400}`,
		`{"default_currency": "usd"}`,
		`{"version": 2}`,
	} {
		assert.Error(t, s.VisitJSON(decode(t, text), openapi3.VisitAsRequest()), text)
	}

	inv := schema(t, "InvoiceUpdate")
	assert.NoError(t, inv.VisitJSON(decode(t, `{"memo": null, "external_id": null, "due_date": "2025-04-30"}`), openapi3.VisitAsRequest()))
	for _, text := range []string{`{"lines": []}`, `{"lines": null}`, `{"currency": null}`, `{"status": "open"}`} {
		assert.Error(t, inv.VisitJSON(decode(t, text), openapi3.VisitAsRequest()), text)
	}
}

const samplePayment = `{
  "id": "4f6e2d1c-8b3a-4c9e-a7d5-2e1f0b9c8a76",
  "object": "payment",
  "direction": "incoming",
  "status": "posted",
  "counterparty_id": "0b7e3c52-6a1f-4f0e-9a3d-2f6c1d8e4b90",
  "amount_minor": 50000,
  "amount_allocated_minor": 36000,
  "amount_unallocated_minor": 14000,
  "currency": "EUR",
  "value_date": "2025-03-20",
  "method": null,
  "reference": null,
  "external_id": null,
  "version": 2,
  "created_at": "2025-03-20T08:15:00Z",
  "updated_at": "2025-03-20T08:16:00Z",
  "reversed_at": null,
  "reversal_reason": null,
  "allocations": [
    {
      "id": "7b2a9d4e-1c3f-4e8a-b6d2-0a9c8e7f6d15",
      "object": "allocation",
      "payment_id": "4f6e2d1c-8b3a-4c9e-a7d5-2e1f0b9c8a76",
      "invoice_id": "9c4b2e1a-7f3d-4a6c-b5e8-0d1f2a3b4c5d",
      "amount_minor": 36000,
      "currency": "EUR",
      "effective_date": "2025-03-20",
      "status": "active",
      "created_at": "2025-03-20T08:16:00Z",
      "reversed_at": null,
      "reversal_reason": null
    }
  ]
}`

func TestPaymentSchema(t *testing.T) {
	s := schema(t, "Payment")
	require.NoError(t, s.VisitJSON(decode(t, samplePayment)))

	mutate := func(edit func(p map[string]any)) any {
		v := decode(t, samplePayment)
		edit(v.(map[string]any))
		return v
	}
	assert.NoError(t, s.VisitJSON(mutate(func(p map[string]any) { p["method"] = "bank_transfer" })))
	for name, v := range map[string]any{
		"unknown method":      mutate(func(p map[string]any) { p["method"] = "wire" }),
		"unknown status":      mutate(func(p map[string]any) { p["status"] = "pending" }),
		"zero amount":         mutate(func(p map[string]any) { p["amount_minor"] = 0 }),
		"missing allocations": mutate(func(p map[string]any) { delete(p, "allocations") }),
		"allocation status":   mutate(func(p map[string]any) { p["allocations"].([]any)[0].(map[string]any)["status"] = "posted" }),
	} {
		assert.Errorf(t, s.VisitJSON(v), "%s must be rejected", name)
	}

	summary := schema(t, "PaymentSummary")
	assert.Error(t, summary.VisitJSON(decode(t, samplePayment)))
	assert.NoError(t, summary.VisitJSON(mutate(func(p map[string]any) { delete(p, "allocations") })))

	create := schema(t, "PaymentCreate")
	require.NoError(t, create.VisitJSON(decode(t, `{
	  "direction": "outgoing", "counterparty_id": "0b7e3c52-6a1f-4f0e-9a3d-2f6c1d8e4b90",
	  "amount_minor": 1, "currency": "JPY", "value_date": "2025-03-20",
	  "allocations": [{"invoice_id": "9c4b2e1a-7f3d-4a6c-b5e8-0d1f2a3b4c5d", "amount_minor": 1}]
	}`), openapi3.VisitAsRequest()))
	assert.Error(t, schema(t, "PaymentAllocate").VisitJSON(decode(t, `{"allocations": []}`), openapi3.VisitAsRequest()))
	assert.Error(t, schema(t, "Reversal").VisitJSON(decode(t, `{}`), openapi3.VisitAsRequest()))
}
