// Package sod holds Ledgerline's separation-of-duties rules: the places where one
// person may not carry a transaction from start to finish, because doing so would let
// them commit and conceal an error or a fraud alone. Roles say what a person may do in
// general; these rules say what they may not do to a particular entity, given what they
// already did to it.
//
// Every rule reads the same evidence: the entity's audit trail, which is append-only
// and hash-chained, so what decides a refusal is exactly what an auditor later sees.
// Actors are compared by type and id (a user's subject, an API client's id, an agent's
// id); a person acting through two identities is for identity management to prevent.
package sod

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
)

// Rule refuses Operation on an entity to whoever performed one of the Conflicting
// actions on it.
type Rule struct {
	// Code is the refusal's stable problem code.
	Code string
	// Operation is the manifest operation the rule guards.
	Operation string
	// EntityType is the audited entity whose history decides (audit_events.entity_type).
	EntityType string
	// Conflicting are the audit actions that bar their actor from Operation.
	Conflicting []string
	// Why is the rule in words, for the refusal and the documentation.
	Why string
}

// WriteOffOwnInvoice keeps whoever raised an invoice from writing it off: otherwise
// one person could book a sale and then make the receivable disappear, with nobody
// else having seen either.
var WriteOffOwnInvoice = Rule{
	Code:        "sod_write_off_own_invoice",
	Operation:   "InvoicesMarkUncollectible",
	EntityType:  "invoice",
	Conflicting: []string{"invoice.created", "invoice.updated", "invoice.finalized"},
	Why:         "an invoice cannot be written off by whoever created, edited or finalized it",
}

// ApproveWriteOffOwnInvoice is WriteOffOwnInvoice for a write-off an agent proposed:
// approving the proposal writes the invoice off, so its approver is held to the same
// rule, and hears so before anything is done.
var ApproveWriteOffOwnInvoice = Rule{
	Code:        "sod_approve_write_off_own_invoice",
	Operation:   "ProposalsApprove",
	EntityType:  "invoice",
	Conflicting: WriteOffOwnInvoice.Conflicting,
	Why:         "a proposal to write an invoice off cannot be approved by whoever created, edited or finalized the invoice",
}

// ApproveAllocationOfOwnPayment keeps whoever recorded a payment from approving a
// proposal to allocate it: otherwise one person could book money received and decide
// alone which receivable it settles, hiding a shortfall elsewhere (teeming and lading).
var ApproveAllocationOfOwnPayment = Rule{
	Code:        "sod_approve_allocation_of_own_payment",
	Operation:   "ProposalsApprove",
	EntityType:  "payment",
	Conflicting: []string{"payment.created"},
	Why:         "a proposal to allocate a payment cannot be approved by whoever recorded the payment",
}

// ApproveOwnProposal keeps whoever proposed something (through the MCP tools) from
// approving it: a proposal is a request for a second person's judgement.
var ApproveOwnProposal = Rule{
	Code:        "sod_approve_own_proposal",
	Operation:   "ProposalsApprove",
	EntityType:  "proposal",
	Conflicting: []string{"proposal.created"},
	Why:         "a proposal cannot be approved by whoever proposed it",
}

// Rules lists every rule, for documentation and for the tests that hold each to an
// operation in the manifest.
func Rules() []Rule {
	return []Rule{WriteOffOwnInvoice, ApproveWriteOffOwnInvoice, ApproveAllocationOfOwnPayment, ApproveOwnProposal}
}

// conflictSQL asks whether the actor performed a conflicting action on the entity.
// audit_events_by_entity (tenant, entity type, entity id, seq) finds the entity's few
// records directly.
const conflictSQL = `
SELECT EXISTS (
    SELECT 1 FROM audit_events
     WHERE tenant_id = $1 AND entity_type = $2 AND entity_id = $3
       AND action = ANY($4) AND actor_type = $5 AND actor_id = $6)`

// Check refuses actor if the rule bars them from acting on entityID. It runs in the
// transaction that performs the operation, after the entity is locked, so the history
// it reads cannot change before the operation commits.
func (r Rule) Check(ctx context.Context, tx pgx.Tx, actor audit.Actor, entityID uuid.UUID) error {
	var conflict bool
	if err := tx.QueryRow(ctx, conflictSQL, actor.TenantID, r.EntityType, entityID, r.Conflicting, actor.Type, actor.ID).
		Scan(&conflict); err != nil {
		return fmt.Errorf("sod: %s: %w", r.Code, err)
	}
	if conflict {
		return apperr.New(apperr.Forbidden, r.Code, "separation of duties: "+r.Why)
	}
	return nil
}
