package functions_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/platform"
)

type tenantSettings struct {
	ID            string `json:"id"`
	Object        string `json:"object"`
	Version       int    `json:"version"`
	EffectiveFrom string `json:"effective_from"`
	CreatedAt     string `json:"created_at"`
	CreatedBy     struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"created_by"`
	BaseCurrency                 string  `json:"base_currency"`
	AgingBuckets                 []int   `json:"aging_buckets"`
	TaxRounding                  string  `json:"tax_rounding"`
	InvoiceNumberFormat          string  `json:"invoice_number_format"`
	BillNumberFormat             string  `json:"bill_number_format"`
	CreditNoteNumberFormat       string  `json:"credit_note_number_format"`
	PaymentTermsDays             int     `json:"payment_terms_days"`
	DunningSchedule              []int   `json:"dunning_schedule"`
	ReconciliationAutoThreshold  float64 `json:"reconciliation_auto_threshold"`
	ReconciliationToleranceMinor int64   `json:"reconciliation_tolerance_minor"`
	AgentBudgetMonthlyMinor      int64   `json:"agent_budget_monthly_minor"`
}

type tenantFeatures struct {
	Object    string          `json:"object"`
	Flags     map[string]bool `json:"flags"`
	Version   int             `json:"version"`
	UpdatedAt string          `json:"updated_at"`
}

// withMemoryCache gives the functions one in-process cache, as an instance without
// Redis has.
func withMemoryCache(d *platform.Deps) { d.Cache = cache.NewMemory(cache.DefaultMemoryEntries) }

func decodeSettings(t *testing.T, resp apitest.Response) tenantSettings {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var v tenantSettings
	resp.JSON(t, &v)
	require.Equal(t, etag(v.Version), resp.Header.Get("ETag"), "the ETag is the version")
	return v
}

func getSettings(t *testing.T, s *apitest.Server, token, query string) tenantSettings {
	t.Helper()
	return decodeSettings(t, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/settings" + query, Token: token}))
}

func patchSettings(s *apitest.Server, t *testing.T, token, ifMatch string, body any) apitest.Response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/merge-patch+json"}
	if ifMatch != "" {
		h["If-Match"] = ifMatch
	}
	return s.Do(t, apitest.Request{Method: "PATCH", Path: "/v1/tenant/settings", Token: token, Body: body, Header: h})
}

func putFeatures(t *testing.T, s *apitest.Server, token string, flags map[string]bool) tenantFeatures {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "PUT", Path: "/v1/tenant/features", Token: token, Body: map[string]any{"flags": flags}})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var f tenantFeatures
	resp.JSON(t, &f)
	require.Equal(t, etag(f.Version), resp.Header.Get("ETag"))
	return f
}

func TestTenantSettingsVersions(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, withMemoryCache)
	f := newFixture(t, s, "Settings")

	v1 := getSettings(t, s, f.token, "")
	require.Equal(t, 1, v1.Version)
	require.Equal(t, "tenant_settings", v1.Object)
	require.Equal(t, "USD", v1.BaseCurrency)
	require.Equal(t, []int{30, 60, 90}, v1.AgingBuckets)
	require.Equal(t, "INV-{number:6}", v1.InvoiceNumberFormat)

	wantProblem(t, patchSettings(s, t, f.token, "", map[string]any{"payment_terms_days": 45}),
		http.StatusPreconditionRequired, "precondition_required")
	v2 := decodeSettings(t, patchSettings(s, t, f.token, etag(1), map[string]any{"payment_terms_days": 45, "dunning_schedule": []int{10}}))
	require.Equal(t, 2, v2.Version)
	require.Equal(t, 45, v2.PaymentTermsDays)
	require.Equal(t, []int{10}, v2.DunningSchedule)
	require.Equal(t, "user", v2.CreatedBy.Type)
	require.Equal(t, v2, getSettings(t, s, f.token, ""), "in effect at once")
	wantProblem(t, patchSettings(s, t, f.token, etag(1), map[string]any{"payment_terms_days": 60}),
		http.StatusPreconditionFailed, "version_conflict")

	// Scheduled for later: not in effect now, in effect as of then.
	later := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	v3 := decodeSettings(t, patchSettings(s, t, f.token, etag(2), map[string]any{
		"aging_buckets": []int{15, 45}, "effective_from": later.Format(time.RFC3339)}))
	require.Equal(t, 3, v3.Version)
	require.Equal(t, later.Format(time.RFC3339), v3.EffectiveFrom)
	require.Equal(t, 2, getSettings(t, s, f.token, "").Version)
	asOf := func(at time.Time) string { return "?as_of=" + url.QueryEscape(at.Format(time.RFC3339Nano)) }
	require.Equal(t, v3, getSettings(t, s, f.token, asOf(later)))
	require.Equal(t, 2, getSettings(t, s, f.token, asOf(later.Add(-time.Second))).Version)
	require.Equal(t, 1, getSettings(t, s, f.token, asOf(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))).Version)
	bad := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/settings?as_of=yesterday", Token: f.token})
	require.Equal(t, http.StatusBadRequest, bad.Status, string(bad.Body))

	// While version 3 is scheduled, a change takes effect at or after it.
	p := wantProblem(t, patchSettings(s, t, f.token, etag(3), map[string]any{"payment_terms_days": 10}),
		http.StatusUnprocessableEntity, "validation_failed")
	require.Contains(t, p.Errors, "effective_from")

	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/settings/versions?limit=2", Token: f.token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var page struct {
		Data    []tenantSettings `json:"data"`
		HasMore bool             `json:"has_more"`
	}
	resp.JSON(t, &page)
	require.True(t, page.HasMore)
	require.Equal(t, []tenantSettings{v3, v2}, page.Data)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/settings/versions?starting_after=" + v2.ID, Token: f.token})
	resp.JSON(t, &page)
	require.False(t, page.HasMore)
	require.Equal(t, []tenantSettings{v1}, page.Data)

	audit := f.auditOf(t, f.tenant.String())
	require.Len(t, audit, 2)
	require.Equal(t, "tenant_settings.updated", audit[1].Action)
	out := f.outboxOf(t, f.tenant.String())
	require.Equal(t, []int{2, 3}, []int{out[0].Version, out[1].Version})
}

func TestTenantSettingsValidation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, tok := s.Tenant(t, "Strict")

	cases := map[string]struct {
		body   string
		status int
		code   string
		fields []string
	}{
		"rules": {`{"aging_buckets": [60, 30], "invoice_number_format": "INV-{seq}", "dunning_schedule": [7, 7]}`,
			422, "validation_failed", []string{"aging_buckets", "invoice_number_format", "dunning_schedule"}},
		"contract": {`{"tax_rounding": "per_invoice", "aging_buckets": [0]}`, 422, "validation_failed", []string{"tax_rounding"}},
		"ranges": {`{"payment_terms_days": 400, "reconciliation_auto_threshold": 0, "base_currency": "usd"}`,
			422, "validation_failed", []string{"payment_terms_days", "reconciliation_auto_threshold", "base_currency"}},
		"null":          {`{"dunning_schedule": null}`, 422, "validation_failed", []string{"dunning_schedule"}},
		"past":          {`{"tax_rounding": "per_document", "effective_from": "2020-01-01T00:00:00Z"}`, 422, "validation_failed", []string{"effective_from"}},
		"unknown field": {`{"timezone": "Europe/Berlin"}`, 400, "unknown_field", []string{"timezone"}},
		"wrong type":    {`{"payment_terms_days": "30"}`, 422, "validation_failed", []string{"payment_terms_days"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := wantProblem(t, patchSettings(s, t, tok, etag(1), tc.body), tc.status, tc.code)
			for _, field := range tc.fields {
				require.Contains(t, p.Errors, field, string(tc.body))
			}
		})
	}
	require.Equal(t, 1, getSettings(t, s, tok, "").Version, "nothing refused was stored")
}

func TestTenantSettingsAndFeaturesAreTheTenantsOwn(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, withMemoryCache)
	a, tokA := s.Tenant(t, "A")
	_, tokB := s.Tenant(t, "B")
	decodeSettings(t, patchSettings(s, t, tokA, etag(1), map[string]any{"base_currency": "EUR"}))
	putFeatures(t, s, tokA, map[string]bool{"agents": true})

	b := getSettings(t, s, tokB, "")
	require.Equal(t, 1, b.Version)
	require.Equal(t, "USD", b.BaseCurrency)
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/features", Token: tokB})
	require.Equal(t, http.StatusOK, resp.Status)
	var fb tenantFeatures
	resp.JSON(t, &fb)
	require.False(t, fb.Flags["agents"])

	// Reading is for every role that reads the books; changing is for owners and admins.
	viewer := s.Token(t, a, auth.RoleViewer)
	require.Equal(t, "EUR", getSettings(t, s, viewer, "").BaseCurrency)
	wantProblem(t, patchSettings(s, t, viewer, etag(2), map[string]any{"base_currency": "GBP"}), http.StatusForbidden, "forbidden")
	accountant := s.Token(t, a, auth.RoleAccountant)
	wantProblem(t, s.Do(t, apitest.Request{Method: "PUT", Path: "/v1/tenant/features", Token: accountant,
		Body: map[string]any{"flags": map[string]bool{}}}), http.StatusForbidden, "forbidden")
}

// Documents keep what they were computed with: the tax rounding and number of an
// issued invoice never change when the settings do, and the new settings apply to
// what is computed after they take effect.
func TestIssuedDocumentsKeepTheirSettings(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, withMemoryCache)
	f := newFixture(t, s, "Keeper")
	thirds := map[string]any{"status": "open", "lines": []map[string]any{
		{"description": "a", "quantity": "0.333", "unit_amount_minor": 100, "tax_rate": "20"},
		{"description": "b", "quantity": "0.333", "unit_amount_minor": 100, "tax_rate": "20"},
		{"description": "c", "quantity": "0.333", "unit_amount_minor": 100, "tax_rate": "20"},
	}}
	before := f.newInvoice(t, thirds)
	require.Equal(t, "INV-000001", *before.Number)
	require.Equal(t, "per_line", before.TaxRounding)
	require.Equal(t, int64(21), before.TaxMinor)
	draft := f.newInvoice(t, map[string]any{"lines": thirds["lines"]})

	decodeSettings(t, patchSettings(s, t, f.token, etag(1), map[string]any{
		"tax_rounding": "per_document", "invoice_number_format": "R{yyyy}-{number:4}",
		"bill_number_format": "AP/{number}", "credit_note_number_format": "CR-{yy}{mm}-{number:3}",
	}))

	require.Equal(t, before, f.fetchInvoice(t, before.ID), "the issued invoice is unchanged")

	after := f.newInvoice(t, thirds)
	require.Equal(t, "per_document", after.TaxRounding)
	require.Equal(t, int64(20), after.TaxMinor)
	require.Equal(t, "R2026-0002", *after.Number, "the sequence goes on in the new format")

	// A draft keeps the rounding it was priced with; its number is assigned when issued.
	issued := decodeInvoice(t, f.call(t, "POST", "/v1/invoices/"+draft.ID+"/finalize", nil), http.StatusOK)
	require.Equal(t, "per_line", issued.TaxRounding)
	require.Equal(t, draft.TaxMinor, issued.TaxMinor)
	require.Equal(t, "R2026-0003", *issued.Number)

	bill := f.newInvoice(t, map[string]any{"status": "open", "direction": "payable", "counterparty_id": f.vendor})
	require.Equal(t, "AP/1", *bill.Number)
	cn := f.mustCredit(t, before.ID, map[string]any{"reason": "Goodwill", "amount_minor": 10, "effective_date": "2026-11-20"})
	require.Equal(t, "CR-2611-001", cn.Number)
}

func TestTenantFeatures(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, withMemoryCache)
	_, tok := s.Tenant(t, "Flags")

	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/features", Token: tok})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var f tenantFeatures
	resp.JSON(t, &f)
	require.Equal(t, tenantFeatures{Object: "tenant_features", Flags: map[string]bool{"agents": false, "auto_reconcile": true, "webhooks": true},
		Version: 1, UpdatedAt: f.UpdatedAt}, f)
	require.Equal(t, etag(1), resp.Header.Get("ETag"))

	f = putFeatures(t, s, tok, map[string]bool{"agents": true, "webhooks": false})
	require.Equal(t, map[string]bool{"agents": true, "auto_reconcile": true, "webhooks": false}, f.Flags)
	require.Equal(t, 2, f.Version)

	p := wantProblem(t, s.Do(t, apitest.Request{Method: "PUT", Path: "/v1/tenant/features", Token: tok,
		Body: map[string]any{"flags": map[string]bool{"agents": true, "dark_mode": true}}}), http.StatusUnprocessableEntity, "validation_failed")
	require.Equal(t, map[string]string{"flags.dark_mode": "is not a known feature flag (agents, auto_reconcile, webhooks)"}, p.Errors)
	wantProblem(t, s.Do(t, apitest.Request{Method: "PUT", Path: "/v1/tenant/features", Token: tok,
		Body: map[string]any{"flags": map[string]any{"agents": "yes"}}}), http.StatusUnprocessableEntity, "validation_failed")
	wantProblem(t, s.Do(t, apitest.Request{Method: "PUT", Path: "/v1/tenant/features", Token: tok, Body: map[string]any{}}),
		http.StatusUnprocessableEntity, "validation_failed")

	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/features", Token: tok})
	resp.JSON(t, &f)
	require.Equal(t, 2, f.Version, "refused changes stored nothing")
	require.False(t, f.Flags["webhooks"])
}

func TestAutoReconcileFlag(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, withMemoryCache)
	f := newFixture(t, s, "Reconciler")
	first := f.openInvoice(t, nil)
	second := f.openInvoice(t, nil)

	// Off: the match that would be allocated without asking is a suggestion.
	putFeatures(t, s, f.token, map[string]bool{"auto_reconcile": false})
	require.NoError(t, f.inbound(t, "msg-off", map[string]any{"reference": "Remittance " + *first.Number}))
	p, ok := f.paymentByExternalID(t, "bank-1")
	require.True(t, ok)
	require.Zero(t, p.AmountAllocatedMinor)
	named := false
	for _, sg := range f.suggestions(t, "?status=pending") {
		require.Equal(t, p.ID, sg.PaymentID)
		named = named || sg.Amounts[0].InvoiceID == first.ID && sg.Score >= 0.9
	}
	require.True(t, named, "the invoice the reference names is suggested with the score that would have allocated it")
	require.Equal(t, "open", f.getInvoice(t, first.ID).Status)

	// On again (the default): allocated at once.
	putFeatures(t, s, f.token, map[string]bool{})
	require.NoError(t, f.inbound(t, "msg-on", map[string]any{"external_id": "bank-2", "reference": "Remittance " + *second.Number}))
	p, ok = f.paymentByExternalID(t, "bank-2")
	require.True(t, ok)
	require.Equal(t, int64(45000), p.AmountAllocatedMinor)
	require.Equal(t, "paid", f.getInvoice(t, second.ID).Status)
}

func TestWebhooksFlag(t *testing.T) {
	t.Parallel()
	pub := &capturedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub), withMemoryCache)
	_, tok := s.Tenant(t, "Hooked")
	recv := newReceiver(t)
	ep := createEndpoint(t, s, tok, recv.srv.URL+"/hook", "counterparty.created")
	newCustomer := func(name string) {
		require.Equal(t, http.StatusCreated, s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: tok,
			Body: map[string]any{"name": name, "kind": "customer"}}).Status)
	}

	// Off: the event is acknowledged and nothing is sent, now or later.
	putFeatures(t, s, tok, map[string]bool{"webhooks": false})
	newCustomer("Quiet")
	quiet := eventMessage(t, pub.last(t, "counterparty.created"))
	require.NoError(t, s.Deliver(t, "WebhookDispatch", quiet))
	require.Zero(t, recv.total())
	require.Empty(t, deliveries(t, s, tok, ep.ID))

	putFeatures(t, s, tok, map[string]bool{"webhooks": true})
	newCustomer("Loud")
	require.NoError(t, s.Deliver(t, "WebhookDispatch", eventMessage(t, pub.last(t, "counterparty.created"))))
	require.Equal(t, 1, recv.total())

	var n int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`,
		ep.ID).Scan(&n))
	require.Equal(t, 1, n, "the event raised while webhooks were off was never delivered")
}
