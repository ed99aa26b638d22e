package functions_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
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
	"github.com/ledgerline/ledgerline/shared/imports"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// importResource is an import as the API returns it.
type importResource struct {
	ID            string  `json:"id"`
	Kind          string  `json:"kind"`
	Status        string  `json:"status"`
	DryRun        bool    `json:"dry_run"`
	FileName      *string `json:"file_name"`
	Format        string  `json:"format"`
	SizeBytes     int64   `json:"size_bytes"`
	SHA256        string  `json:"sha256"`
	RowsTotal     int     `json:"rows_total"`
	RowsSucceeded int     `json:"rows_succeeded"`
	RowsFailed    int     `json:"rows_failed"`
	Progress      struct {
		ChunksTotal        int `json:"chunks_total"`
		ChunksDone         int `json:"chunks_done"`
		ChunksDeadLettered int `json:"chunks_dead_lettered"`
		Percent            int `json:"percent"`
	} `json:"progress"`
	Counts             map[string]int `json:"counts"`
	FailureReason      *string        `json:"failure_reason"`
	ErrorsURL          *string        `json:"errors_url"`
	FinishedAt         *string        `json:"finished_at"`
	DeadLetteredChunks []struct {
		Seq      int `json:"seq"`
		Rows     int `json:"rows"`
		Attempts int `json:"attempts"`
	} `json:"dead_lettered_chunks"`
}

// chunkSink is the raw publisher of the functions under test: it keeps the chunk
// messages the outbox relay publishes after an upload, for the test to deliver to the
// processor as Pub/Sub would.
type chunkSink struct {
	mu   sync.Mutex
	msgs []platform.Message
}

func (c *chunkSink) PublishRaw(_ context.Context, topic string, m events.RawMessage) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if topic != imports.ChunksTopic {
		return "", nil
	}
	id := uuid.NewString()
	c.msgs = append(c.msgs, platform.Message{ID: id, Data: m.Data, Attributes: m.Attributes})
	return id, nil
}

// take returns the messages published so far and forgets them.
func (c *chunkSink) take() []platform.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.msgs
	c.msgs = nil
	return out
}

// eventSink takes the domain events published after commit and drops them.
type eventSink struct{}

func (eventSink) Publish(context.Context, events.Event) (string, error) { return uuid.NewString(), nil }

// importServer is the functions over a test database, publishing chunk messages to a
// sink the test drains into the ImportChunks processor.
func importServer(t *testing.T, opts ...apitest.Option) (*apitest.Server, *chunkSink) {
	t.Helper()
	sink := &chunkSink{}
	opts = append([]apitest.Option{apitest.WithPublisher(eventSink{}), func(d *platform.Deps) { d.RawPublisher = sink }}, opts...)
	return apitest.New(t, opts...), sink
}

// uploadCSV posts body as a CSV import of kind.
func uploadCSV(t *testing.T, s *apitest.Server, token, kind, body string, query ...string) apitest.Response {
	t.Helper()
	path := "/v1/imports?kind=" + kind
	for _, q := range query {
		path += "&" + q
	}
	return s.Do(t, apitest.Request{Method: "POST", Path: path, Token: token, Body: body,
		Header: map[string]string{"Content-Type": "text/csv", "Content-Disposition": `attachment; filename="` + kind + `.csv"`}})
}

// importFile uploads body, delivers every chunk message and returns the finished import.
func importFile(t *testing.T, s *apitest.Server, sink *chunkSink, token, kind, body string, query ...string) importResource {
	t.Helper()
	resp := uploadCSV(t, s, token, kind, body, query...)
	require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
	var imp importResource
	resp.JSON(t, &imp)
	require.Equal(t, "/v1/imports/"+imp.ID, resp.Header.Get("Location"))
	drainChunks(t, s, sink)
	return getImport(t, s, token, imp.ID)
}

// drainChunks delivers the published chunk messages to the processor.
func drainChunks(t *testing.T, s *apitest.Server, sink *chunkSink) {
	t.Helper()
	for _, m := range sink.take() {
		require.NoError(t, s.Deliver(t, "ImportChunks", m))
	}
}

func getImport(t *testing.T, s *apitest.Server, token, id string) importResource {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/imports/" + id, Token: token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var imp importResource
	resp.JSON(t, &imp)
	return imp
}

// importErrors downloads an import's failed rows as CSV records, header first.
func importErrors(t *testing.T, s *apitest.Server, token, id string) [][]string {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/imports/" + id + "/errors", Token: token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	recs, err := csv.NewReader(bytes.NewReader(resp.Body)).ReadAll()
	require.NoError(t, err)
	return recs
}

// countRows counts a tenant's rows of table (as the superuser, so RLS does not hide
// a leak). Of the outbox it counts the domain events, not the chunk messages.
func countRows(t *testing.T, s *apitest.Server, table string, tenant uuid.UUID) int {
	t.Helper()
	var n int
	where := ""
	if table == "outbox_events" {
		where = " AND topic IS NULL"
	}
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` WHERE tenant_id = $1`+where, tenant).Scan(&n))
	return n
}

const customersCSV = "Customer ID,Company Name,Type,Payment Terms\n" +
	"C-1,Acme Ltd,customer,Net 30\n" +
	"C-2,Globex,customer,14\n" +
	"V-1,Initech,vendor,\n"

const invoicesCSV = "Invoice No,Type,Customer ID,Currency,Invoice Date,Status,Description,Qty,Unit Price,Tax %\n" +
	"INV-1,AR,C-1,USD,2026-01-10,open,Consulting,3,150.00,20\n" +
	"INV-1,AR,C-1,USD,2026-01-10,open,Travel,1,12.34,\n" +
	"INV-2,AR,C-2,USD,2026-01-11,draft,Support,10,9.99,20\n" +
	"BILL-9,AP,V-1,EUR,2026-01-12,open,Parts,2,100,19\n"

func TestImportsEndToEnd(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	tenant, token := s.Tenant(t, "Importer")

	cps := importFile(t, s, sink, token, "counterparties", customersCSV)
	require.Equal(t, "completed", cps.Status, "%+v", cps)
	require.Equal(t, map[string]int{"created": 3, "updated": 0, "unchanged": 0}, cps.Counts)
	require.Equal(t, 3, cps.RowsTotal)
	require.Equal(t, 3, cps.RowsSucceeded)
	require.Equal(t, "counterparties.csv", *cps.FileName)
	require.Equal(t, 100, cps.Progress.Percent)
	require.NotNil(t, cps.FinishedAt)
	require.Nil(t, cps.ErrorsURL)

	invs := importFile(t, s, sink, token, "invoices", invoicesCSV)
	require.Equal(t, "completed", invs.Status, "%+v", invs)
	require.Equal(t, map[string]int{"created": 3, "updated": 0, "unchanged": 0}, invs.Counts)
	require.Equal(t, 4, invs.RowsSucceeded)

	// The invoices are the API's: totals, tax, numbers on issue, due dates from terms.
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices?limit=10", Token: token})
	require.Equal(t, http.StatusOK, resp.Status)
	var list struct {
		Data []struct {
			ExternalID string  `json:"external_id"`
			Status     string  `json:"status"`
			Number     *string `json:"number"`
			Total      int64   `json:"total_minor"`
			Due        string  `json:"due_date"`
		} `json:"data"`
	}
	resp.JSON(t, &list)
	byExt := map[string]int{}
	for i, inv := range list.Data {
		byExt[inv.ExternalID] = i
	}
	require.Len(t, list.Data, 3)
	inv1 := list.Data[byExt["INV-1"]]
	require.Equal(t, "open", inv1.Status)
	require.Equal(t, "INV-000001", *inv1.Number)
	require.Equal(t, int64(45000+9000+1234), inv1.Total)
	require.Equal(t, "2026-02-09", inv1.Due)
	require.Nil(t, list.Data[byExt["INV-2"]].Number)
	require.Equal(t, "draft", list.Data[byExt["INV-2"]].Status)
	require.Equal(t, "BILL-000001", *list.Data[byExt["BILL-9"]].Number)

	payments := "Payment ID,Direction,Customer ID,Amount,Currency,Payment Date,Method,Invoice Number,Allocated Amount\n" +
		"P-1,incoming,C-1,552.34,USD,2026-02-01,wire,INV-1,552.34\n" +
		"P-2,outgoing,V-1,100,EUR,2026-02-02,bank_transfer,BILL-9,100\n"
	pays := importFile(t, s, sink, token, "payments", payments)
	require.Equal(t, "completed", pays.Status, "%+v", pays)
	require.Equal(t, map[string]int{"created": 2, "updated": 0, "unchanged": 0}, pays.Counts)
	var paid string
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT status FROM invoices WHERE tenant_id = $1 AND external_id = 'INV-1'`, tenant).Scan(&paid))
	require.Equal(t, "paid", paid)

	// Every change is audited as the uploader's, and the chain holds.
	var actors []string
	rows, err := s.DB.Admin.Query(context.Background(), `SELECT DISTINCT actor_id FROM audit_events WHERE tenant_id = $1`, tenant)
	require.NoError(t, err)
	actors, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"user-" + tenant.String()[:8]}, actors)

	// The list shows all three, newest first.
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/imports?limit=2", Token: token})
	require.Equal(t, http.StatusOK, resp.Status)
	var page struct {
		Data    []importResource `json:"data"`
		HasMore bool             `json:"has_more"`
	}
	resp.JSON(t, &page)
	require.Len(t, page.Data, 2)
	require.True(t, page.HasMore)
	require.Equal(t, pays.ID, page.Data[0].ID)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/imports?starting_after=" + page.Data[1].ID, Token: token})
	resp.JSON(t, &page)
	require.Len(t, page.Data, 1)
	require.Equal(t, cps.ID, page.Data[0].ID)
	require.False(t, page.HasMore)
}

func TestImportTheSameFileTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	tenant, token := s.Tenant(t, "Twice")
	importFile(t, s, sink, token, "counterparties", customersCSV)
	importFile(t, s, sink, token, "invoices", invoicesCSV)
	before := map[string]int{}
	for _, table := range []string{"counterparties", "invoices", "invoice_lines", "audit_events", "outbox_events"} {
		before[table] = countRows(t, s, table, tenant)
	}

	again := importFile(t, s, sink, token, "invoices", invoicesCSV)
	require.Equal(t, "completed", again.Status)
	require.Equal(t, map[string]int{"created": 0, "updated": 0, "unchanged": 3}, again.Counts)
	cps := importFile(t, s, sink, token, "counterparties", customersCSV)
	require.Equal(t, map[string]int{"created": 0, "updated": 0, "unchanged": 3}, cps.Counts)
	for table, n := range before {
		after := countRows(t, s, table, tenant)
		if table == "audit_events" || table == "outbox_events" {
			// Only the two imports' own creation is recorded.
			require.Equal(t, n+2, after, table)
			continue
		}
		require.Equal(t, n, after, table)
	}

	// A changed draft is replaced; a changed issued invoice is refused with its rows.
	changed := strings.Replace(invoicesCSV, "Support,10,9.99", "Support,11,9.99", 1)
	changed = strings.Replace(changed, "Travel,1,12.34", "Travel,2,12.34", 1)
	imp := importFile(t, s, sink, token, "invoices", changed)
	require.Equal(t, "completed_with_errors", imp.Status)
	require.Equal(t, map[string]int{"created": 0, "updated": 1, "unchanged": 1}, imp.Counts)
	require.Equal(t, 2, imp.RowsFailed)
	errs := importErrors(t, s, token, imp.ID)
	require.Len(t, errs, 3, "header and INV-1's two rows")
	require.Contains(t, errs[1][len(errs[1])-1], "row 2")
	require.Contains(t, errs[1][len(errs[1])-1], "issued")
	var version int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT version FROM invoices WHERE tenant_id = $1 AND external_id = 'INV-2'`, tenant).Scan(&version))
	require.Equal(t, 2, version)
}

// chunkMessages uploads an invoice file and returns its chunk messages undelivered.
func chunkMessages(t *testing.T, s *apitest.Server, sink *chunkSink, token, body string) (string, []platform.Message) {
	t.Helper()
	resp := uploadCSV(t, s, token, "invoices", body)
	require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
	var imp importResource
	resp.JSON(t, &imp)
	msgs := sink.take()
	require.Len(t, msgs, imp.Progress.ChunksTotal)
	return imp.ID, msgs
}

func TestImportChunkRedeliveredOrDuplicatedChangesNothing(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	tenant, token := s.Tenant(t, "Redelivery")
	importFile(t, s, sink, token, "counterparties", customersCSV)
	id, msgs := chunkMessages(t, s, sink, token, invoicesCSV)
	require.Len(t, msgs, 1)
	m := msgs[0]

	require.NoError(t, s.Deliver(t, "ImportChunks", m))
	first := getImport(t, s, token, id)
	invoices, audits := countRows(t, s, "invoices", tenant), countRows(t, s, "audit_events", tenant)

	// The same message again, and a copy of it published twice (another message id).
	require.NoError(t, s.Deliver(t, "ImportChunks", m))
	dup := m
	dup.ID = uuid.NewString()
	require.NoError(t, s.Deliver(t, "ImportChunks", dup))

	require.Equal(t, first, getImport(t, s, token, id))
	require.Equal(t, invoices, countRows(t, s, "invoices", tenant))
	require.Equal(t, audits, countRows(t, s, "audit_events", tenant))
	require.Equal(t, "completed", first.Status)
	require.Equal(t, 1, first.Progress.ChunksDone)
}

// failLines makes inserting an invoice line fail (with cause) until undone.
func failLines(t *testing.T, s *apitest.Server, body string) func() {
	t.Helper()
	ctx := context.Background()
	_, err := s.DB.Admin.Exec(ctx, `CREATE FUNCTION test_fail_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN `+body+` RETURN NEW; END $$`)
	require.NoError(t, err)
	_, err = s.DB.Admin.Exec(ctx, `CREATE TRIGGER test_fail_lines BEFORE INSERT ON invoice_lines
FOR EACH ROW EXECUTE FUNCTION test_fail_lines()`)
	require.NoError(t, err)
	return func() {
		_, err := s.DB.Admin.Exec(ctx, `DROP TRIGGER test_fail_lines ON invoice_lines; DROP FUNCTION test_fail_lines()`)
		require.NoError(t, err)
	}
}

func TestImportChunkThatCrashesLeavesNothingAndIsRetried(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	tenant, token := s.Tenant(t, "Crash")
	importFile(t, s, sink, token, "counterparties", customersCSV)
	id, msgs := chunkMessages(t, s, sink, token, invoicesCSV)
	invoices, audits, counters := countRows(t, s, "invoices", tenant), countRows(t, s, "audit_events", tenant), 0
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT sum(last_number) FROM document_counters WHERE tenant_id = $1`, tenant).Scan(&counters))

	// The processor dies mid-chunk: its transaction is cut off after the first writes.
	undo := failLines(t, s, `PERFORM pg_sleep(5);`)
	fn, err := platform.EventProcessor("ImportChunks", s.Deps)
	require.NoError(t, err)
	e, err := platform.PubSubEvent("ledgerline-test", imports.ChunksTopic, msgs[0])
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	require.Error(t, fn(ctx, e))
	cancel()
	undo()

	require.Equal(t, invoices, countRows(t, s, "invoices", tenant), "nothing half-applied")
	require.Equal(t, audits, countRows(t, s, "audit_events", tenant))
	var after int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT sum(last_number) FROM document_counters WHERE tenant_id = $1`, tenant).Scan(&after))
	require.Equal(t, counters, after, "no number taken")
	imp := getImport(t, s, token, id)
	require.Equal(t, "running", imp.Status)
	require.Equal(t, 0, imp.Progress.ChunksDone)

	// Pub/Sub redelivers; the retry applies the chunk whole.
	m := msgs[0]
	m.DeliveryAttempt = 2
	require.NoError(t, s.Deliver(t, "ImportChunks", m))
	imp = getImport(t, s, token, id)
	require.Equal(t, "completed", imp.Status)
	require.Equal(t, 3, imp.Counts["created"])
	require.Equal(t, invoices+3, countRows(t, s, "invoices", tenant))
}

func TestImportPoisonedChunkIsDeadLetteredAndShown(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	tenant, token := s.Tenant(t, "Poison")
	importFile(t, s, sink, token, "counterparties", customersCSV)
	id, msgs := chunkMessages(t, s, sink, token, invoicesCSV)
	undo := failLines(t, s, `RAISE EXCEPTION 'poisoned line';`)

	m := msgs[0]
	for attempt := 1; attempt <= 5; attempt++ {
		m.DeliveryAttempt = attempt
		require.Error(t, s.Deliver(t, "ImportChunks", m), "attempt %d", attempt)
		imp := getImport(t, s, token, id)
		if attempt < 5 {
			require.Equal(t, "running", imp.Status)
			require.Empty(t, imp.DeadLetteredChunks)
		}
	}
	imp := getImport(t, s, token, id)
	require.Equal(t, "failed", imp.Status)
	require.Len(t, imp.DeadLetteredChunks, 1)
	require.Equal(t, 1, imp.DeadLetteredChunks[0].Seq)
	require.Equal(t, 5, imp.DeadLetteredChunks[0].Attempts)
	require.Equal(t, 4, imp.RowsFailed)
	require.Equal(t, 1, imp.Progress.ChunksDeadLettered)
	require.Equal(t, 100, imp.Progress.Percent)
	require.Contains(t, *imp.FailureReason, "dead-lettered")
	require.Zero(t, countRows(t, s, "invoices", tenant))

	// Pub/Sub forwards the message to the dead-letter topic; the store keeps it with
	// the import's tenant.
	dl := platform.Message{ID: uuid.NewString(), Data: m.Data, Attributes: deadLetterAttrs("ImportChunks", m.Attributes)}
	require.NoError(t, s.Deliver(t, "DeadLetters", dl))
	list := listDeadLetters(t, s, operator(t, s, tenant), "")
	require.Len(t, list.Data, 1)
	require.Equal(t, imports.ChunksTopic, *list.Data[0].SourceTopic)
	require.Equal(t, tenant.String(), *list.Data[0].TenantID)

	// Its rows come back in the errors file, ready to import again.
	errs := importErrors(t, s, token, id)
	require.Len(t, errs, 5)
	require.Contains(t, errs[1][len(errs[1])-1], "could not be applied")

	// Once the cause is fixed, replaying the dead letter applies the chunk after all.
	undo()
	m.DeliveryAttempt = 1
	require.NoError(t, s.Deliver(t, "ImportChunks", m))
	imp = getImport(t, s, token, id)
	require.Equal(t, "completed", imp.Status, "%+v", imp)
	require.Empty(t, imp.DeadLetteredChunks)
	require.Equal(t, 0, imp.RowsFailed)
	require.Equal(t, 4, imp.RowsSucceeded)
	require.Nil(t, imp.FailureReason)
	require.Equal(t, 3, countRows(t, s, "invoices", tenant))
}

func TestImportRowErrorsRoundTripThroughTheErrorsFile(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	tenant, token := s.Tenant(t, "Errors")
	importFile(t, s, sink, token, "counterparties", customersCSV)

	file := "external_id,direction,counterparty_external_id,currency,issue_date,description,quantity,unit_amount,memo\n" +
		"INV-10,receivable,C-1,USD,2026-03-01,Good,1,10.00,\"=HYPERLINK(\"\"x\"\")\"\n" +
		"INV-11,receivable,C-1,USD,2026-03-01,Bad quantity,-2,10.00,\n" +
		"INV-11,receivable,C-1,USD,2026-03-01,Sibling line,1,5.00,\n" +
		"INV-12,receivable,C-404,USD,2026-03-01,Unknown customer,1,7.50,\n" +
		"INV-13,receivable,V-1,USD,2026-03-01,A vendor,1,7.50,\n"
	imp := importFile(t, s, sink, token, "invoices", file)
	require.Equal(t, "completed_with_errors", imp.Status, "%+v", imp)
	require.Equal(t, 5, imp.RowsTotal)
	require.Equal(t, 1, imp.RowsSucceeded)
	require.Equal(t, 4, imp.RowsFailed)
	require.Equal(t, "/v1/imports/"+imp.ID+"/errors", *imp.ErrorsURL)

	// JSON: each error with its row, column and reason.
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/imports/" + imp.ID + "/errors?format=json", Token: token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var failed struct {
		Data []imports.FailedRow `json:"data"`
	}
	resp.JSON(t, &failed)
	require.Len(t, failed.Data, 4)
	byRow := map[int]imports.FailedRow{}
	for _, f := range failed.Data {
		byRow[f.Row] = f
	}
	require.Equal(t, "quantity", byRow[3].Errors[0].Column)
	require.Equal(t, imports.CodeNotImported, byRow[4].Errors[0].Code)
	require.Equal(t, "unknown_counterparty", byRow[5].Errors[0].Code)
	require.Equal(t, "counterparty_external_id", byRow[5].Errors[0].Column)
	require.Equal(t, "counterparty_kind_mismatch", byRow[6].Errors[0].Code)
	require.Equal(t, "C-404", byRow[5].Cells["counterparty_external_id"])

	// CSV: the same header, the rows as uploaded, and the error column.
	recs := importErrors(t, s, token, imp.ID)
	require.Equal(t, []string{"external_id", "direction", "counterparty_external_id", "currency", "issue_date",
		"description", "quantity", "unit_amount", "error"}, recs[0])
	require.Len(t, recs, 5)
	require.Equal(t, []string{"INV-11", "receivable", "C-1", "USD", "2026-03-01", "Bad quantity", "'-2", "10.00"}, recs[1][:8])
	require.Contains(t, recs[1][8], "row 3, quantity:")

	// Fixed and uploaded again as it is (error column and all), the rows import.
	fix := map[string]string{"'-2": "2", "C-404": "C-2", "V-1": "C-1"}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	for _, r := range recs {
		for i, c := range r {
			if v, ok := fix[c]; ok {
				r[i] = v
			}
		}
		require.NoError(t, w.Write(r))
	}
	w.Flush()
	again := importFile(t, s, sink, token, "invoices", out.String())
	require.Equal(t, "completed", again.Status, "%+v", again)
	require.Equal(t, map[string]int{"created": 3, "updated": 0, "unchanged": 0}, again.Counts)
	require.Equal(t, 4, countRows(t, s, "invoices", tenant))

	// A formula-looking memo is stored as the text it is.
	var memo string
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT memo FROM invoices WHERE tenant_id = $1 AND external_id = 'INV-10'`, tenant).Scan(&memo))
	require.Equal(t, `=HYPERLINK("x")`, memo)
}

func TestImportDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	tenant, token := s.Tenant(t, "Dry")
	importFile(t, s, sink, token, "counterparties", customersCSV)
	tables := []string{"invoices", "invoice_lines", "audit_events", "outbox_events", "counterparties"}
	before := map[string]int{}
	for _, table := range tables {
		before[table] = countRows(t, s, table, tenant)
	}
	var counters int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT sum(last_number) FROM document_counters WHERE tenant_id = $1`, tenant).Scan(&counters))

	dry := importFile(t, s, sink, token, "invoices", invoicesCSV+"INV-3,AR,C-404,USD,2026-01-10,open,Nobody,1,1,\n", "dry_run=true")
	require.True(t, dry.DryRun)
	require.Equal(t, "completed_with_errors", dry.Status)
	require.Equal(t, map[string]int{"would_create": 3, "would_update": 0, "would_be_unchanged": 0}, dry.Counts)
	require.Equal(t, 1, dry.RowsFailed)
	for _, table := range tables {
		want := before[table]
		if table == "audit_events" || table == "outbox_events" {
			want++ // the import's own creation
		}
		require.Equal(t, want, countRows(t, s, table, tenant), table)
	}
	var after int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT sum(last_number) FROM document_counters WHERE tenant_id = $1`, tenant).Scan(&after))
	require.Equal(t, counters, after, "no number taken")

	// The real run does what the dry run said; a dry run after it would change nothing.
	real := importFile(t, s, sink, token, "invoices", invoicesCSV)
	require.Equal(t, map[string]int{"created": 3, "updated": 0, "unchanged": 0}, real.Counts)
	dry = importFile(t, s, sink, token, "invoices", invoicesCSV, "dry_run=true")
	require.Equal(t, map[string]int{"would_create": 0, "would_update": 0, "would_be_unchanged": 3}, dry.Counts)
}

func TestImportLimitsAndHostileFiles(t *testing.T) {
	t.Parallel()
	s, _ := importServer(t, func(d *platform.Deps) { d.Config.ImportMaxBytes, d.Config.ImportMaxRows = 4096, 3 })
	_, token := s.Tenant(t, "Limits")
	problem := func(resp apitest.Response, status int, code string) {
		t.Helper()
		require.Equal(t, status, resp.Status, string(resp.Body))
		require.Equal(t, code, resp.Problem(t).Code, string(resp.Body))
	}

	big := "external_id,name,kind\n" + strings.Repeat("C-1,"+strings.Repeat("x", 100)+",customer\n", 50)
	problem(uploadCSV(t, s, token, "counterparties", big), http.StatusRequestEntityTooLarge, "body_too_large")
	problem(uploadCSV(t, s, token, "counterparties", customersCSV+"C-3,Four,customer\n"), http.StatusRequestEntityTooLarge, imports.CodeTooManyRows)

	// A gzip-compressed upload counts uncompressed: a small bomb is cut off at the cap.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write([]byte(big))
	require.NoError(t, zw.Close())
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/imports?kind=counterparties", Token: token, Body: z.Bytes(),
		Header: map[string]string{"Content-Type": "text/csv", "Content-Encoding": "gzip"}})
	problem(resp, http.StatusRequestEntityTooLarge, "body_too_large")
	z.Reset()
	zw = gzip.NewWriter(&z)
	_, _ = zw.Write([]byte(customersCSV))
	require.NoError(t, zw.Close())
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/imports?kind=counterparties", Token: token, Body: z.Bytes(),
		Header: map[string]string{"Content-Type": "text/csv", "Content-Encoding": "gzip"}})
	require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))

	problem(s.Do(t, apitest.Request{Method: "POST", Path: "/v1/imports?kind=counterparties", Token: token, Body: `{"a":1}`}),
		http.StatusUnsupportedMediaType, "unsupported_media_type")
	problem(s.Do(t, apitest.Request{Method: "POST", Path: "/v1/imports?kind=counterparties", Token: token, Body: "\x00\x01\x02binary",
		Header: map[string]string{"Content-Type": "application/octet-stream"}}), http.StatusUnsupportedMediaType, "unsupported_media_type")
	problem(s.Do(t, apitest.Request{Method: "POST", Path: "/v1/imports?kind=invoices", Token: token, Body: "PK\x03\x04not really a zip",
		Header: map[string]string{"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}}),
		http.StatusUnprocessableEntity, imports.CodeUnreadable)
	problem(uploadCSV(t, s, token, "invoices", "name,kind\nAcme,customer\n"), http.StatusUnprocessableEntity, imports.CodeHeader)
	problem(uploadCSV(t, s, token, "invoices", ""), http.StatusUnprocessableEntity, imports.CodeEmpty)
	problem(uploadCSV(t, s, token, "everything", customersCSV), http.StatusBadRequest, "invalid_parameter")
	problem(s.Do(t, apitest.Request{Method: "POST", Path: "/v1/imports", Token: token, Body: customersCSV,
		Header: map[string]string{"Content-Type": "text/csv"}}), http.StatusBadRequest, "invalid_parameter")

	// Reading the books is not enough to import them, nor is writing one kind enough
	// for another.
	viewer := s.Token(t, uuid.MustParse(mustTenant(t, s, token)), auth.RoleViewer)
	problem(uploadCSV(t, s, viewer, "counterparties", customersCSV), http.StatusForbidden, "forbidden")
}

// mustTenant is the tenant of a token issued by the test server.
func mustTenant(t *testing.T, s *apitest.Server, token string) string {
	t.Helper()
	p, err := s.Deps.Auth.Authenticate(&http.Request{Header: http.Header{"Authorization": {"Bearer " + token}}})
	require.NoError(t, err)
	return p.TenantID.String()
}

func TestImportMultipartUploadAndIdempotencyKey(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	_, token := s.Tenant(t, "Multipart")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("note", "ignored"))
	part, err := mw.CreateFormFile("file", "customers.csv")
	require.NoError(t, err)
	_, _ = part.Write([]byte(customersCSV))
	require.NoError(t, mw.Close())
	req := apitest.Request{Method: "POST", Path: "/v1/imports?kind=counterparties", Token: token, Body: body.Bytes(),
		Header: map[string]string{"Content-Type": mw.FormDataContentType(), "Idempotency-Key": "upload-1"}}
	first := s.Do(t, req)
	require.Equal(t, http.StatusAccepted, first.Status, string(first.Body))
	var imp importResource
	first.JSON(t, &imp)
	require.Equal(t, "customers.csv", *imp.FileName)

	replay := s.Do(t, req)
	require.Equal(t, http.StatusAccepted, replay.Status)
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.Body), string(replay.Body))
	drainChunks(t, s, sink)
	require.Equal(t, "completed", getImport(t, s, token, imp.ID).Status)

	// The same key with the same file as a dry run is another request.
	req.Path += "&dry_run=true"
	reused := s.Do(t, req)
	require.Equal(t, http.StatusUnprocessableEntity, reused.Status, string(reused.Body))
	require.Equal(t, "idempotency_key_reused", reused.Problem(t).Code)

	noFile := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/imports?kind=counterparties", Token: token,
		Body:   "--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--x--\r\n",
		Header: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}})
	require.Equal(t, http.StatusUnprocessableEntity, noFile.Status, string(noFile.Body))
}

func TestImportsAreTenantScoped(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	_, tokenA := s.Tenant(t, "Alpha")
	_, tokenB := s.Tenant(t, "Beta")
	imp := importFile(t, s, sink, tokenA, "invoices", invoicesCSV) // every row fails: no counterparties
	require.Equal(t, "failed", imp.Status)
	require.Equal(t, 4, imp.RowsFailed)
	require.Contains(t, *imp.FailureReason, "no row")
	for _, path := range []string{"/v1/imports/" + imp.ID, "/v1/imports/" + imp.ID + "/errors", "/v1/imports/" + imp.ID + "/errors?format=json",
		"/v1/imports/not-an-id"} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Token: tokenB})
		require.Equal(t, http.StatusNotFound, resp.Status, path)
		require.Equal(t, "import_not_found", resp.Problem(t).Code)
	}
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/imports", Token: tokenB})
	require.JSONEq(t, `{"object":"list","data":[],"has_more":false}`, string(resp.Body))
}

// normalised is a JSON document with the members that differ between two tenants'
// copies of the same thing (ids, times, who and which request) taken out.
func normalised(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k := range x {
				switch k {
				case "id", "counterparty_id", "created_at", "updated_at", "finalized_at", "created", "request_id", "tenant_id", "entity_id":
					delete(x, k)
				default:
					x[k] = walk(x[k])
				}
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return v
	}
	return walk(v)
}

// changesOf are a tenant's audit after-documents and outbox events of entity type,
// normalised, in order.
func changesOf(t *testing.T, s *apitest.Server, tenant uuid.UUID, entity string) (audits, evs []any) {
	t.Helper()
	ctx := context.Background()
	rows, err := s.DB.Admin.Query(ctx, `SELECT action, after FROM audit_events WHERE tenant_id = $1 AND entity_type = $2 ORDER BY seq`, tenant, entity)
	require.NoError(t, err)
	for rows.Next() {
		var action string
		var after []byte
		require.NoError(t, rows.Scan(&action, &after))
		audits = append(audits, []any{action, normalised(t, after)})
	}
	require.NoError(t, rows.Err())
	rows, err = s.DB.Admin.Query(ctx, `SELECT event_type, entity_version, payload FROM outbox_events
 WHERE tenant_id = $1 AND entity_type = $2 ORDER BY created_at, id`, tenant, entity)
	require.NoError(t, err)
	for rows.Next() {
		var typ string
		var version int
		var payload []byte
		require.NoError(t, rows.Scan(&typ, &version, &payload))
		evs = append(evs, []any{typ, version, normalised(t, payload)})
	}
	require.NoError(t, rows.Err())
	return audits, evs
}

// The same input through the API and through an import makes the same counterparty
// and invoices, audit records and events, up to ids, times and who made them.
func TestImportEqualsTheAPI(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	viaAPI, tokenAPI := s.Tenant(t, "Via API")
	viaImport, tokenImport := s.Tenant(t, "Via import")

	post := func(path string, body any) []byte {
		t.Helper()
		resp := s.Do(t, apitest.Request{Method: "POST", Path: path, Token: tokenAPI, Body: body})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		return resp.Body
	}
	var cp struct{ ID string }
	require.NoError(t, json.Unmarshal(post("/v1/counterparties", map[string]any{
		"name": "Acme Ltd", "kind": "customer", "payment_terms_days": 30, "external_id": "C-1"}), &cp))
	apiInvoices := []map[string]any{
		{"direction": "receivable", "counterparty_id": cp.ID, "currency": "USD", "issue_date": "2026-01-10", "status": "open",
			"external_id": "INV-1", "memo": "January",
			"lines": []map[string]any{
				{"description": "Consulting", "quantity": "3", "unit_price": "150.005", "tax_rate": "20"},
				{"description": "Travel", "quantity": "1", "unit_amount_minor": 1234}}},
		{"direction": "receivable", "counterparty_id": cp.ID, "currency": "JPY", "issue_date": "2026-01-11",
			"due_date": "2026-03-01", "external_id": "INV-2",
			"lines": []map[string]any{{"description": "Support", "quantity": "2.5", "unit_amount_minor": 999, "tax_rate": "10"}}},
	}
	for _, inv := range apiInvoices {
		post("/v1/invoices", inv)
	}

	importFile(t, s, sink, tokenImport, "counterparties", "external_id,name,kind,payment_terms_days\nC-1,Acme Ltd,customer,30\n")
	imp := importFile(t, s, sink, tokenImport, "invoices",
		"external_id,direction,counterparty_external_id,currency,issue_date,due_date,status,memo,description,quantity,unit_amount,tax_rate\n"+
			"INV-1,receivable,C-1,USD,2026-01-10,,open,January,Consulting,3,150.005,20\n"+
			"INV-1,receivable,C-1,USD,2026-01-10,,open,January,Travel,1,12.34,\n"+
			"INV-2,receivable,C-1,JPY,2026-01-11,2026-03-01,,,Support,2.5,999,10\n")
	require.Equal(t, "completed", imp.Status, "%+v", imp)

	for _, ext := range []string{"INV-1", "INV-2"} {
		get := func(token string, tenant uuid.UUID) any {
			var id string
			require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
				`SELECT id FROM invoices WHERE tenant_id = $1 AND external_id = $2`, tenant, ext).Scan(&id))
			resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices/" + id, Token: token})
			require.Equal(t, http.StatusOK, resp.Status)
			return normalised(t, resp.Body)
		}
		require.Equal(t, get(tokenAPI, viaAPI), get(tokenImport, viaImport), ext)
	}
	for _, entity := range []string{"counterparty", "invoice"} {
		apiAudit, apiEvents := changesOf(t, s, viaAPI, entity)
		impAudit, impEvents := changesOf(t, s, viaImport, entity)
		require.NotEmpty(t, apiAudit)
		require.Equal(t, apiAudit, impAudit, entity+" audit")
		require.Equal(t, apiEvents, impEvents, entity+" events")
	}
}

// The errors of an import of a thousand and more rows come in row order across
// chunks, and chunk boundaries never split an invoice.
func TestImportSpansChunks(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	tenant, token := s.Tenant(t, "Chunks")
	importFile(t, s, sink, token, "counterparties", customersCSV)
	var b strings.Builder
	b.WriteString("external_id,direction,counterparty_external_id,currency,issue_date,description,quantity,unit_amount\n")
	const n = imports.ChunkRecords + 10
	for i := 0; i < n; i++ {
		for l := 1; l <= 3; l++ {
			cp := "C-1"
			if i == n-1 {
				cp = "C-404" // the last invoice fails when applied
			}
			fmt.Fprintf(&b, "INV-%05d,receivable,%s,USD,2026-01-10,Line %d,1,%d.00\n", i, cp, l, l)
		}
	}
	imp := importFile(t, s, sink, token, "invoices", b.String())
	require.Equal(t, 2, imp.Progress.ChunksTotal)
	require.Equal(t, "completed_with_errors", imp.Status)
	require.Equal(t, n-1, imp.Counts["created"])
	require.Equal(t, 3*n, imp.RowsTotal)
	require.Equal(t, 3, imp.RowsFailed)
	require.Equal(t, n-1, countRows(t, s, "invoices", tenant))
	require.Equal(t, 3*(n-1), countRows(t, s, "invoice_lines", tenant))
	recs := importErrors(t, s, token, imp.ID)
	require.Len(t, recs, 4)
	u, _ := url.Parse(*imp.ErrorsURL)
	require.Equal(t, "/v1/imports/"+imp.ID+"/errors", u.Path)
}

func TestImportPaymentsAreImmutableOncePosted(t *testing.T) {
	t.Parallel()
	s, sink := importServer(t)
	tenant, token := s.Tenant(t, "Payments")
	importFile(t, s, sink, token, "counterparties", customersCSV)
	importFile(t, s, sink, token, "invoices", invoicesCSV)
	payments := "external_id,direction,counterparty_external_id,amount,currency,value_date,invoice_external_id,allocated_amount\n" +
		"P-1,incoming,C-1,100.00,USD,2026-02-01,INV-1,60.00\n" +
		"P-1,incoming,C-1,100.00,USD,2026-02-01,INV-2,40.00\n" +
		"P-2,incoming,C-1,10.00,USD,2026-02-01,,\n"

	// INV-2 is a draft: a draft takes no allocations, so P-1 is refused whole.
	dry := importFile(t, s, sink, token, "payments", payments, "dry_run=true")
	require.Equal(t, map[string]int{"would_create": 1, "would_update": 0, "would_be_unchanged": 0}, dry.Counts)
	require.Equal(t, 2, dry.RowsFailed)
	require.Zero(t, countRows(t, s, "payments", tenant), "a dry run records no payment")

	first := importFile(t, s, sink, token, "payments", payments)
	require.Equal(t, map[string]int{"created": 1, "updated": 0, "unchanged": 0}, first.Counts)
	errs := importErrors(t, s, token, first.ID)
	require.Len(t, errs, 3)
	require.Contains(t, errs[2][len(errs[2])-1], "draft")

	// Allocated to issued invoices only, P-1 goes in; importing again changes nothing;
	// a payment recorded with other values is refused, not changed.
	fixed := "external_id,direction,counterparty_external_id,amount,currency,value_date,invoice_external_id,allocated_amount\n" +
		"P-1,incoming,C-1,100.00,USD,2026-02-01,INV-1,100.00\n" +
		"P-2,incoming,C-1,10.00,USD,2026-02-01,,\n"
	again := importFile(t, s, sink, token, "payments", fixed)
	require.Equal(t, map[string]int{"created": 1, "updated": 0, "unchanged": 1}, again.Counts, "%+v", again)
	same := importFile(t, s, sink, token, "payments", fixed)
	require.Equal(t, map[string]int{"created": 0, "updated": 0, "unchanged": 2}, same.Counts)
	changed := importFile(t, s, sink, token, "payments", strings.Replace(fixed, "P-2,incoming,C-1,10.00", "P-2,incoming,C-1,11.00", 1))
	require.Equal(t, map[string]int{"created": 0, "updated": 0, "unchanged": 1}, changed.Counts)
	errs = importErrors(t, s, token, changed.ID)
	require.Len(t, errs, 2)
	require.Contains(t, errs[1][len(errs[1])-1], "cannot change once posted")
	require.Equal(t, 2, countRows(t, s, "payments", tenant))
	require.Equal(t, 1, countRows(t, s, "allocations", tenant))
}
