package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/imports"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// pendingChunks holds the chunk messages the server published, for the test's
// stand-in processor.
type pendingChunks struct {
	mu   sync.Mutex
	msgs []platform.Message
}

func (p *pendingChunks) PublishRaw(_ context.Context, topic string, m events.RawMessage) (string, error) {
	if topic != imports.ChunksTopic {
		return "", nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	id := uuid.NewString()
	p.msgs = append(p.msgs, platform.Message{ID: id, Data: m.Data, Attributes: m.Attributes})
	return id, nil
}

func (p *pendingChunks) next() (platform.Message, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.msgs) == 0 {
		return platform.Message{}, false
	}
	m := p.msgs[0]
	p.msgs = p.msgs[1:]
	return m, true
}

type dropEvents struct{}

func (dropEvents) Publish(context.Context, events.Event) (string, error) {
	return uuid.NewString(), nil
}

// importTestServer serves the real functions over HTTP. Whenever the command asks for
// progress, one pending chunk is applied first, as the processor would meanwhile, so
// the command sees the import advance chunk by chunk.
func importTestServer(t *testing.T) (*apitest.Server, *httptest.Server) {
	t.Helper()
	chunks := &pendingChunks{}
	s := apitest.New(t, apitest.WithPublisher(dropEvents{}), func(d *platform.Deps) { d.RawPublisher = chunks })
	process, err := platform.EventProcessor("ImportChunks", s.Deps)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/imports/") {
			if m, ok := chunks.next(); ok {
				if e, err := platform.PubSubEvent("ledgerline-test", imports.ChunksTopic, m); err == nil {
					_ = process(r.Context(), e)
				}
			}
		}
		s.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestImportCommand(t *testing.T) {
	s, srv := importTestServer(t)
	_, token := s.Tenant(t, "CLI")
	run := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		args = append(args, "--server", srv.URL, "--token", token, "--poll", "5ms")
		err := importCommand(context.Background(), args, &stdout, &stderr, srv.Client())
		return stdout.String(), stderr.String(), err
	}

	customers := writeFile(t, "customers.csv", "external_id,name,kind\nC-1,Acme,customer\nC-2,Globex,customer\n")
	out, progress, err := run(customers, "--kind", "counterparties")
	require.NoError(t, err, progress)
	require.Contains(t, out, "completed")
	require.Contains(t, out, "created 2, updated 0, unchanged 0")
	require.Contains(t, progress, "applying chunks")

	// Rows fail: exit status 3, and the errors file is saved, ready to fix.
	var b strings.Builder
	b.WriteString("external_id,direction,counterparty_external_id,currency,issue_date,description,quantity,unit_amount\n")
	for i := 0; i < imports.ChunkRecords+5; i++ {
		cp := "C-1"
		if i == 3 {
			cp = "C-404"
		}
		b.WriteString("INV-" + uuid.NewString()[:8] + ",receivable," + cp + ",USD,2026-01-10,Work,1,10.00\n")
	}
	invoices := writeFile(t, "invoices.csv", b.String())
	errorsFile := filepath.Join(t.TempDir(), "errors.csv")
	out, progress, err = run("--kind", "invoices", invoices, "--errors-out", errorsFile)
	require.Error(t, err)
	require.Equal(t, exitCompletedWithErrors, exitCode(err), progress)
	require.Contains(t, out, "completed_with_errors")
	require.Contains(t, out, "created 1004")
	require.Contains(t, out, "/errors")
	require.Contains(t, progress, "2/2")
	f, err := os.Open(errorsFile)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, "error", recs[0][len(recs[0])-1])

	// A dry run says what would happen.
	out, _, err = run(customers, "--kind", "counterparties", "--dry-run")
	require.NoError(t, err)
	require.Contains(t, out, "would create 0, update 0, leave 2 unchanged")

	// Every row refused: the import fails, exit status 1.
	bad := writeFile(t, "bad.csv", "external_id,name,kind\nC-9,Nobody,alien\n")
	out, _, err = run(bad, "--kind", "counterparties")
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
	require.Contains(t, out, "failed")

	// A file refused as a whole never starts.
	_, _, err = run(writeFile(t, "empty.csv", ""), "--kind", "counterparties")
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
	require.Contains(t, err.Error(), "import_empty")

	_, _, err = run(customers)
	require.Equal(t, 2, exitCode(err), "no --kind")
}
