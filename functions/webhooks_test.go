package functions_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/webhooks"
)

// receiver is a webhook receiver: it records every request and answers with the
// queued statuses in turn, then 200.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []receivedRequest
}

type receivedRequest struct {
	Path   string
	Header http.Header
	Body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, receivedRequest{Path: req.URL.Path, Header: req.Header.Clone(), Body: body})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests(path string) []receivedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []receivedRequest
	for _, g := range r.got {
		if g.Path == path {
			out = append(out, g)
		}
	}
	return out
}

func (r *receiver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// capturedEvents keeps what the functions publish, to hand to the dispatcher.
type capturedEvents struct {
	mu  sync.Mutex
	got []events.Event
}

func (c *capturedEvents) Publish(_ context.Context, e events.Event) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, e)
	return uuid.NewString(), nil
}

func (c *capturedEvents) last(t *testing.T, typ string) events.Event {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.got) - 1; i >= 0; i-- {
		if c.got[i].Type == typ {
			return c.got[i]
		}
	}
	t.Fatalf("no %s event was published", typ)
	return events.Event{}
}

// eventMessage is e as the events publisher sends it to Pub/Sub.
func eventMessage(t *testing.T, e events.Event) platform.Message {
	t.Helper()
	body, err := json.Marshal(e)
	require.NoError(t, err)
	return platform.Message{
		ID: uuid.NewString(), Data: body, OrderingKey: e.EntityID.String(),
		Attributes: map[string]string{
			events.AttrEventID: e.ID.String(), events.AttrEventType: e.Type, events.AttrTenantID: e.TenantID.String(),
			events.AttrEntityType: e.EntityType, events.AttrEntityID: e.EntityID.String(),
			events.AttrEntityVersion: strconv.Itoa(e.EntityVersion),
		},
	}
}

type webhookEndpoint struct {
	ID            string   `json:"id"`
	Object        string   `json:"object"`
	URL           string   `json:"url"`
	EnabledEvents []string `json:"enabled_events"`
	Description   *string  `json:"description"`
	Status        string   `json:"status"`
	Version       int      `json:"version"`
	CreatedAt     string   `json:"created_at"`
	Secret        string   `json:"secret"`
}

type webhookDelivery struct {
	ID             string  `json:"id"`
	EndpointID     string  `json:"endpoint_id"`
	EventID        string  `json:"event_id"`
	EventType      string  `json:"event_type"`
	Status         string  `json:"status"`
	Attempts       int     `json:"attempts"`
	LastStatusCode *int    `json:"last_status_code"`
	LastError      *string `json:"last_error"`
	LastAttemptAt  *string `json:"last_attempt_at"`
	DeliveredAt    *string `json:"delivered_at"`
}

func createEndpoint(t *testing.T, s *apitest.Server, token, url string, enabled ...string) webhookEndpoint {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/webhook-endpoints", Token: token,
		Body: map[string]any{"url": url, "enabled_events": enabled}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var e webhookEndpoint
	resp.JSON(t, &e)
	return e
}

func deliveries(t *testing.T, s *apitest.Server, token, endpointID string) []webhookDelivery {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/webhook-endpoints/" + endpointID + "/deliveries", Token: token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var l struct {
		Data []webhookDelivery `json:"data"`
	}
	resp.JSON(t, &l)
	return l.Data
}

func TestWebhookEndpointCreateGetListDelete(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, tok := s.Tenant(t, "Acme")

	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/webhook-endpoints", Token: tok,
		Body: map[string]any{"url": "https://erp.example.com/hooks", "enabled_events": []string{"invoice.paid", "payment.created"}, "description": "ERP"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var created webhookEndpoint
	resp.JSON(t, &created)
	require.Equal(t, "webhook_endpoint", created.Object)
	require.Equal(t, "https://erp.example.com/hooks", created.URL)
	require.Equal(t, []string{"invoice.paid", "payment.created"}, created.EnabledEvents)
	require.Equal(t, "ERP", *created.Description)
	require.Equal(t, "enabled", created.Status)
	require.Equal(t, 1, created.Version)
	require.Regexp(t, `^whsec_[A-Za-z0-9_-]{43}$`, created.Secret)
	require.Equal(t, "/v1/webhook-endpoints/"+created.ID, resp.Header.Get("Location"))
	require.Equal(t, `"1"`, resp.Header.Get("ETag"))

	// The secret is shown once: no other response carries it, and it is not stored in clear.
	got := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/webhook-endpoints/" + created.ID, Token: tok})
	require.Equal(t, http.StatusOK, got.Status, string(got.Body))
	var fields map[string]any
	got.JSON(t, &fields)
	require.NotContains(t, fields, "secret")
	var withSecret map[string]any
	resp.JSON(t, &withSecret)
	delete(withSecret, "secret")
	require.Equal(t, withSecret, fields)

	list := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/webhook-endpoints?limit=10", Token: tok})
	require.Equal(t, http.StatusOK, list.Status, string(list.Body))
	var l struct {
		Data    []map[string]any `json:"data"`
		HasMore bool             `json:"has_more"`
	}
	list.JSON(t, &l)
	require.Len(t, l.Data, 1)
	require.NotContains(t, l.Data[0], "secret")
	require.Equal(t, created.ID, l.Data[0]["id"])

	var sealed []byte
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT secret_sealed FROM webhook_endpoints WHERE id = $1`, created.ID).Scan(&sealed))
	require.NotContains(t, string(sealed), created.Secret[len("whsec_"):])

	stale := s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/webhook-endpoints/" + created.ID, Token: tok,
		Header: map[string]string{"If-Match": `"2"`}})
	require.Equal(t, http.StatusPreconditionFailed, stale.Status, string(stale.Body))

	del := s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/webhook-endpoints/" + created.ID, Token: tok,
		Header: map[string]string{"If-Match": `"1"`}})
	require.Equal(t, http.StatusNoContent, del.Status, string(del.Body))
	for _, req := range []apitest.Request{
		{Method: "GET", Path: "/v1/webhook-endpoints/" + created.ID, Token: tok},
		{Method: "DELETE", Path: "/v1/webhook-endpoints/" + created.ID, Token: tok},
		{Method: "GET", Path: "/v1/webhook-endpoints/" + created.ID + "/deliveries", Token: tok},
		{Method: "GET", Path: "/v1/webhook-endpoints/not-an-id", Token: tok},
	} {
		gone := s.Do(t, req)
		require.Equal(t, http.StatusNotFound, gone.Status, "%s %s", req.Method, req.Path)
		require.Equal(t, "webhook_endpoint_not_found", gone.Problem(t).Code)
	}

	// Creation and deletion are audited like every other change.
	var actions []string
	rows, err := s.DB.Admin.Query(context.Background(),
		`SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY seq`, created.ID)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"webhook_endpoint.created", "webhook_endpoint.deleted"}, actions)
}

func TestWebhookEndpointValidation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, tok := s.Tenant(t, "Acme")
	create := func(body any) apitest.Response {
		return s.Do(t, apitest.Request{Method: "POST", Path: "/v1/webhook-endpoints", Token: tok, Body: body})
	}

	cases := map[string]struct {
		body  map[string]any
		field string
	}{
		"relative url":     {map[string]any{"url": "/hooks", "enabled_events": []string{"*"}}, "url"},
		"ftp url":          {map[string]any{"url": "ftp://example.com/", "enabled_events": []string{"*"}}, "url"},
		"user info":        {map[string]any{"url": "https://u:p@example.com/", "enabled_events": []string{"*"}}, "url"},
		"no events":        {map[string]any{"url": "https://example.com/", "enabled_events": []string{}}, "enabled_events"},
		"unknown event":    {map[string]any{"url": "https://example.com/", "enabled_events": []string{"invoice.exploded"}}, "enabled_events[0]"},
		"star with others": {map[string]any{"url": "https://example.com/", "enabled_events": []string{"*", "invoice.paid"}}, "enabled_events[0]"},
		"twice":            {map[string]any{"url": "https://example.com/", "enabled_events": []string{"invoice.paid", "invoice.paid"}}, "enabled_events[1]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp := create(tc.body)
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
			p := resp.Problem(t)
			require.Equal(t, "validation_failed", p.Code)
			require.Contains(t, p.Errors, tc.field)
		})
	}

	resp := create(map[string]any{"url": "https://example.com/", "enabled_events": []string{"*"}, "secret": "mine"})
	require.Equal(t, http.StatusBadRequest, resp.Status, string(resp.Body))
	require.Equal(t, "unknown_field", resp.Problem(t).Code)
}

// Production refuses internal targets when the endpoint is created, and again when
// delivering, after the name has been resolved.
func TestWebhookPrivateTargets(t *testing.T) {
	t.Parallel()
	strict := apitest.New(t, func(d *platform.Deps) { d.Config.WebhookAllowPrivateTargets = false })
	_, tok := strict.Tenant(t, "Acme")
	for _, u := range []string{"http://localhost:8080/hook", "http://127.0.0.1/hook", "http://10.0.0.7/hook",
		"http://169.254.169.254/computeMetadata/v1/", "http://[::1]/hook", "http://[fd12::1]/hook"} {
		resp := strict.Do(t, apitest.Request{Method: "POST", Path: "/v1/webhook-endpoints", Token: tok,
			Body: map[string]any{"url": u, "enabled_events": []string{"*"}}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status, u)
		require.Equal(t, "webhook_url_not_allowed", resp.Problem(t).Code, u)
	}

	// An endpoint that passed creation (as a public name would) but reaches loopback when
	// dialled is refused at delivery, and the attempt is logged as failed.
	pub := &capturedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub))
	_, tok = s.Tenant(t, "Globex")
	recv := newReceiver(t)
	ep := createEndpoint(t, s, tok, recv.srv.URL+"/hook", "*")
	production := *s
	deps := *s.Deps
	deps.Config.WebhookAllowPrivateTargets = false
	production.Deps = &deps
	err := production.Deliver(t, "WebhookDispatch", eventMessage(t, pub.last(t, "webhook_endpoint.created")))
	require.Error(t, err, "the event is redelivered")
	require.Zero(t, recv.total(), "nothing reached the receiver")
	d := deliveries(t, s, tok, ep.ID)
	require.Len(t, d, 1)
	require.Equal(t, "failed", d[0].Status)
	require.Nil(t, d[0].LastStatusCode)
	require.Contains(t, *d[0].LastError, "not allowed")
}

func TestWebhookEndpointsTenancyAndRoles(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenantA, tokA := s.Tenant(t, "A")
	_, tokB := s.Tenant(t, "B")
	ep := createEndpoint(t, s, tokA, "https://a.example.com/hook", "*")

	for _, req := range []apitest.Request{
		{Method: "GET", Path: "/v1/webhook-endpoints/" + ep.ID, Token: tokB},
		{Method: "DELETE", Path: "/v1/webhook-endpoints/" + ep.ID, Token: tokB},
		{Method: "GET", Path: "/v1/webhook-endpoints/" + ep.ID + "/deliveries", Token: tokB},
	} {
		resp := s.Do(t, req)
		require.Equal(t, http.StatusNotFound, resp.Status, "%s %s", req.Method, req.Path)
		require.Equal(t, "webhook_endpoint_not_found", resp.Problem(t).Code)
	}
	list := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/webhook-endpoints", Token: tokB})
	require.Equal(t, http.StatusOK, list.Status)
	require.JSONEq(t, `{"object":"list","data":[],"has_more":false}`, string(list.Body))

	// Managing webhooks is for owners and admins: the books' writers may not redirect events.
	owner := s.Token(t, tenantA, auth.RoleOwner)
	require.Equal(t, http.StatusOK, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/webhook-endpoints", Token: owner}).Status)
	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleAccountant, auth.RoleAuditor} {
		tok := s.Token(t, tenantA, role)
		for _, req := range []apitest.Request{
			{Method: "POST", Path: "/v1/webhook-endpoints", Token: tok, Body: map[string]any{"url": "https://x.example.com", "enabled_events": []string{"*"}}},
			{Method: "GET", Path: "/v1/webhook-endpoints", Token: tok},
			{Method: "GET", Path: "/v1/webhook-endpoints/" + ep.ID, Token: tok},
			{Method: "DELETE", Path: "/v1/webhook-endpoints/" + ep.ID, Token: tok},
			{Method: "GET", Path: "/v1/webhook-endpoints/" + ep.ID + "/deliveries", Token: tok},
		} {
			resp := s.Do(t, req)
			require.Equal(t, http.StatusForbidden, resp.Status, "%s: %s %s", role, req.Method, req.Path)
		}
	}
	require.Equal(t, http.StatusOK, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/webhook-endpoints/" + ep.ID, Token: tokA}).Status)
}

// Each enabled endpoint subscribed to the event's type gets one signed POST; the rest
// get nothing.
func TestWebhookDispatchSignsAndRoutes(t *testing.T) {
	t.Parallel()
	pub := &capturedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub))
	_, tok := s.Tenant(t, "Acme")
	recv := newReceiver(t)

	all := createEndpoint(t, s, tok, recv.srv.URL+"/all", "*")
	createEndpoint(t, s, tok, recv.srv.URL+"/invoices", "invoice.created")
	named := createEndpoint(t, s, tok, recv.srv.URL+"/counterparties", "invoice.paid", "counterparty.created")
	disabled := createEndpoint(t, s, tok, recv.srv.URL+"/disabled", "*")
	deleted := createEndpoint(t, s, tok, recv.srv.URL+"/deleted", "*")
	_, err := s.DB.Admin.Exec(context.Background(), `UPDATE webhook_endpoints SET status = 'disabled' WHERE id = $1`, disabled.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent,
		s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/webhook-endpoints/" + deleted.ID, Token: tok}).Status)

	created := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: tok,
		Body: map[string]any{"name": "Globex", "kind": "customer"}})
	require.Equal(t, http.StatusCreated, created.Status, string(created.Body))
	e := pub.last(t, "counterparty.created")
	require.NoError(t, s.Deliver(t, "WebhookDispatch", eventMessage(t, e)))

	require.Len(t, recv.requests("/all"), 1)
	require.Len(t, recv.requests("/counterparties"), 1)
	require.Empty(t, recv.requests("/invoices"), "not subscribed to counterparty.created")
	require.Empty(t, recv.requests("/disabled"))
	require.Empty(t, recv.requests("/deleted"))
	require.Equal(t, 2, recv.total())

	for path, secret := range map[string]string{"/all": all.Secret, "/counterparties": named.Secret} {
		r := recv.requests(path)[0]
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		require.Equal(t, "Ledgerline-Webhooks/1", r.Header.Get("User-Agent"))
		sig := r.Header.Get("Ledgerline-Signature")
		require.NoError(t, webhooks.Verify(secret, sig, r.Body, 5*time.Minute, time.Now()), path)
		require.ErrorIs(t, webhooks.Verify(disabled.Secret, sig, r.Body, 5*time.Minute, time.Now()), webhooks.ErrSignatureMismatch,
			"each endpoint has its own secret")

		var body struct {
			ID      string          `json:"id"`
			Type    string          `json:"type"`
			Created int64           `json:"created"`
			Data    json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body))
		require.Equal(t, e.ID.String(), body.ID)
		require.Equal(t, "counterparty.created", body.Type)
		require.Equal(t, e.CreatedAt.Unix(), body.Created)
		require.JSONEq(t, string(created.Body), string(body.Data), "data is the object after the change")
		var keys map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &keys))
		require.Len(t, keys, 4, "id, type, created and data only")
	}

	d := deliveries(t, s, tok, all.ID)
	require.Len(t, d, 1)
	require.Equal(t, e.ID.String(), d[0].EventID)
	require.Equal(t, "counterparty.created", d[0].EventType)
	require.Equal(t, "succeeded", d[0].Status)
	require.Equal(t, 1, d[0].Attempts)
	require.Equal(t, 200, *d[0].LastStatusCode)
	require.Nil(t, d[0].LastError)
	require.NotNil(t, d[0].DeliveredAt)
	require.Equal(t, d[0].LastAttemptAt, d[0].DeliveredAt)
}

// A failing endpoint makes the processor nack; the redelivery attempts it again, and
// the log shows both attempts.
func TestWebhookDispatchRetriesAFailedEndpoint(t *testing.T) {
	t.Parallel()
	pub := &capturedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub))
	_, tok := s.Tenant(t, "Acme")
	flaky := newReceiver(t, http.StatusInternalServerError)
	healthy := newReceiver(t)
	ep := createEndpoint(t, s, tok, flaky.srv.URL+"/hook", "counterparty.created")
	createEndpoint(t, s, tok, healthy.srv.URL+"/hook", "counterparty.created")

	require.Equal(t, http.StatusCreated, s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: tok,
		Body: map[string]any{"name": "Globex", "kind": "customer"}}).Status)
	msg := eventMessage(t, pub.last(t, "counterparty.created"))

	err := s.Deliver(t, "WebhookDispatch", msg)
	require.ErrorContains(t, err, ep.ID+": the endpoint answered 500")
	d := deliveries(t, s, tok, ep.ID)
	require.Len(t, d, 1)
	require.Equal(t, "failed", d[0].Status)
	require.Equal(t, 1, d[0].Attempts)
	require.Equal(t, 500, *d[0].LastStatusCode)
	require.Contains(t, *d[0].LastError, "500")
	require.Nil(t, d[0].DeliveredAt)

	require.NoError(t, s.Deliver(t, "WebhookDispatch", msg))
	d = deliveries(t, s, tok, ep.ID)
	require.Len(t, d, 1, "one log entry per event and endpoint")
	require.Equal(t, "succeeded", d[0].Status)
	require.Equal(t, 2, d[0].Attempts)
	require.Equal(t, 200, *d[0].LastStatusCode)
	require.Nil(t, d[0].LastError)
	require.NotNil(t, d[0].DeliveredAt)

	require.Equal(t, 2, flaky.total())
	require.Equal(t, 1, healthy.total(), "the endpoint that succeeded first is not sent the event again")
}

func TestWebhookDispatchDeliversOnce(t *testing.T) {
	t.Parallel()
	pub := &capturedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub))
	_, tok := s.Tenant(t, "Acme")
	recv := newReceiver(t)
	ep := createEndpoint(t, s, tok, recv.srv.URL+"/hook", "*")
	require.Equal(t, http.StatusCreated, s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: tok,
		Body: map[string]any{"name": "Globex", "kind": "customer"}}).Status)
	e := pub.last(t, "counterparty.created")

	msg := eventMessage(t, e)
	for range 3 {
		require.NoError(t, s.Deliver(t, "WebhookDispatch", msg))
	}
	// A copy published again (the sweeper racing the request) carries the same event id.
	require.NoError(t, s.Deliver(t, "WebhookDispatch", eventMessage(t, e)))
	require.Equal(t, 1, recv.total())
	d := deliveries(t, s, tok, ep.ID)
	require.Len(t, d, 1)
	require.Equal(t, 1, d[0].Attempts)

	// While another copy's attempt is in flight (its lease is live), this copy neither
	// POSTs nor acknowledges: the other attempt may yet fail.
	other := pub.last(t, "webhook_endpoint.created")
	_, err := s.DB.Admin.Exec(context.Background(), `INSERT INTO webhook_deliveries
    (id, tenant_id, endpoint_id, event_id, event_type, status, lease_expires_at)
SELECT $1, tenant_id, id, $2, 'webhook_endpoint.created', 'pending', now() + interval '1 minute'
  FROM webhook_endpoints WHERE id = $3`, uuid.New(), other.ID, ep.ID)
	require.NoError(t, err)
	require.ErrorContains(t, s.Deliver(t, "WebhookDispatch", eventMessage(t, other)), "another attempt is in flight")
	require.Equal(t, 1, recv.total())

	// An expired lease (its instance died) is taken over.
	_, err = s.DB.Admin.Exec(context.Background(),
		`UPDATE webhook_deliveries SET lease_expires_at = now() - interval '1 second' WHERE event_id = $1`, other.ID)
	require.NoError(t, err)
	require.NoError(t, s.Deliver(t, "WebhookDispatch", eventMessage(t, other)))
	require.Equal(t, 2, recv.total())
}

// Messages no redelivery can fix are acknowledged without a delivery.
func TestWebhookDispatchAcknowledgesPoisonMessages(t *testing.T) {
	t.Parallel()
	pub := &capturedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub))
	tenant, tok := s.Tenant(t, "Acme")
	recv := newReceiver(t)
	createEndpoint(t, s, tok, recv.srv.URL+"/hook", "*")
	good := pub.last(t, "webhook_endpoint.created")

	unknown := good
	unknown.TenantID = uuid.Must(uuid.NewV7())
	otherTenant := eventMessage(t, good)
	otherTenant.Attributes[events.AttrTenantID] = uuid.NewString()
	noTenant := eventMessage(t, good)
	delete(noTenant.Attributes, events.AttrTenantID)
	otherEvent := eventMessage(t, good)
	otherEvent.Attributes[events.AttrEventID] = uuid.NewString()

	for name, m := range map[string]platform.Message{
		"unknown tenant":                   eventMessage(t, unknown),
		"undecodable body":                 {Data: []byte("not json"), Attributes: map[string]string{events.AttrTenantID: tenant.String()}},
		"attribute names another tenant":   otherTenant,
		"no tenant attribute":              noTenant,
		"attribute names another event id": otherEvent,
	} {
		require.NoError(t, s.Deliver(t, "WebhookDispatch", m), name)
	}
	require.Zero(t, recv.total())

	require.NoError(t, s.Deliver(t, "WebhookDispatch", eventMessage(t, good)))
	require.Equal(t, 1, recv.total(), "the well-formed message is delivered")
}

func TestWebhookDeliveriesPagination(t *testing.T) {
	t.Parallel()
	pub := &capturedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub))
	_, tok := s.Tenant(t, "Acme")
	recv := newReceiver(t)
	ep := createEndpoint(t, s, tok, recv.srv.URL+"/hook", "counterparty.created")
	var ids []string
	for i := range 3 {
		require.Equal(t, http.StatusCreated, s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: tok,
			Body: map[string]any{"name": "C" + strconv.Itoa(i), "kind": "customer"}}).Status)
		e := pub.last(t, "counterparty.created")
		require.NoError(t, s.Deliver(t, "WebhookDispatch", eventMessage(t, e)))
		ids = append(ids, e.ID.String())
	}

	page := func(query string) ([]webhookDelivery, bool) {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/webhook-endpoints/" + ep.ID + "/deliveries" + query, Token: tok})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var l struct {
			Data    []webhookDelivery `json:"data"`
			HasMore bool              `json:"has_more"`
		}
		resp.JSON(t, &l)
		return l.Data, l.HasMore
	}
	first, more := page("?limit=2")
	require.True(t, more)
	require.Equal(t, []string{ids[2], ids[1]}, []string{first[0].EventID, first[1].EventID}, "newest first")
	second, more := page("?limit=2&starting_after=" + first[1].ID)
	require.False(t, more)
	require.Len(t, second, 1)
	require.Equal(t, ids[0], second[0].EventID)

	bad := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/webhook-endpoints/" + ep.ID + "/deliveries?limit=0", Token: tok})
	require.Equal(t, http.StatusBadRequest, bad.Status)
}
