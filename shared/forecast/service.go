package forecast

import (
	"context"
	"strconv"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/money"
)

// Service builds cash forecasts.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

// The as-of dates a forecast accepts: its weeks and history window must stay within
// four-digit years.
var (
	minAsOf = civil.Date{Year: 1901, Month: 1, Day: 1}
	maxAsOf = civil.Date{Year: 9998, Month: 12, Day: 31}
)

// WeeksMessage is what is wrong with a weeks parameter out of range.
var WeeksMessage = "must be an integer from 1 to " + strconv.Itoa(MaxWeeks)

func (p Params) validate() error {
	f := apperr.Fields{}
	if p.Weeks < 0 || p.Weeks > MaxWeeks {
		f.Add("weeks", WeeksMessage)
	}
	if p.AsOf != nil && (!p.AsOf.IsValid() || p.AsOf.Before(minAsOf) || p.AsOf.After(maxAsOf)) {
		f.Add("as_of", "must be a date from "+minAsOf.String()+" to "+maxAsOf.String())
	}
	if p.Currency != nil && !money.ValidCurrency(*p.Currency) {
		f.Add("currency", "must be an active ISO 4217 code in upper case")
	}
	return f.ParamErr()
}

// Report forecasts tenantID's cash as p asks.
func (s *Service) Report(ctx context.Context, tenantID uuid.UUID, p Params) (Report, error) {
	if err := p.validate(); err != nil {
		return Report{}, err
	}
	in := Input{AsOf: civil.DateOf(s.Now().UTC()), Weeks: DefaultWeeks, Currency: p.Currency, Explain: p.Explain}
	if p.AsOf != nil {
		in.AsOf = *p.AsOf
	}
	if p.Weeks != 0 {
		in.Weeks = p.Weeks
	}
	if p.Explain {
		in.Names = map[uuid.UUID]string{}
	}
	// One round trip, no transaction to open or commit. Each statement of the batch sees
	// the data as of its own start, so the history is read before the open items: an
	// invoice paid in between is then in neither (it is paid; no cash is expected), never
	// in both.
	err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) {
		queueWorkMem(b)
		queueHistory(b, tenantID, in.AsOf, &in.History)
		queueOpen(b, tenantID, p.Currency, &in.Open)
		if p.Explain {
			queueNames(b, tenantID, p.Currency, in.Names)
		}
	})
	if err != nil {
		return Report{}, err
	}
	return Compute(in), nil
}
