package agents

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/money"
)

// The built-in AR agent fills a template per dunning stage: a friendly reminder, a
// firm second notice, a final notice. It names every overdue invoice of the input by
// number, due date and amount, and lets the customer's payment history set one
// sentence of tone; it quotes nothing the input does not hold.

// maxListedInvoices is how many invoices a message names; a message stays readable
// and within its schema, the oldest named and the rest counted.
const maxListedInvoices = 40

// draftCollection writes the message for in.
func draftCollection(in ARCollectionsInput) (CollectionMessage, error) {
	if len(in.Invoices) == 0 {
		return CollectionMessage{}, errors.New("no overdue invoices to write about")
	}
	invoices := slices.Clone(in.Invoices)
	// Oldest first: the invoice most overdue leads.
	slices.SortStableFunc(invoices, func(a, b OverdueInvoice) int {
		if c := a.DueDate.Compare(b.DueDate); c != 0 {
			return c
		}
		return strings.Compare(a.Number, b.Number)
	})
	name := strings.TrimSpace(in.CounterpartyName)
	if name == "" {
		name = "customer"
	}
	amount := func(minor int64) string {
		s, err := money.FormatMinor(minor, in.Currency)
		if err != nil {
			return fmt.Sprintf("%d (minor units)", minor)
		}
		return in.Currency + " " + s
	}
	var total int64
	for _, inv := range invoices {
		total += inv.AmountDueMinor
	}
	if in.OverdueMinor > 0 {
		total = in.OverdueMinor
	}
	var list strings.Builder
	ids := make([]uuid.UUID, 0, len(invoices))
	for i, inv := range invoices {
		if i == maxListedInvoices {
			fmt.Fprintf(&list, "- and %d more overdue invoices\n", len(invoices)-maxListedInvoices)
			break
		}
		number := inv.Number
		if number == "" {
			number = "(unnumbered invoice)"
		}
		fmt.Fprintf(&list, "- Invoice %s, due %s: %s\n", number, inv.DueDate, amount(inv.AmountDueMinor))
		ids = append(ids, inv.ID)
	}
	which := "invoice " + invoices[0].Number
	if len(invoices) > 1 {
		which = fmt.Sprintf("%d invoices", len(invoices))
	}
	// "the following invoices are" or "the following invoice is".
	invoicesAre, invoicesRemain, oldest := "invoices are", "invoices remain", ", the oldest by"
	if len(invoices) == 1 {
		invoicesAre, invoicesRemain, oldest = "invoice is", "invoice remains", " by"
	}
	late := fmt.Sprintf("%d days", in.OldestDaysLate)
	if in.OldestDaysLate == 1 {
		late = "1 day"
	}

	var subject, opening, ask, closing string
	switch in.Stage {
	case StageFirm:
		subject = fmt.Sprintf("Second notice: %s overdue, %s outstanding", which, amount(total))
		opening = fmt.Sprintf("Our earlier reminder has not been answered, and the following %s now overdue%s %s:", invoicesAre, oldest, late)
		ask = "Please arrange payment of the full amount within 7 days, or let us know by reply if anything is disputed so that we can resolve it."
		closing = "Regards"
	case StageFinal:
		subject = fmt.Sprintf("Final notice: %s overdue, %s outstanding", which, amount(total))
		opening = fmt.Sprintf("Despite our previous reminders, the following %s unpaid%s %s:", invoicesRemain, oldest, late)
		ask = "This is our final notice. Unless payment of the full amount is received within 5 business days, we will take further collection steps as our terms allow. If you have already paid, please send us the payment details."
		closing = "Sincerely"
	default:
		subject = fmt.Sprintf("Friendly reminder: %s past due", which)
		opening = "We hope all is well. According to our records, the following " + invoicesAre + " now past due:"
		ask = "If you have already sent payment, please disregard this message, and thank you. Otherwise we would appreciate payment at your earliest convenience."
		closing = "Kind regards"
	}
	var tone string
	switch {
	case in.MedianDaysToPay != nil && *in.MedianDaysToPay <= 0:
		tone = "You have always paid us on time, so this may simply be an oversight."
	case in.MedianDaysToPay != nil && in.Stage == StageReminder:
		tone = fmt.Sprintf("You usually pay about %.0f days after the due date, so payment may already be on its way.", *in.MedianDaysToPay)
	}

	var body strings.Builder
	fmt.Fprintf(&body, "Dear %s team,\n\n%s\n\n%s", name, opening, list.String())
	fmt.Fprintf(&body, "\nTotal overdue: %s.\n\n", amount(total))
	if tone != "" {
		body.WriteString(tone + " ")
	}
	fmt.Fprintf(&body, "%s\n\n%s,\nAccounts Receivable", ask, closing)
	subject = clip(subject, 200)
	return CollectionMessage{Subject: subject, Body: body.String(), Stage: in.Stage, CitedInvoiceIDs: ids}, nil
}
