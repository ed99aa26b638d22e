package functions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/deadletters"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/platform"
)

type deadLetter struct {
	ID            string            `json:"id"`
	Subscription  string            `json:"subscription"`
	SourceTopic   *string           `json:"source_topic"`
	MessageID     string            `json:"message_id"`
	Attributes    map[string]string `json:"attributes"`
	Data          []byte            `json:"data"`
	OrderingKey   *string           `json:"ordering_key"`
	DeliveryCount *int              `json:"delivery_count"`
	LastError     *string           `json:"last_error"`
	TenantID      *string           `json:"tenant_id"`
	ReplayedAt    *string           `json:"replayed_at"`
	ReplayCount   int               `json:"replay_count"`
}

type deadLetterList struct {
	Data    []deadLetter `json:"data"`
	HasMore bool         `json:"has_more"`
}

// operator is a platform admin's token (of a tenant, like every token).
func operator(t *testing.T, s *apitest.Server, tenant uuid.UUID) string {
	t.Helper()
	tok, err := s.Issuer.IssuePlatformAdmin(tenant, "operator-1", nil, time.Hour)
	require.NoError(t, err)
	return tok
}

// deadLetterAttrs are the attributes Pub/Sub forwards a dead letter of subscription with.
func deadLetterAttrs(subscription string, extra map[string]string) map[string]string {
	a := map[string]string{
		deadletters.AttrSourceSubscription:            "projects/ledgerline-test/subscriptions/" + subscription,
		deadletters.AttrDeliveryCount:                 "5",
		"CloudPubSubDeadLetterSourceTopicPublishTime": "2026-11-01T10:00:00Z",
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func listDeadLetters(t *testing.T, s *apitest.Server, token, query string) deadLetterList {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/admin/dead-letters" + query, Token: token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var l deadLetterList
	resp.JSON(t, &l)
	return l
}

func TestDeadLettersStored(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Dead")
	ctx := context.Background()
	token := operator(t, s, f.tenant)

	// A message InboundInvoices keeps failing on: each failure is recorded as it happens.
	data, err := json.Marshal(f.erpDoc("NS-DEAD", 1, nil))
	require.NoError(t, err)
	deps := *s.Deps
	deps.Failures = &deadletters.FailureLog{DB: s.DB.App}
	fn, err := platform.EventProcessor("InboundInvoices", &deps)
	require.NoError(t, err)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for attempt := 1; attempt <= 5; attempt++ {
		e, err := platform.PubSubEvent("ledgerline-test", "ledgerline-inbound-invoices", platform.Message{
			ID: "orig-1", Data: data, Subscription: "projects/ledgerline-test/subscriptions/InboundInvoices", DeliveryAttempt: attempt,
		})
		require.NoError(t, err)
		require.Error(t, fn(canceled, e))
	}
	require.Equal(t, 5, f.countRows(t, `SELECT count(*) FROM message_failures WHERE message_id = 'orig-1' AND subscription = 'InboundInvoices'`))

	// Pub/Sub forwards it with a new id, its attributes and the dead-letter ones.
	dlq := platform.Message{ID: "dlq-1", Data: data, OrderingKey: "k-1",
		Attributes: deadLetterAttrs("InboundInvoices", map[string]string{"tenant_id": f.tenant.String(), "origin": "erp"})}
	for range 3 {
		require.NoError(t, s.Deliver(t, "DeadLetters", dlq))
	}

	l := listDeadLetters(t, s, token, "")
	require.Len(t, l.Data, 1, "a redelivered dead letter is stored once")
	dl := l.Data[0]
	require.Equal(t, "InboundInvoices", dl.Subscription)
	require.Equal(t, "ledgerline-inbound-invoices", *dl.SourceTopic, "the topic of the processor the subscription is named after")
	require.Equal(t, "dlq-1", dl.MessageID)
	require.Equal(t, data, dl.Data)
	require.Equal(t, dlq.Attributes, dl.Attributes)
	require.Equal(t, "k-1", *dl.OrderingKey)
	require.Equal(t, 5, *dl.DeliveryCount)
	require.Equal(t, f.tenant.String(), *dl.TenantID)
	require.NotNil(t, dl.LastError, "found by subscription and payload although the id changed")
	require.Contains(t, *dl.LastError, "cancel")
	require.Nil(t, dl.ReplayedAt)
	require.Zero(t, dl.ReplayCount)
	require.Zero(t, f.countRows(t, `SELECT count(*) FROM message_failures WHERE message_id = 'orig-1'`),
		"the failures now live on the dead letter")

	t.Run("as the local bus forwards it", func(t *testing.T) {
		require.NoError(t, s.Deliver(t, "DeadLetters", platform.Message{ID: "dlq-local", Data: []byte("not json"),
			Attributes: map[string]string{
				deadletters.AttrSourceSubscription: "projects/ledgerline-dev/subscriptions/WebhookDispatch",
				deadletters.AttrDeliveryCount:      "x",
				deadletters.AttrSourceTopic:        "ledgerline-events",
				deadletters.AttrLastError:          "endpoint answered 500",
				"tenant_id":                        "not-a-uuid",
			}}))
		got := listDeadLetters(t, s, token, "?subscription=WebhookDispatch").Data
		require.Len(t, got, 1)
		require.Equal(t, "ledgerline-events", *got[0].SourceTopic)
		require.Equal(t, "endpoint answered 500", *got[0].LastError)
		require.Equal(t, []byte("not json"), got[0].Data)
		require.Nil(t, got[0].DeliveryCount)
		require.Nil(t, got[0].TenantID)
		require.Nil(t, got[0].OrderingKey)
	})

	t.Run("a message from nowhere in particular", func(t *testing.T) {
		require.NoError(t, s.Deliver(t, "DeadLetters", platform.Message{ID: "dlq-bare"}))
		got := listDeadLetters(t, s, token, "").Data
		require.Equal(t, "dlq-bare", got[0].MessageID, "newest first")
		require.Empty(t, got[0].Subscription)
		require.Nil(t, got[0].SourceTopic)
		require.Nil(t, got[0].LastError)
		require.Equal(t, []byte{}, got[0].Data)
	})

	t.Run("transient failure: redelivered", func(t *testing.T) {
		fn, err := platform.EventProcessor("DeadLetters", s.Deps)
		require.NoError(t, err)
		e, err := platform.PubSubEvent("ledgerline-test", "ledgerline-dead-letters", platform.Message{ID: "dlq-late"})
		require.NoError(t, err)
		require.Error(t, fn(canceled, e))
		require.Zero(t, f.countRows(t, `SELECT count(*) FROM dead_letters WHERE message_id = 'dlq-late'`))
	})
}

func TestDeadLetterList(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, owner := s.Tenant(t, "Ops")
	token := operator(t, s, tenant)
	for i, sub := range []string{"InboundInvoices", "WebhookDispatch", "InboundInvoices"} {
		require.NoError(t, s.Deliver(t, "DeadLetters", platform.Message{ID: "dl-" + itoa(i), Data: []byte("{}"),
			Attributes: deadLetterAttrs(sub, nil)}))
	}

	t.Run("only for platform admins", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/admin/dead-letters", Token: owner})
		wantProblem(t, resp, http.StatusForbidden, "forbidden")
		all := s.Token(t, tenant, auth.Roles()...)
		resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/admin/dead-letters", Token: all})
		wantProblem(t, resp, http.StatusForbidden, "forbidden")
		resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/admin/dead-letters"})
		wantProblem(t, resp, http.StatusUnauthorized, "unauthenticated")
	})

	t.Run("newest first, in pages", func(t *testing.T) {
		all := listDeadLetters(t, s, token, "")
		require.Len(t, all.Data, 3)
		require.False(t, all.HasMore)
		require.Equal(t, []string{"dl-2", "dl-1", "dl-0"}, []string{all.Data[0].MessageID, all.Data[1].MessageID, all.Data[2].MessageID})

		first := listDeadLetters(t, s, token, "?limit=2")
		require.True(t, first.HasMore)
		require.Len(t, first.Data, 2)
		rest := listDeadLetters(t, s, token, "?limit=2&starting_after="+first.Data[1].ID)
		require.False(t, rest.HasMore)
		require.Equal(t, "dl-0", rest.Data[0].MessageID)
	})

	t.Run("by subscription", func(t *testing.T) {
		got := listDeadLetters(t, s, token, "?subscription=InboundInvoices")
		require.Len(t, got.Data, 2)
		for _, d := range got.Data {
			require.Equal(t, "InboundInvoices", d.Subscription)
		}
		require.Empty(t, listDeadLetters(t, s, token, "?subscription=Nothing").Data)
	})

	t.Run("bad parameters", func(t *testing.T) {
		for _, name := range []string{"limit=0", "starting_after=x", "subscription="} {
			resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/admin/dead-letters?" + name, Token: token})
			p := wantProblem(t, resp, http.StatusBadRequest, "invalid_parameter")
			require.Len(t, p.Errors, 1, name)
		}
	})
}

// withPubSub gives s a RawPublisher over an in-process Pub/Sub holding topics.
func withPubSub(t *testing.T, s *apitest.Server, topics ...string) *pstest.Server {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	client, err := pubsub.NewClient(ctx, "ledgerline-test", option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	for _, topic := range topics {
		_, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/ledgerline-test/topics/" + topic})
		require.NoError(t, err)
	}
	pub := events.NewPubSubRawPublisher(client)
	t.Cleanup(pub.Stop)
	s.Deps.RawPublisher = pub
	// Handlers take their dependencies when they are built.
	mux, err := platform.Mux(s.Deps)
	require.NoError(t, err)
	s.Handler = mux
	return srv
}

func TestDeadLetterReplay(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, owner := s.Tenant(t, "Replay")
	token := operator(t, s, tenant)
	srv := withPubSub(t, s, "ledgerline-inbound-invoices")

	attrs := deadLetterAttrs("InboundInvoices", map[string]string{"tenant_id": tenant.String(), "event_id": "e-1",
		deadletters.AttrLastError: "boom"})
	require.NoError(t, s.Deliver(t, "DeadLetters", platform.Message{ID: "dl-r", Data: []byte(`{"a":1}`), OrderingKey: "k",
		Attributes: attrs}))
	dl := listDeadLetters(t, s, token, "").Data[0]
	replay := func(id, token string, headers map[string]string) apitest.Response {
		return s.Do(t, apitest.Request{Method: "POST", Path: "/v1/admin/dead-letters/" + id + "/replay", Token: token, Header: headers})
	}

	t.Run("only for platform admins", func(t *testing.T) {
		wantProblem(t, replay(dl.ID, owner, nil), http.StatusForbidden, "forbidden")
		require.Empty(t, srv.Messages())
	})

	t.Run("republishes to the source topic and counts", func(t *testing.T) {
		resp := replay(dl.ID, token, map[string]string{"Idempotency-Key": "replay-1"})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var got deadLetter
		resp.JSON(t, &got)
		require.Equal(t, 1, got.ReplayCount)
		require.NotNil(t, got.ReplayedAt)

		msgs := srv.Messages()
		require.Len(t, msgs, 1)
		m := msgs[0]
		require.Equal(t, "projects/ledgerline-test/topics/ledgerline-inbound-invoices", m.Topic)
		require.Equal(t, []byte(`{"a":1}`), m.Data)
		require.Equal(t, "k", m.OrderingKey)
		require.Equal(t, map[string]string{"tenant_id": tenant.String(), "event_id": "e-1"}, m.Attributes,
			"without what dead-lettering added")

		again := replay(dl.ID, token, map[string]string{"Idempotency-Key": "replay-1"})
		require.Equal(t, http.StatusOK, again.Status)
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(resp.Body), string(again.Body))
		require.Len(t, srv.Messages(), 1, "the same key publishes once")

		resp = replay(dl.ID, token, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		resp.JSON(t, &got)
		require.Equal(t, 2, got.ReplayCount)
		require.Len(t, srv.Messages(), 2)
		require.Equal(t, 2, listDeadLetters(t, s, token, "").Data[0].ReplayCount)
	})

	t.Run("refusals", func(t *testing.T) {
		wantProblem(t, replay(uuid.NewString(), token, nil), http.StatusNotFound, "dead_letter_not_found")
		wantProblem(t, replay("nope", token, nil), http.StatusNotFound, "dead_letter_not_found")

		require.NoError(t, s.Deliver(t, "DeadLetters", platform.Message{ID: "dl-unknown", Attributes: deadLetterAttrs("eventarc-x-sub-1", nil)}))
		unknown := listDeadLetters(t, s, token, "?subscription=eventarc-x-sub-1").Data[0]
		require.Nil(t, unknown.SourceTopic)
		wantProblem(t, replay(unknown.ID, token, nil), http.StatusConflict, "dead_letter_source_unknown")

		require.NoError(t, s.Deliver(t, "DeadLetters", platform.Message{ID: "dl-gone",
			Attributes: map[string]string{deadletters.AttrSourceTopic: "missing-topic"}}))
		gone := listDeadLetters(t, s, token, "").Data[0]
		require.Equal(t, "dl-gone", gone.MessageID)
		wantProblem(t, replay(gone.ID, token, nil), http.StatusServiceUnavailable, "service_unavailable")
		require.Zero(t, listDeadLetters(t, s, token, "").Data[0].ReplayCount, "a failed publish counts nothing")
	})
}

func TestDeadLetterReplayWithoutPublisher(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, _ := s.Tenant(t, "NoPubSub")
	token := operator(t, s, tenant)
	require.NoError(t, s.Deliver(t, "DeadLetters", platform.Message{ID: "dl-1", Attributes: deadLetterAttrs("InboundInvoices", nil)}))
	dl := listDeadLetters(t, s, token, "").Data[0]
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/admin/dead-letters/" + dl.ID + "/replay", Token: token, Body: map[string]any{}})
	wantProblem(t, resp, http.StatusServiceUnavailable, "service_unavailable")
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
}
