package agents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/money"
)

// Dunning stages of an AR collection message: the tone the tenant's schedule calls
// for, from the first reminder to the last notice before other steps.
const (
	StageReminder = "reminder"
	StageFirm     = "firm"
	StageFinal    = "final"
)

// StageFor is the dunning stage of a customer whose oldest overdue invoice is
// daysLate days past due, given the tenant's schedule (ascending day counts): ""
// before the first step, then reminder at the first step, final at the last, firm at
// any step between. A schedule of one step sends reminders only.
func StageFor(daysLate int, schedule []int) string {
	step := -1
	for i, d := range schedule {
		if daysLate >= d {
			step = i
		}
	}
	switch {
	case step < 0:
		return ""
	case step == 0:
		return StageReminder
	case step == len(schedule)-1:
		return StageFinal
	default:
		return StageFirm
	}
}

// spec is everything the gateway knows of one agent: its prompt and version, the
// schema of its output, and the checks a schema cannot express.
type spec struct {
	agent         Name
	promptVersion string
	system        string
	schemaJSON    json.RawMessage
	schema        *openapi3.Schema
	newInput      func() any
	newOutput     func() any
	// check returns what is wrong with a schema-valid output given its input (both
	// pointers to the agent's types); nothing when it may be used.
	check func(in, out any) []string
}

// The patterns the schemas share. Dates and ids are checked by pattern rather than
// format, so the check does not depend on which formats a validator knows.
const (
	datePattern    = `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`
	uuidPattern    = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	decimalPattern = `^(0|[1-9][0-9]{0,17})([.][0-9]{1,12})?$`
)

var apExtractSchema = `{
  "type": "object", "additionalProperties": false,
  "required": ["vendor", "number", "issue_date", "due_date", "currency", "lines", "total_minor", "confidence"],
  "properties": {
    "vendor": {
      "type": "object", "additionalProperties": false, "required": ["name", "tax_id", "matched_id"],
      "description": "The vendor as the document names it; matched_id is the id of the known vendor it is (same tax id, or same name), null for a new vendor.",
      "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "tax_id": {"type": "string", "nullable": true, "minLength": 1, "maxLength": 64},
        "matched_id": {"type": "string", "nullable": true, "pattern": "` + uuidPattern + `"}
      }
    },
    "number": {"type": "string", "nullable": true, "minLength": 1, "maxLength": 64, "description": "The vendor's invoice number, null when the document shows none."},
    "issue_date": {"type": "string", "pattern": "` + datePattern + `", "description": "YYYY-MM-DD"},
    "due_date": {"type": "string", "nullable": true, "pattern": "` + datePattern + `", "description": "YYYY-MM-DD, null when the document states neither a date nor terms."},
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code."},
    "lines": {
      "type": "array", "minItems": 1, "maxItems": 200,
      "items": {
        "type": "object", "additionalProperties": false, "required": ["description", "quantity", "unit_amount_minor", "tax_rate"],
        "properties": {
          "description": {"type": "string", "minLength": 1, "maxLength": 500},
          "quantity": {"type": "string", "pattern": "` + decimalPattern + `", "description": "Decimal string, e.g. \"3\" or \"2.5\"."},
          "unit_amount_minor": {"type": "integer", "minimum": 0, "description": "Price of one unit before tax, in minor units of the currency (cents)."},
          "tax_rate": {"type": "string", "nullable": true, "pattern": "` + decimalPattern + `", "description": "Tax rate in percent, e.g. \"20\"; null when none is stated."}
        }
      }
    },
    "total_minor": {"type": "integer", "minimum": 0, "description": "The total the document states (tax included), in minor units; the lines' total when it states none."},
    "confidence": {
      "type": "object", "additionalProperties": false,
      "required": ["vendor", "number", "issue_date", "due_date", "currency", "lines", "total_minor"],
      "description": "Confidence in each field, from 0 (guessed or absent) to 1 (read unambiguously).",
      "properties": {
        "vendor": {"type": "number", "minimum": 0, "maximum": 1},
        "number": {"type": "number", "minimum": 0, "maximum": 1},
        "issue_date": {"type": "number", "minimum": 0, "maximum": 1},
        "due_date": {"type": "number", "minimum": 0, "maximum": 1},
        "currency": {"type": "number", "minimum": 0, "maximum": 1},
        "lines": {"type": "number", "minimum": 0, "maximum": 1},
        "total_minor": {"type": "number", "minimum": 0, "maximum": 1}
      }
    }
  }
}`

var collectionSchema = `{
  "type": "object", "additionalProperties": false,
  "required": ["subject", "body", "stage", "cited_invoice_ids"],
  "properties": {
    "subject": {"type": "string", "minLength": 1, "maxLength": 200},
    "body": {"type": "string", "minLength": 1, "maxLength": 5000},
    "stage": {"type": "string", "enum": ["reminder", "firm", "final"], "description": "The stage of the input, unchanged."},
    "cited_invoice_ids": {
      "type": "array", "minItems": 1, "maxItems": 100,
      "items": {"type": "string", "pattern": "` + uuidPattern + `"},
      "description": "The ids of the input's invoices the message names."
    }
  }
}`

var narrativeSchema = `{
  "type": "object", "additionalProperties": false,
  "required": ["summary", "drivers", "risks", "cited_amounts_minor"],
  "properties": {
    "summary": {"type": "string", "minLength": 1, "maxLength": 4000},
    "drivers": {"type": "array", "maxItems": 20, "items": {"type": "string", "minLength": 1, "maxLength": 1000}},
    "risks": {"type": "array", "maxItems": 20, "items": {"type": "string", "minLength": 1, "maxLength": 1000}},
    "cited_amounts_minor": {
      "type": "array", "maxItems": 100, "items": {"type": "integer"},
      "description": "Every amount the text cites, in minor units, exactly as it appears in the forecast."
    }
  }
}`

var specs = map[Name]*spec{
	APExtract: {
		agent: APExtract, promptVersion: "ap_extract.v1", schemaJSON: json.RawMessage(apExtractSchema),
		system: `You extract a vendor's bill from the text of a document for an accounts payable team.
Read only what the document says; never invent a value. Amounts are integers in minor units of the
bill's currency (cents for USD: 12.50 is 1250). Quantities and tax rates are decimal strings.
Dates are YYYY-MM-DD; when a date like 03/04/2026 is ambiguous, prefer the convention of the
document's country and lower that field's confidence. The due date is the stated one, or the
issue date plus the stated payment terms, or null. total_minor is the total the document states,
tax included, even when the lines do not add up to it: never adjust numbers to make them agree.
Match the vendor against the known vendors in the input: first by tax id, then by name ignoring
case, punctuation and legal suffixes; set matched_id only on a match. When the document shows
no currency, use the input's default_currency. Give each field a confidence from 0 to 1.
Answer with the JSON object only.`,
		newInput: func() any { return new(APExtractInput) }, newOutput: func() any { return new(APExtraction) },
		check: func(in, out any) []string { return checkAPExtraction(in.(*APExtractInput), out.(*APExtraction)) },
	},
	ARCollections: {
		agent: ARCollections, promptVersion: "ar_collections.v1", schemaJSON: json.RawMessage(collectionSchema),
		system: `You draft a collection message to a customer with overdue invoices, for a person to review.
The tone follows the dunning stage of the input: reminder (friendly: it may be an oversight),
firm (the invoices are well overdue; ask for payment by a date and for a reason if they dispute
it), final (last notice before further collection steps). Name every invoice the message is about
by its number, due date and amount due, formatted in major units with the currency code, and list
their ids in cited_invoice_ids. Use only invoices, amounts and dates present in the input; the
payment history may inform the tone, never be quoted as a threat. Keep stage as the input's.
Do not promise discounts or settlements. Answer with the JSON object only.`,
		newInput: func() any { return new(ARCollectionsInput) }, newOutput: func() any { return new(CollectionMessage) },
		check: func(in, out any) []string { return checkCollection(in.(*ARCollectionsInput), out.(*CollectionMessage)) },
	},
	ForecastNarrator: {
		agent: ForecastNarrator, promptVersion: "forecast_narrative.v1", schemaJSON: json.RawMessage(narrativeSchema),
		system: `You explain a 13-week cash forecast to a finance team in plain words: the summary of what
comes in and goes out per currency, the largest drivers (weeks, counterparties), and the risks
(late payers, weeks where cumulative cash could turn negative in the low scenario). Cite only
amounts that appear in the forecast, exactly (the *_minor integers, formatted in major units with
the currency code in the text), list each cited amount in cited_amounts_minor, and never add
amounts of different currencies together or compute new totals. Answer with the JSON object only.`,
		newInput: func() any { return new(ForecastNarrativeInput) }, newOutput: func() any { return new(ForecastNarrative) },
		check: func(in, out any) []string {
			return checkNarrative(in.(*ForecastNarrativeInput), out.(*ForecastNarrative))
		},
	},
}

func init() {
	for name, sp := range specs {
		var s openapi3.Schema
		if err := json.Unmarshal(sp.schemaJSON, &s); err != nil {
			panic(fmt.Sprintf("agents: schema of %s: %v", name, err))
		}
		sp.schema = &s
	}
}

// Schema returns the JSON schema (the OpenAPI 3.0 subset) of agent's output, and its
// prompt version; ok is false for an unknown agent. An agent server behind MCP
// declares it as its tool's output schema.
func Schema(agent Name) (schema json.RawMessage, promptVersion string, ok bool) {
	sp, ok := specs[agent]
	if !ok {
		return nil, "", false
	}
	return append(json.RawMessage(nil), sp.schemaJSON...), sp.promptVersion, true
}

// Names lists the agents.
func Names() []Name { return []Name{APExtract, ARCollections, ForecastNarrator} }

// accept checks an output and, when it may be used, returns it decoded into a new
// value of the agent's output type; otherwise the list of what is wrong, which a
// repair attempt sends back. Nothing is decoded into the caller's value until all of
// it passed: syntax, schema, types, then the agent's own checks.
func (sp *spec) accept(output []byte, input []byte) (any, []string) {
	output = unfence(output)
	var doc any
	if err := json.Unmarshal(output, &doc); err != nil {
		return nil, []string{"the output is not valid JSON: " + err.Error()}
	}
	if err := sp.schema.VisitJSON(doc, openapi3.MultiErrors()); err != nil {
		return nil, schemaProblems(err)
	}
	out := sp.newOutput()
	dec := json.NewDecoder(bytes.NewReader(output))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return nil, []string{"the output does not decode: " + err.Error()}
	}
	in := sp.newInput()
	// Numbers inside untyped input (the forecast) stay exact.
	idec := json.NewDecoder(bytes.NewReader(input))
	idec.UseNumber()
	if err := idec.Decode(in); err != nil {
		// The input was marshalled from the caller's value of this type.
		return nil, []string{"the input does not decode: " + err.Error()}
	}
	if problems := sp.check(in, out); len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

// unfence strips the Markdown code fence a model may wrap its JSON in.
func unfence(b []byte) []byte {
	t := bytes.TrimSpace(b)
	if !bytes.HasPrefix(t, []byte("```")) {
		return t
	}
	t = t[3:]
	if i := bytes.IndexByte(t, '\n'); i >= 0 {
		t = t[i+1:]
	}
	t = bytes.TrimSuffix(bytes.TrimSpace(t), []byte("```"))
	return bytes.TrimSpace(t)
}

// schemaProblems lists a validation error's parts as messages.
func schemaProblems(err error) []string {
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		var out []string
		for _, e := range multi {
			out = append(out, schemaProblems(e)...)
		}
		return out
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		path := strings.Join(se.JSONPointer(), ".")
		if path == "" {
			path = "(root)"
		}
		return []string{path + ": " + se.Reason}
	}
	return []string{err.Error()}
}

// setOutput stores v (a pointer of out's type) in out.
func setOutput(out, v any) {
	reflect.ValueOf(out).Elem().Set(reflect.ValueOf(v).Elem())
}

// confidenceFields are the fields an APExtraction rates.
var confidenceFields = []string{"vendor", "number", "issue_date", "due_date", "currency", "lines", "total_minor"}

func checkAPExtraction(in *APExtractInput, out *APExtraction) []string {
	var p []string
	if !money.ValidCurrency(out.Currency) {
		p = append(p, "currency: "+out.Currency+" is not an active ISO 4217 code")
	}
	for _, f := range confidenceFields {
		c, ok := out.Confidence[f]
		if !ok || !(c >= 0 && c <= 1) {
			p = append(p, "confidence."+f+": must be a number from 0 to 1")
		}
	}
	if out.Vendor.MatchedID != nil && !slices.ContainsFunc(in.Vendors, func(v VendorOption) bool { return v.ID == *out.Vendor.MatchedID }) {
		p = append(p, "vendor.matched_id: is not the id of a known vendor of the input")
	}
	if out.DueDate != nil && out.DueDate.Before(out.IssueDate) {
		p = append(p, "due_date: is before issue_date")
	}
	for i, l := range out.Lines {
		q, err := money.ParseDecimal(l.Quantity)
		if err != nil || q.Sign() <= 0 {
			p = append(p, fmt.Sprintf("lines[%d].quantity: must be a decimal greater than 0", i))
		}
		if l.TaxRate != nil {
			r, err := money.ParseDecimal(*l.TaxRate)
			if err != nil || r.Sign() < 0 || r.Cmp(hundred) > 0 {
				p = append(p, fmt.Sprintf("lines[%d].tax_rate: must be a percentage from 0 to 100", i))
			}
		}
	}
	if len(p) == 0 {
		if _, err := out.LinesTotalMinor(); err != nil {
			p = append(p, "lines: "+err.Error())
		}
	}
	return p
}

var hundred, _ = money.ParseDecimal("100")

// LinesTotalMinor is what the extraction's lines add up to, tax included: each line's
// amount (quantity × unit amount) and tax rounded half to even, line by line. A bill
// whose stated TotalMinor differs is what a reviewer must look at: the extraction
// keeps the document's own total rather than one that adds up.
func (e APExtraction) LinesTotalMinor() (int64, error) {
	var total int64
	for i, l := range e.Lines {
		q, err := money.ParseDecimal(l.Quantity)
		if err != nil {
			return 0, fmt.Errorf("line %d: quantity: %w", i, err)
		}
		amount, err := money.LineAmount(q, l.UnitAmountMinor, money.HalfEven)
		if err != nil {
			return 0, fmt.Errorf("line %d: %w", i, err)
		}
		var tax int64
		if l.TaxRate != nil {
			r, err := money.ParseDecimal(*l.TaxRate)
			if err != nil {
				return 0, fmt.Errorf("line %d: tax rate: %w", i, err)
			}
			if tax, err = money.Tax(amount, r, money.HalfEven); err != nil {
				return 0, fmt.Errorf("line %d: %w", i, err)
			}
		}
		if total, err = money.Sum(total, amount, tax); err != nil {
			return 0, fmt.Errorf("line %d: %w", i, err)
		}
	}
	return total, nil
}

func checkCollection(in *ARCollectionsInput, out *CollectionMessage) []string {
	var p []string
	if out.Stage != in.Stage {
		p = append(p, fmt.Sprintf("stage: must be the input's stage %q", in.Stage))
	}
	byID := map[uuid.UUID]OverdueInvoice{}
	for _, inv := range in.Invoices {
		byID[inv.ID] = inv
	}
	seen := map[uuid.UUID]bool{}
	for i, id := range out.CitedInvoiceIDs {
		inv, ok := byID[id]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("cited_invoice_ids[%d]: %s is not an invoice of the input", i, id))
		case seen[id]:
			p = append(p, fmt.Sprintf("cited_invoice_ids[%d]: %s is cited twice", i, id))
		case inv.Number != "" && !strings.Contains(out.Body, inv.Number):
			p = append(p, fmt.Sprintf("body: does not name invoice %s, which it cites", inv.Number))
		}
		seen[id] = true
	}
	return p
}

func checkNarrative(in *ForecastNarrativeInput, out *ForecastNarrative) []string {
	present := map[int64]bool{}
	collectIntegers(in.Forecast, present)
	var p []string
	for i, a := range out.CitedAmountsMinor {
		if !present[a] && !present[-a] {
			p = append(p, fmt.Sprintf("cited_amounts_minor[%d]: %d does not appear in the forecast", i, a))
		}
	}
	return p
}

// collectIntegers notes every integer in a decoded JSON value.
func collectIntegers(v any, into map[int64]bool) {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			collectIntegers(e, into)
		}
	case []any:
		for _, e := range x {
			collectIntegers(e, into)
		}
	case float64:
		if x == float64(int64(x)) {
			into[int64(x)] = true
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			into[n] = true
		}
	}
}
