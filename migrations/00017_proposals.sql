-- +goose Up
-- Proposals: what an AI agent proposes to do to the books (a draft bill extracted from
-- a document, a collection message for an overdue customer, an allocation of a
-- payment, a write-off), kept with the agent's rationale and the evidence it saw until
-- a person approves or rejects it. Approving carries the proposal out through the
-- domain services, as the approver, in the transaction that records the decision;
-- nothing an agent proposes reaches the books any other way.
CREATE TABLE proposals (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    kind              text NOT NULL CHECK (kind IN ('bill', 'collection_message', 'allocation', 'write_off')),
    -- pending until decided; failed when approved but the books refused it (the
    -- invoice was paid meanwhile): it can never be carried out as proposed.
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'failed')),
    -- The proposed content, typed per kind (shared/proposals), as executed once
    -- approved (an approver may edit a bill or a message); the audit trail keeps what
    -- the agent proposed.
    content           jsonb NOT NULL,
    rationale         text NOT NULL CHECK (length(rationale) BETWEEN 1 AND 4000),
    -- What the agent saw: ids and figures, as the workflow gave them to it.
    evidence          jsonb NOT NULL,
    flags             text[] NOT NULL DEFAULT '{}',
    agent_run_id      uuid,
    -- The entity the proposal acts on (the payment to allocate, the invoice to write
    -- off, the customer to remind; none for a bill), its currency and amount: what
    -- separation of duties, the agent limits and the one-message-per-stage rule read.
    subject_type      text CHECK (subject_type IN ('payment', 'invoice', 'counterparty')),
    subject_id        uuid,
    currency          char(3) CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor      bigint CHECK (amount_minor >= 0),
    dunning_stage     integer CHECK (dunning_stage >= 1),
    collection_run_id uuid,
    proposed_by_type  text NOT NULL CHECK (proposed_by_type IN ('user', 'api_client', 'agent', 'system')),
    proposed_by       text NOT NULL CHECK (length(proposed_by) BETWEEN 1 AND 255),
    requested_by_type text CHECK (requested_by_type IN ('user', 'api_client', 'agent', 'system')),
    requested_by      text CHECK (length(requested_by) BETWEEN 1 AND 255),
    decided_by_type   text CHECK (decided_by_type IN ('user', 'api_client', 'agent', 'system')),
    decided_by        text CHECK (length(decided_by) BETWEEN 1 AND 255),
    decided_at        timestamptz,
    decision_note     text CHECK (length(decision_note) <= 2000),
    result            jsonb,
    version           integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    -- A decision names who made it and when; a pending proposal has neither.
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((decided_at IS NULL) = (decided_by IS NULL)),
    -- An agent proposes; it never decides.
    CHECK (decided_by_type IS DISTINCT FROM 'agent'),
    CHECK ((subject_type IS NULL) = (subject_id IS NULL)),
    UNIQUE (tenant_id, id)
);
-- Ids are UUIDv7: (tenant_id, id DESC) serves newest-first pages, and the filtered
-- lists (pending bills, say) with the status and kind in front.
CREATE INDEX proposals_page ON proposals (tenant_id, id DESC);
CREATE INDEX proposals_by_status ON proposals (tenant_id, status, kind, id DESC);
-- One collection message per customer, currency and dunning stage while it is pending
-- or was sent: a second run of the AR agent proposes nothing new for a stage already
-- handled, even when two runs race.
CREATE UNIQUE INDEX proposals_one_message_per_stage ON proposals (tenant_id, subject_id, currency, dunning_stage)
    WHERE kind = 'collection_message' AND status IN ('pending', 'approved');

-- A run of the AR agent over the overdue customers: each (customer, currency) is an
-- item, drafted inline for a few, else by the AgentRuns processor, one message per
-- item on ledgerline-agent-runs.
CREATE TABLE collection_runs (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    mode              text NOT NULL CHECK (mode IN ('inline', 'async')),
    status            text NOT NULL CHECK (status IN ('running', 'completed')),
    as_of             date NOT NULL,
    items_total       integer NOT NULL CHECK (items_total >= 0),
    items_done        integer NOT NULL DEFAULT 0 CHECK (items_done >= 0),
    -- Who asked: the proposals the processor makes are audited as requested by them.
    requested_by_type text NOT NULL CHECK (requested_by_type IN ('user', 'api_client', 'agent', 'system')),
    requested_by      text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 255),
    request_id        text,
    trace_parent      text CHECK (length(trace_parent) <= 128),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    finished_at       timestamptz,
    CHECK (items_done <= items_total),
    CHECK ((status = 'completed') = (finished_at IS NOT NULL)),
    UNIQUE (tenant_id, id)
);
CREATE INDEX collection_runs_page ON collection_runs (tenant_id, id DESC);

CREATE TABLE collection_run_items (
    tenant_id         uuid NOT NULL,
    run_id            uuid NOT NULL,
    seq               integer NOT NULL CHECK (seq >= 1),
    counterparty_id   uuid NOT NULL,
    counterparty_name text NOT NULL,
    currency          char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    overdue_minor     bigint NOT NULL CHECK (overdue_minor >= 0),
    days_overdue      integer NOT NULL CHECK (days_overdue >= 0),
    stage             integer NOT NULL CHECK (stage >= 0),
    -- pending until drafted; proposed (proposal_id names it) or skipped (reason says
    -- why: below the first stage, already proposed, the agent refused) once done.
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'proposed', 'skipped')),
    reason            text CHECK (length(reason) <= 64),
    detail            text CHECK (length(detail) <= 2000),
    proposal_id       uuid,
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    updated_at        timestamptz NOT NULL,
    CHECK ((status = 'proposed') = (proposal_id IS NOT NULL)),
    CHECK ((status = 'skipped') = (reason IS NOT NULL)),
    PRIMARY KEY (tenant_id, run_id, seq),
    FOREIGN KEY (tenant_id, run_id) REFERENCES collection_runs (tenant_id, id) ON DELETE CASCADE
);

-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['proposals', 'collection_runs', 'collection_run_items']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant_id()) '
                       'WITH CHECK (tenant_id = current_tenant_id())', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Proposals and runs are never deleted: a decision is a column change, the audit
-- trail keeps every state.
GRANT SELECT, INSERT, UPDATE ON proposals, collection_runs, collection_run_items TO ledgerline_app;

-- +goose Down
DROP TABLE collection_run_items, collection_runs, proposals;
