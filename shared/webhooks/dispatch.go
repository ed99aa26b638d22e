package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/features"
)

const (
	// UserAgent identifies deliveries to receivers.
	UserAgent = "Ledgerline-Webhooks/1"
	// leaseDuration reserves a claimed delivery for its attempt; far longer than an
	// attempt can take, so only an attempt whose instance died loses its lease.
	leaseDuration = 3 * DeliveryTimeout
	// maxParallel bounds one event's concurrent POSTs, and so the pool connections
	// their records wait for.
	maxParallel = 4
	// maxErrorLength bounds the error text kept in the log, in bytes.
	maxErrorLength = 500
)

// ErrUnknownTenant is returned for an event whose tenant does not exist: no
// redelivery can change that.
var ErrUnknownTenant = errors.New("webhooks: the event's tenant does not exist")

// Payload is the JSON body of a delivery.
type Payload struct {
	ID      uuid.UUID       `json:"id"`
	Type    string          `json:"type"`
	Created int64           `json:"created"` // the event's time, unix seconds
	Data    json.RawMessage `json:"data"`
}

// Dispatcher delivers domain events to the endpoints subscribed to them.
type Dispatcher struct {
	DB      *db.DB
	Now     func() time.Time
	Secrets *Sealer
	// Client sends the POSTs; NewClient builds the one production uses.
	Client *http.Client
	// Features says whether the tenant has webhooks on (features.Webhooks); nil reads
	// the flag from the database on each event.
	Features *features.Service
}

// Outcome counts what one dispatch of an event did.
type Outcome struct {
	Endpoints int // enabled and subscribed to the event's type
	Delivered int // answered 2xx to this dispatch
	Skipped   int // had succeeded before: never sent twice
	Failed    int // failed this time
	Busy      int // an attempt by another copy of the event is in flight
	// Disabled says the tenant had webhooks off: nothing was sent, and the event will
	// not be sent when they are turned on again.
	Disabled bool
}

// Dispatch sends e to every enabled endpoint of its tenant subscribed to its type,
// except those it already reached. Every attempt is recorded in the delivery log. The
// error is non-nil when some endpoint has not been reached yet, so the caller has the
// event redelivered; the endpoints that succeeded are then skipped. A tenant with
// webhooks off (features.Webhooks) gets nothing, and the event is done with.
func (d *Dispatcher) Dispatch(ctx context.Context, e events.Event) (Outcome, error) {
	var out Outcome
	flags := d.Features
	if flags == nil {
		flags = &features.Service{DB: d.DB}
	}
	on, err := flags.Enabled(ctx, e.TenantID, features.Webhooks)
	if err != nil {
		return out, err
	}
	if !on {
		out.Disabled = true
		return out, nil
	}
	var known bool
	var targets []target
	if err := d.DB.Read(ctx, e.TenantID, func(b *pgx.Batch) { queueTargets(b, e.TenantID, e.Type, &known, &targets) }); err != nil {
		return out, err
	}
	if !known {
		return out, ErrUnknownTenant
	}
	out.Endpoints = len(targets)
	if len(targets) == 0 {
		return out, nil
	}
	// Opened before anything is claimed: a missing key is a configuration fault, and
	// the redelivery after it is fixed should find nothing half done.
	secrets := make([]string, len(targets))
	for i, t := range targets {
		s, err := d.Secrets.Open(e.TenantID, t.ID, t.Sealed)
		if err != nil {
			return out, err
		}
		secrets[i] = s
	}
	body, err := json.Marshal(Payload{ID: e.ID, Type: e.Type, Created: e.CreatedAt.Unix(), Data: e.Data})
	if err != nil {
		return out, fmt.Errorf("webhooks: encode event %s: %w", e.ID, err)
	}

	now := d.Now().UTC().Truncate(time.Microsecond)
	ids := make([]uuid.UUID, len(targets))
	claimed := make([]bool, len(targets))
	statuses := map[uuid.UUID]DeliveryStatus{}
	err = d.DB.InTenantTx(ctx, e.TenantID, func(tx pgx.Tx) error {
		clear(claimed)
		clear(statuses)
		b := &pgx.Batch{}
		for i, t := range targets {
			queueClaim(b, e.TenantID, uuid.Must(uuid.NewV7()), t.ID, e.ID, e.Type, now, now.Add(leaseDuration), &ids[i], &claimed[i])
		}
		queueDeliveryStatuses(b, e.TenantID, e.ID, statuses)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return out, err
	}

	var errs []error
	for i, t := range targets {
		switch {
		case claimed[i]:
		case statuses[t.ID] == Succeeded:
			out.Skipped++
		default:
			out.Busy++
			errs = append(errs, fmt.Errorf("endpoint %s: another attempt is in flight", t.ID))
		}
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, maxParallel)
	)
	for i, t := range targets {
		if !claimed[i] {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			a := d.post(ctx, t.URL, secrets[i], body)
			recErr := d.record(ctx, e.TenantID, ids[i], a)
			mu.Lock()
			defer mu.Unlock()
			if a.Status == Succeeded {
				out.Delivered++
			} else {
				out.Failed++
				errs = append(errs, fmt.Errorf("endpoint %s: %s", t.ID, *a.Error))
			}
			if recErr != nil {
				errs = append(errs, fmt.Errorf("endpoint %s: recording the attempt: %w", t.ID, recErr))
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// post makes one attempt: the signed POST, judged by its status alone.
func (d *Dispatcher) post(ctx context.Context, url, secret string, body []byte) attempt {
	at := d.Now().UTC().Truncate(time.Microsecond)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return failure(at, nil, err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(SignatureHeader, Sign(secret, body, at))
	resp, err := d.Client.Do(req)
	if err != nil {
		return failure(at, nil, err.Error())
	}
	defer resp.Body.Close()
	// Draining a bounded amount lets the connection be reused; the answer is not kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return attempt{Status: Succeeded, StatusCode: &code, At: at}
	}
	return failure(at, &code, "the endpoint answered "+resp.Status)
}

func failure(at time.Time, code *int, msg string) attempt {
	if len(msg) > maxErrorLength {
		cut := maxErrorLength
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return attempt{Status: Failed, StatusCode: code, Error: &msg, At: at}
}

// record writes the attempt even when the event's context has run out: the POST
// happened, and the log must say so.
func (d *Dispatcher) record(ctx context.Context, tenantID, deliveryID uuid.UUID, a attempt) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return d.DB.InTenantTx(ctx, tenantID, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueRecordAttempt(b, tenantID, deliveryID, a)
		return tx.SendBatch(ctx, b).Close()
	})
}
