package functions_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// resourceKind is a kind of object a path parameter can name: the table it lives in.
type resourceKind struct {
	table string
}

var resourceKinds = map[string]resourceKind{
	"counterparty":              {table: "counterparties"},
	"invoice":                   {table: "invoices"},
	"payment":                   {table: "payments"},
	"allocation":                {table: "allocations"},
	"webhook_endpoint":          {table: "webhook_endpoints"},
	"reconciliation_suggestion": {table: "reconciliation_suggestions"},
	"api_client":                {table: "api_clients"},
	"trusted_issuer":            {table: "trusted_issuers"},
	"import":                    {table: "imports"},
	"proposal":                  {table: "proposals"},
	"collection_run":            {table: "collection_runs"},
}

// probeTargets maps a path prefix to the kind each of its path parameters names. An
// operation is probed when its path starts with one of these prefixes (the longest
// wins).
var probeTargets = map[string]map[string]string{
	"/v1/counterparties/":             {"id": "counterparty"},
	"/v1/invoices/":                   {"id": "invoice"},
	"/v1/payments/":                   {"id": "payment", "allocation_id": "allocation"},
	"/v1/webhook-endpoints/":          {"id": "webhook_endpoint"},
	"/v1/reconciliation/suggestions/": {"id": "reconciliation_suggestion"},
	"/v1/api-clients/":                {"id": "api_client"},
	"/v1/tenant/issuers/":             {"id": "trusted_issuer"},
	"/v1/imports/":                    {"id": "import"},
	"/v1/proposals/":                  {"id": "proposal"},
	"/v1/agents/ar/collections/":      {"id": "collection_run"},
}

// notProbed lists the id-taking operations the cross-tenant probes do not call, each
// with the reason. An id-taking operation that is neither probed nor listed here fails
// TestCrossTenant.
var notProbed = map[string]string{
	"AdminDeadLettersReplay": "a platform operation: it works across tenants by design, behind the platform_admin claim; " +
		"every tenant role is refused with 403 (TestRBACMatrixOverHTTP)",
}

// probeBodies are request bodies that would succeed against the caller's own resource,
// so a probe that reached a foreign resource would act on it rather than fail
// validation first. b is the probing tenant.
var probeBodies = map[string]func(b *tenantBooks) any{
	"CounterpartiesUpdate":      func(*tenantBooks) any { return map[string]any{"name": "hijacked"} },
	"InvoicesUpdate":            func(*tenantBooks) any { return map[string]any{"memo": "hijacked"} },
	"InvoicesVoid":              func(*tenantBooks) any { return map[string]any{"reason": "hijacked"} },
	"InvoicesMarkUncollectible": func(*tenantBooks) any { return map[string]any{"reason": "hijacked"} },
	"CreditNotesCreate":         func(*tenantBooks) any { return map[string]any{"reason": "hijacked", "amount_minor": 1} },
	"PaymentsAllocate": func(b *tenantBooks) any {
		return map[string]any{"allocations": []any{map[string]any{"invoice_id": b.ids["invoice"][0], "amount_minor": 1}}}
	},
	"AllocationsReverse": func(*tenantBooks) any { return map[string]any{"reason": "hijacked"} },
	"PaymentsReverse":    func(*tenantBooks) any { return map[string]any{"reason": "hijacked"} },
	"ProposalsReject":    func(*tenantBooks) any { return map[string]any{"reason": "hijacked"} },
}

// listQueries are the query strings list and report operations need to return data.
var listQueries = map[string]string{
	"ReportsAging":        "?as_of=2026-12-31",
	"ReportsCashForecast": "?as_of=2026-11-01",
}

// listsWithoutControl are read operations whose answer need not show the caller's own
// ids: the check that the foreign tenant's ids are absent would prove nothing there,
// so it is said why.
var listsWithoutControl = map[string]string{
	"ReportsCashForecast": "aggregates by currency and week: it names no object",
	"TenantFeaturesGet":   "the fixed set of feature flags with the tenant's values: it names no object",
	"AgentUsageGet":       "the tenant's agent spend this month, by agent: it names no object",
}

// tenantBooks is one tenant with a little of everything: the objects every probe and
// list needs, and rows in as many tenant tables as the API can reach.
type tenantBooks struct {
	fixture
	marker string
	ids    map[string][]string // kind → ids, the first being the general-purpose one
}

// topicSink keeps what the functions publish to topics other than the events topic
// (the daily close's per-tenant messages, an import's chunks), to deliver by hand.
type topicSink struct {
	mu   sync.Mutex
	msgs map[string][]events.RawMessage
}

func (k *topicSink) PublishRaw(_ context.Context, topic string, m events.RawMessage) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.msgs == nil {
		k.msgs = map[string][]events.RawMessage{}
	}
	k.msgs[topic] = append(k.msgs[topic], m)
	return uuid.NewString(), nil
}

// deliver hands every message published to topic so far to the processor name, once.
func (k *topicSink) deliver(t *testing.T, s *apitest.Server, topic, name string) {
	t.Helper()
	k.mu.Lock()
	msgs := k.msgs[topic]
	delete(k.msgs, topic)
	k.mu.Unlock()
	require.NotEmpty(t, msgs, "nothing was published to %s", topic)
	for _, m := range msgs {
		require.NoError(t, s.Deliver(t, name, platform.Message{Data: m.Data, Attributes: m.Attributes, OrderingKey: m.OrderingKey}))
	}
}

// seedBooks fills a tenant through the API and the processors, as its users would.
func seedBooks(t *testing.T, s *apitest.Server, pub *capturedEvents, recv *receiver, marker string) *tenantBooks {
	t.Helper()
	b := &tenantBooks{fixture: newFixture(t, s, marker), marker: marker, ids: map[string][]string{}}
	add := func(kind, id string) {
		require.NotEmpty(t, id, kind)
		b.ids[kind] = append(b.ids[kind], id)
	}
	add("counterparty", b.customer)
	add("counterparty", b.vendor)

	// Two open invoices of the same amount: an unreferenced bank payment fits both, so
	// the matcher leaves suggestions for a person.
	open1 := b.openInvoice(t, nil)
	open2 := b.openInvoice(t, nil)
	require.NoError(t, b.inbound(t, marker+"-bank-msg", map[string]any{"external_id": marker + "-bank-1"}))
	unallocated, ok := b.paymentByExternalID(t, marker+"-bank-1")
	require.True(t, ok)
	for _, sg := range b.suggestions(t, "?payment_id="+unallocated.ID) {
		add("reconciliation_suggestion", sg.ID)
	}

	_, draft := b.create(t, b.invoiceBody(map[string]any{"memo": marker + " draft"}))
	add("invoice", open1.ID)
	add("invoice", draft.ID)
	add("invoice", open2.ID)
	late := b.openInvoice(t, map[string]any{"issue_date": "2026-09-01", "due_date": "2026-09-15"})
	add("invoice", late.ID)
	b.mustCredit(t, open1.ID, map[string]any{"reason": marker + " goodwill", "amount_minor": 1000})

	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/payments", Token: b.token,
		Header: map[string]string{"Idempotency-Key": marker + "-payment-1"},
		Body: map[string]any{"direction": "incoming", "counterparty_id": b.customer, "amount_minor": 60000, "currency": "USD",
			"value_date": "2026-11-10", "reference": marker + " transfer", "allocations": []any{alloc(open2.ID, 10000)}}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var allocated payment
	resp.JSON(t, &allocated)
	add("payment", allocated.ID)
	add("payment", unallocated.ID)
	add("allocation", allocated.Allocations[0].ID)

	// A webhook endpoint with a delivery in its log.
	endpoint := createEndpoint(t, s, b.token, recv.srv.URL+"/"+marker, "*")
	add("webhook_endpoint", endpoint.ID)
	b.counterparty(t, map[string]any{"name": marker + " hook trigger", "kind": "both"})
	require.NoError(t, s.Deliver(t, "WebhookDispatch", eventMessage(t, pub.last(t, "counterparty.created"))))

	// An API client.
	add("api_client", createAPIClient(t, s, b.token, marker+" ERP", "viewer").ID)

	// An upstream invoice, and one the processor turned away.
	require.NoError(t, b.deliverERP(t, marker+"-erp-1", b.erpDoc(marker+"-NS-1", 1, nil)))
	require.NoError(t, b.deliverERP(t, marker+"-erp-2", b.erpDoc(marker+"-NS-2", 1, func(inv map[string]any) { inv["currency"] = "usd" })))
	// A bank payment the processor turned away.
	require.NoError(t, b.inbound(t, marker+"-bank-bad", map[string]any{"external_id": marker + "-bank-bad", "amount_minor": -5}))

	// A trusted issuer, and an import with a row it will refuse.
	host := strings.ToLower(marker) + ".example.com"
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/tenant/issuers", Token: b.token,
		Body: map[string]any{"issuer": "https://" + host + "/", "audience": "https://api." + host, "jwks_url": "https://" + host + "/jwks.json",
			"roles_claim": "roles", "role_mapping": map[string]string{"Readers": "viewer"},
			"binding": map[string]string{"claim": "org_id", "value": marker}}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	add("trusted_issuer", idOf(t, resp))
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/imports?kind=counterparties", Token: b.token,
		Header: map[string]string{"Content-Type": "text/csv"},
		Body:   "external_id,name,kind\n" + marker + "-imp-1," + marker + " imported,customer\n" + marker + "-imp-2,,nobody\n"})
	require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
	add("import", idOf(t, resp))

	// The agents at work: a bill drafted from a document, and a collections run over the
	// overdue customer, each leaving proposals for a person.
	agentsOn(t, s, b.token)
	resp = extractBill(s, t, b.token, map[string]any{"text": strings.ReplaceAll(acmeBill, "Acme Supplies", marker+" Supplies")}, nil)
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	add("proposal", idOf(t, resp))
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/agents/ar/collections", Token: b.token})
	require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
	add("collection_run", idOf(t, resp))
	return b
}

func idOf(t *testing.T, resp apitest.Response) string {
	t.Helper()
	var v struct{ ID string }
	resp.JSON(t, &v)
	require.NotEmpty(t, v.ID, string(resp.Body))
	return v.ID
}

// tenantTables lists the tables the catalog says are tenant-scoped: those with a
// tenant_id column, and tenants itself.
func tenantTables(t *testing.T, s *apitest.Server) []string {
	t.Helper()
	rows, err := s.DB.Admin.Query(context.Background(), `
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
   AND (c.relname = 'tenants' OR EXISTS (
        SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
 ORDER BY 1`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "invoices")
	return tables
}

func tenantColumn(table string) string {
	if table == "tenants" {
		return "id"
	}
	return "tenant_id"
}

// fingerprint is a digest of every row a tenant has, table by table, read past RLS.
func fingerprint(t *testing.T, s *apitest.Server, tables []string, tenant uuid.UUID) map[string]string {
	t.Helper()
	parts := make([]string, len(tables))
	for i, tbl := range tables {
		parts[i] = fmt.Sprintf(`SELECT '%[1]s', count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))
  FROM %[1]s x WHERE x.%[2]s = $1`, tbl, tenantColumn(tbl))
	}
	rows, err := s.DB.Admin.Query(context.Background(), strings.Join(parts, " UNION ALL "), tenant)
	require.NoError(t, err)
	out := map[string]string{}
	for rows.Next() {
		var tbl, digest string
		require.NoError(t, rows.Scan(&tbl, &digest))
		out[tbl] = digest
	}
	require.NoError(t, rows.Err())
	return out
}

func changedTables(before, after map[string]string) []string {
	var changed []string
	for tbl, d := range before {
		if after[tbl] != d {
			changed = append(changed, tbl)
		}
	}
	sort.Strings(changed)
	return changed
}

// secrets are the strings that would give one tenant's data away: the ids of every
// row it has in any table, its tenant id and its marker (in its objects' names).
func secrets(t *testing.T, s *apitest.Server, tables []string, b *tenantBooks) []string {
	t.Helper()
	out := []string{b.tenant.String(), b.marker}
	for _, tbl := range tables {
		var hasID bool
		require.NoError(t, s.DB.Admin.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'id' AND data_type = 'uuid')`, tbl).Scan(&hasID))
		if !hasID || tbl == "tenants" {
			continue
		}
		rows, err := s.DB.Admin.Query(context.Background(), `SELECT id::text FROM `+tbl+` WHERE tenant_id = $1`, b.tenant)
		require.NoError(t, err)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		out = append(out, ids...)
	}
	return out
}

func leaked(body []byte, secrets []string) []string {
	var found []string
	for _, s := range secrets {
		if strings.Contains(string(body), s) {
			found = append(found, s)
		}
	}
	return found
}

// targetsOf returns the kinds fn's path parameters name, or nil when no probe target
// covers its path.
func targetsOf(fn manifest.Function) (params []string, kinds map[string]string) {
	best := ""
	for prefix := range probeTargets {
		if strings.HasPrefix(fn.Path, prefix) && len(prefix) > len(best) {
			best = prefix
		}
	}
	for _, m := range pathParam.FindAllString(fn.Path, -1) {
		params = append(params, strings.Trim(m, "{}"))
	}
	if best == "" {
		return params, nil
	}
	kinds = map[string]string{}
	for _, p := range params {
		kind, ok := probeTargets[best][p]
		if !ok {
			return params, nil
		}
		kinds[p] = kind
	}
	return params, kinds
}

// fillPath puts values into fn's path parameters.
func fillPath(path string, values map[string]string) string {
	return pathParam.ReplaceAllStringFunc(path, func(m string) string { return values[strings.Trim(m, "{}")] })
}

// probeCombos are the parameter values of the probes of one operation: every
// combination of the owner's ids and the prober's own first id in which at least one
// value is the owner's.
func probeCombos(params []string, kinds map[string]string, owner, prober *tenantBooks) []map[string]string {
	combos := []map[string]string{{}}
	foreign := []bool{false}
	for _, p := range params {
		var next []map[string]string
		var nextForeign []bool
		for i, c := range combos {
			options := append([]string{}, owner.ids[kinds[p]]...)
			for _, v := range append(options, prober.ids[kinds[p]][0]) {
				m := map[string]string{}
				for k, x := range c {
					m[k] = x
				}
				m[p] = v
				next = append(next, m)
				nextForeign = append(nextForeign, foreign[i] || slices.Contains(owner.ids[kinds[p]], v))
			}
		}
		combos, foreign = next, nextForeign
	}
	var out []map[string]string
	for i, c := range combos {
		if foreign[i] {
			out = append(out, c)
		}
	}
	return out
}

// TestCrossTenant seeds two tenants with the same kinds of objects and checks, for
// every operation of the manifest, that tenant B's owner can neither see nor touch
// anything of tenant A's: each of A's ids answers 404 and changes nothing,
// and no read shows any of A's ids. Then it checks the same boundary one layer down,
// in the database.
func TestCrossTenant(t *testing.T) {
	t.Parallel()
	pub := &capturedEvents{}
	sink := &topicSink{}
	s := apitest.New(t, apitest.WithPublisher(pub), func(d *platform.Deps) { d.RawPublisher = sink }, withAgents)
	recv := newReceiver(t)
	a := seedBooks(t, s, pub, recv, "Alphaqx")
	b := seedBooks(t, s, pub, recv, "Betazv")
	sink.deliver(t, s, "ledgerline-import-chunks", "ImportChunks")

	// The daily close: overdue marks, dunning proposals and aging snapshots for both.
	require.NoError(t, s.Deliver(t, "DailyClose", platform.Message{PublishTime: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)}))
	sink.deliver(t, s, "ledgerline-tenant-close", "TenantClose")

	// From here on both tenants act as their owner, the most powerful caller a tenant
	// can field.
	a.token, b.token = s.Token(t, a.tenant, auth.RoleOwner), s.Token(t, b.tenant, auth.RoleOwner)

	tables := tenantTables(t, s)
	aSecrets := secrets(t, s, tables, a)
	require.Greater(t, len(aSecrets), 20, "tenant A has rows to protect")

	t.Run("every id-taking operation is probed or listed", func(t *testing.T) {
		var missing []string
		for _, fn := range httpOperations(t) {
			params, kinds := targetsOf(fn)
			if len(params) == 0 || kinds != nil {
				continue
			}
			if _, ok := notProbed[fn.Name]; !ok {
				missing = append(missing, fmt.Sprintf("%s (%s %s): add its path to probeTargets with a creator in seedBooks, or list it in notProbed with the reason",
					fn.Name, fn.Method, fn.Path))
			}
		}
		require.Empty(t, missing, strings.Join(missing, "\n"))
		for name := range notProbed {
			_, ok := manifest.Lookup(name)
			require.True(t, ok, "notProbed names %s, which is not in the manifest", name)
		}
	})

	t.Run("foreign ids answer 404 and change nothing", func(t *testing.T) {
		probed := 0
		for _, fn := range httpOperations(t) {
			params, kinds := targetsOf(fn)
			if len(params) == 0 || kinds == nil || fn.Public() {
				continue
			}
			for _, values := range probeCombos(params, kinds, a, b) {
				before := fingerprint(t, s, tables, a.tenant)
				req := apitest.Request{Method: fn.Method, Path: fillPath(fn.Path, values), Token: b.token, Header: map[string]string{}}
				if body, ok := probeBodies[fn.Name]; ok {
					req.Body = body(b)
				} else if fn.Method == http.MethodPost || fn.Method == http.MethodPatch {
					req.Body = "{}"
				}
				if fn.Method == http.MethodPatch || fn.Method == http.MethodDelete {
					// The owner's current version: were the row visible, the write would go through.
					var version *string
					kind := resourceKinds[kinds[params[0]]]
					require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
						`SELECT to_jsonb(x)->>'version' FROM `+kind.table+` x WHERE id = $1`, values[params[0]]).Scan(&version))
					if version != nil {
						req.Header["If-Match"] = `"` + *version + `"`
					} else {
						req.Header["If-Match"] = `"1"`
					}
				}
				what := fmt.Sprintf("%s %s as the other tenant", fn.Method, req.Path)
				resp := s.Do(t, req)
				require.Equal(t, http.StatusNotFound, resp.Status,
					"%s: want 404, got %d (a 400/422 means probeBodies needs a valid body for %s): %s", what, resp.Status, fn.Name, resp.Body)
				require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), what)
				require.Empty(t, leaked(resp.Body, aSecrets), "%s: the refusal names the owner's data: %s", what, resp.Body)
				after := fingerprint(t, s, tables, a.tenant)
				require.Empty(t, changedTables(before, after), "%s changed the owner's rows", what)
				probed++
			}
		}
		require.Greater(t, probed, 20)
		t.Logf("%d probes", probed)
	})

	t.Run("reads never show another tenant's rows", func(t *testing.T) {
		for _, fn := range httpOperations(t) {
			if fn.Method != http.MethodGet || fn.Public() || strings.HasPrefix(fn.Path, "/v1/admin/") {
				continue
			}
			params, kinds := targetsOf(fn)
			if len(params) > 0 && kinds == nil {
				continue // reported by the coverage check above
			}
			t.Run(fn.Name, func(t *testing.T) {
				call := func(caller *tenantBooks) apitest.Response {
					values := map[string]string{}
					for _, p := range params {
						values[p] = caller.ids[kinds[p]][0]
					}
					resp := s.Do(t, apitest.Request{Method: "GET", Path: fillPath(fn.Path, values) + listQueries[fn.Name], Token: caller.token})
					require.Equal(t, http.StatusOK, resp.Status, "%s as %s (listQueries may need parameters for it): %s", fn.Name, caller.marker, resp.Body)
					return resp
				}
				own := call(a)
				if _, ok := listsWithoutControl[fn.Name]; !ok {
					require.NotEmpty(t, leaked(own.Body, aSecrets),
						"%s as its own tenant shows none of that tenant's ids, so its absence for another tenant would prove nothing; "+
							"seed what it lists in seedBooks or list it in listsWithoutControl with the reason", fn.Name)
				}
				other := call(b)
				require.Empty(t, leaked(other.Body, aSecrets), "%s shows another tenant's data", fn.Name)
			})
		}
	})

	t.Run("queries without a tenant filter see only the current tenant", func(t *testing.T) {
		ctx := context.Background()
		var unseeded, checked []string
		for _, tbl := range tables {
			col := tenantColumn(tbl)
			var readable bool
			require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT has_column_privilege('ledgerline_app', $1, $2, 'SELECT')`, tbl, col).Scan(&readable))
			// Deliberately no WHERE: the policy is the only filter.
			q := `SELECT ` + col + ` FROM ` + tbl
			var perTenant map[uuid.UUID]int
			if readable {
				perTenant = map[uuid.UUID]int{}
				rows, err := s.DB.Admin.Query(ctx, `SELECT `+col+`, count(*) FROM `+tbl+` WHERE `+col+` = ANY($1) GROUP BY 1`,
					[]uuid.UUID{a.tenant, b.tenant})
				require.NoError(t, err)
				for rows.Next() {
					var id uuid.UUID
					var n int
					require.NoError(t, rows.Scan(&id, &n))
					perTenant[id] = n
				}
				require.NoError(t, rows.Err())
				if perTenant[a.tenant] == 0 || perTenant[b.tenant] == 0 {
					unseeded = append(unseeded, tbl)
				}
			}

			// As tenant B, through the transaction the services use and through the
			// pipelined read: only B's rows.
			err := s.DB.App.InTenantTx(ctx, b.tenant, func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, q)
				if err != nil {
					return err
				}
				got, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
				if err != nil {
					return err
				}
				require.Len(t, got, perTenant[b.tenant], "%s: %s as tenant B", tbl, q)
				for _, id := range got {
					require.Equal(t, b.tenant, id, "%s: %s as tenant B returned another tenant's row", tbl, q)
				}
				return nil
			})
			if !readable {
				require.ErrorContains(t, err, "permission denied", "%s is not granted to the application role", tbl)
				continue
			}
			require.NoError(t, err, tbl)
			var viaRead []uuid.UUID
			require.NoError(t, s.DB.App.Read(ctx, b.tenant, func(batch *pgx.Batch) {
				batch.Queue(q).Query(func(rows pgx.Rows) error {
					var err error
					viaRead, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
					return err
				})
			}), tbl)
			require.Len(t, viaRead, perTenant[b.tenant], "%s: %s in a pipelined read as tenant B", tbl, q)

			// With no tenant set, nothing at all: not everything.
			var none int
			err = s.DB.App.Pool.QueryRow(ctx, `SELECT count(*) FROM `+tbl).Scan(&none)
			if err == nil {
				require.Zero(t, none, "%s: a query with no tenant set sees rows", tbl)
			}
			// A tenant that does not exist sees nothing either.
			require.NoError(t, s.DB.App.InTenantTx(ctx, uuid.New(), func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT count(*) FROM `+tbl).Scan(&none)
			}), tbl)
			require.Zero(t, none, "%s: an unknown tenant sees rows", tbl)
			if !slices.Contains(unseeded, tbl) {
				checked = append(checked, tbl)
			}
		}
		// The transaction helpers refuse to run without a tenant at all.
		require.Error(t, s.DB.App.InTenantTx(ctx, uuid.Nil, func(pgx.Tx) error { return nil }))
		require.Error(t, s.DB.App.Read(ctx, uuid.Nil, func(*pgx.Batch) {}))

		var unexplained []string
		for _, tbl := range unseeded {
			if _, ok := rlsUnseeded[tbl]; !ok {
				unexplained = append(unexplained, tbl)
			}
		}
		require.Empty(t, unexplained, "tenant tables the application reads with no rows of both tenants, so the check above "+
			"proved nothing for them; seed them in seedBooks or list them in rlsUnseeded with the reason")
		for tbl := range rlsUnseeded {
			require.Contains(t, unseeded, tbl, "rlsUnseeded lists %s, which is seeded now", tbl)
		}
		require.Greater(t, len(checked), 15, "tables checked with rows of both tenants")
		t.Logf("checked %d tables with rows of both tenants: %v", len(checked), checked)
	})
}

// rlsUnseeded lists the tenant tables seedBooks cannot fill for both tenants, with the
// reason; the catalog test still checks their policies.
var rlsUnseeded = map[string]string{}
