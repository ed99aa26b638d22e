package sod_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/sod"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestRulesNameOperationsAndActions(t *testing.T) {
	codes := map[string]bool{}
	for _, r := range sod.Rules() {
		_, ok := manifest.Lookup(r.Operation)
		require.True(t, ok, "%s guards %s, which is not in the manifest", r.Code, r.Operation)
		require.NotEmpty(t, r.Conflicting, r.Code)
		require.NotEmpty(t, r.Why, r.Code)
		require.False(t, codes[r.Code], "duplicate code %s", r.Code)
		codes[r.Code] = true
	}
}

func TestCheckReadsTheEntitysAuditTrail(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "Duties")
	other := d.NewTenant(t, "Elsewhere")
	invoice := uuid.New()
	clerk := audit.Actor{TenantID: tenant, Type: "user", ID: "clerk"}
	record := func(actor audit.Actor, action string, entity uuid.UUID) {
		t.Helper()
		require.NoError(t, d.App.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			if err := audit.Queue(b, actor.Record(action, "invoice", entity, nil, map[string]string{"id": entity.String()},
				time.Now().UTC())); err != nil {
				return err
			}
			return tx.SendBatch(ctx, b).Close()
		}))
	}
	check := func(actor audit.Actor, entity uuid.UUID) error {
		return d.App.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
			return sod.WriteOffOwnInvoice.Check(ctx, tx, actor, entity)
		})
	}
	record(clerk, "invoice.created", invoice)

	err := check(clerk, invoice)
	require.Equal(t, apperr.Forbidden, apperr.From(err).Kind)
	require.Equal(t, "sod_write_off_own_invoice", apperr.From(err).Code)

	cases := []struct {
		name   string
		actor  audit.Actor
		entity uuid.UUID
	}{
		{"another person", audit.Actor{TenantID: tenant, Type: "user", ID: "controller"}, invoice},
		{"same id, another kind of actor", audit.Actor{TenantID: tenant, Type: "api_client", ID: "clerk"}, invoice},
		{"another invoice", clerk, uuid.New()},
		{"same subject in another tenant", audit.Actor{TenantID: other, Type: "user", ID: "clerk"}, invoice},
	}
	for _, tc := range cases {
		require.NoError(t, check(tc.actor, tc.entity), tc.name)
	}

	// Actions that do not conflict leave the actor free; one that does binds them.
	controller := audit.Actor{TenantID: tenant, Type: "user", ID: "controller"}
	record(controller, "invoice.credited", invoice)
	require.NoError(t, check(controller, invoice))
	record(controller, "invoice.finalized", invoice)
	require.Equal(t, "sod_write_off_own_invoice", apperr.From(check(controller, invoice)).Code)
}
