package aging

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/db"
)

// Service builds aging reports.
type Service struct {
	DB *db.DB
}

// Report ages tenantID's books as p asks; edges default to the tenant's setting.
func (s *Service) Report(ctx context.Context, tenantID uuid.UUID, p Params) (Report, error) {
	edges := p.Edges
	if edges == nil {
		var settings []byte
		if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueSettings(b, tenantID, &settings) }); err != nil {
			return Report{}, err
		}
		edges = TenantEdges(settings)
	}
	var r Report
	err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { QueueReport(b, tenantID, p, edges, &r) })
	return r, err
}
