package events

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	tenant, entity := uuid.New(), uuid.New()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e, err := New(tenant, "invoice.created", "invoice", entity, 3, map[string]any{"number": "INV-1", "total": "10.00"}, "req-1", now)
	require.NoError(t, err)

	require.Equal(t, uuid.Version(7), e.ID.Version(), "ids are time-ordered")
	require.Equal(t, tenant, e.TenantID)
	require.Equal(t, "invoice.created", e.Type)
	require.Equal(t, "invoice", e.EntityType)
	require.Equal(t, entity, e.EntityID)
	require.Equal(t, 3, e.EntityVersion)
	require.JSONEq(t, `{"number":"INV-1","total":"10.00"}`, string(e.Data))
	require.Equal(t, "req-1", e.RequestID)
	require.Equal(t, now, e.CreatedAt)

	e2, err := New(tenant, "invoice.created", "invoice", entity, 4, nil, "", now)
	require.NoError(t, err)
	require.NotEqual(t, e.ID, e2.ID)
	require.Equal(t, "null", string(e2.Data))
}

func TestNewRejectsUnencodableData(t *testing.T) {
	_, err := New(uuid.New(), "invoice.created", "invoice", uuid.New(), 1, map[string]any{"f": func() {}}, "", time.Now())
	require.ErrorContains(t, err, "events: encode invoice.created")
}

func TestEventJSON(t *testing.T) {
	e := Event{
		ID: uuid.MustParse("01900000-0000-7000-8000-000000000001"), TenantID: uuid.MustParse("01900000-0000-7000-8000-000000000002"),
		Type: "invoice.created", EntityType: "invoice", EntityID: uuid.MustParse("01900000-0000-7000-8000-000000000003"),
		EntityVersion: 1, Data: json.RawMessage(`{"a":1}`), CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"id":"01900000-0000-7000-8000-000000000001",
		"tenant_id":"01900000-0000-7000-8000-000000000002",
		"type":"invoice.created","entity_type":"invoice",
		"entity_id":"01900000-0000-7000-8000-000000000003",
		"entity_version":1,"data":{"a":1},"created":"2026-01-02T03:04:05Z"}`, string(b), "request_id is omitted when empty")
}

func TestQueue(t *testing.T) {
	now := time.Now().UTC()
	cases := []struct {
		name        string
		requestID   string
		wantReqID   any
		traceParent string
		wantTrace   any
	}{
		{"with request id and trace", "req-7", ptr("req-7"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ptr("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
		{"without request id or trace is NULL", "", (*string)(nil), "", (*string)(nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(uuid.New(), "invoice.created", "invoice", uuid.New(), 2, map[string]int{"x": 1}, tc.requestID, now)
			require.NoError(t, err)
			e.TraceParent = tc.traceParent
			b := &pgx.Batch{}
			Queue(b, e)
			require.Equal(t, 1, b.Len())
			q := b.QueuedQueries[0]
			require.Contains(t, q.SQL, "INSERT INTO outbox_events")
			require.Equal(t, []any{
				e.ID, e.TenantID, "invoice.created", "invoice", e.EntityID, 2, []byte(`{"x":1}`), tc.wantReqID, now, tc.wantTrace,
				(*string)(nil),
			}, q.Arguments)
		})
	}
}

func ptr(s string) *string { return &s }
