package functions_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/events"
)

type publishedEvents struct {
	mu  sync.Mutex
	got []events.Event
}

func (p *publishedEvents) Publish(_ context.Context, e events.Event) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, e)
	return uuid.NewString(), nil
}

// A mutation's events are published as soon as it commits, in order, each once; reads
// and refused requests publish nothing.
func TestEventsArePublishedAfterCommit(t *testing.T) {
	t.Parallel()
	pub := &publishedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub))
	f := newFixture(t, s, "Publisher") // two counterparties
	inv := f.openInvoice(t, nil)
	resp, _ := f.pay(t, map[string]any{"allocations": []any{alloc(inv.ID, 45000)}})
	require.Equal(t, http.StatusCreated, resp.Status)
	s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices/" + inv.ID, Token: f.token})
	refused, _ := f.pay(t, map[string]any{"amount_minor": 0})
	require.Equal(t, http.StatusUnprocessableEntity, refused.Status)

	var types []string
	for _, e := range pub.got {
		types = append(types, e.Type)
	}
	require.Equal(t, []string{"counterparty.created", "counterparty.created", "invoice.created",
		"payment.created", "allocation.created", "invoice.paid"}, types)
	var left int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox_events WHERE published_at IS NULL`).Scan(&left))
	require.Zero(t, left)
}
