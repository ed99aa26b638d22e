package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/forecast"
	"github.com/ledgerline/ledgerline/shared/money"
)

// Narrative is a cash forecast with the forecasting agent's explanation of it: the
// answer of GET /v1/agents/forecast/narrative. The narrative is shown only when every
// amount it cites is a figure of the forecast; otherwise, or when the agent could not
// run, Narrative is nil and Unavailable says why, and the forecast stands alone.
type Narrative struct {
	Object      string             `json:"object"`
	Forecast    forecast.Report    `json:"forecast"`
	Narrative   *ForecastNarrative `json:"narrative"`
	Citations   []Citation         `json:"citations"`
	Unavailable *Unavailable       `json:"narrative_unavailable"`
	AgentRunID  *uuid.UUID         `json:"agent_run_id"`
}

// Citation is one amount the narrative cites and the figures of the forecast that hold
// it, as paths ("forecasts[currency=EUR].weeks[week=3].inflows.p50_minor").
type Citation struct {
	AmountMinor int64    `json:"amount_minor"`
	Figures     []string `json:"figures"`
}

// Unavailable says why a workflow went on without its agent.
type Unavailable struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// CodeUngrounded is the refusal of a narrative that cites an amount the forecast does
// not contain.
const CodeUngrounded = "narrative_ungrounded"

// Narrate asks the forecasting agent (through gw; nil is a gateway that is not
// configured) to explain report, and keeps the explanation only if it is grounded in
// it. A refusal of the gateway (budget exhausted, agents switched off, the model down
// or its output invalid) is not an error: the forecast is returned without a
// narrative, with the refusal's code. Only a defect is.
func Narrate(ctx context.Context, gw Gateway, tenantID uuid.UUID, report forecast.Report) (Narrative, error) {
	n := Narrative{Object: "forecast_narrative", Forecast: report, Citations: []Citation{}}
	if gw == nil {
		n.Unavailable = &Unavailable{Code: "agent_unavailable", Detail: "no agent is configured for this deployment"}
		return n, nil
	}
	var out ForecastNarrative
	run, err := gw.Run(ctx, tenantID, ForecastNarrator, ForecastNarrativeInput{Forecast: report}, &out)
	if run.ID != uuid.Nil {
		id := run.ID
		n.AgentRunID = &id
	}
	if err != nil {
		e := apperr.From(err)
		if e.Kind == apperr.Internal {
			return Narrative{}, err
		}
		n.Unavailable = &Unavailable{Code: e.Code, Detail: e.Message}
		return n, nil
	}
	figures, err := Figures(report)
	if err != nil {
		return Narrative{}, err
	}
	cited := append(append([]int64(nil), out.CitedAmountsMinor...), textAmounts(out, report)...)
	citations, ungrounded := Ground(cited, figures)
	if len(ungrounded) > 0 {
		parts := make([]string, len(ungrounded))
		for i, a := range ungrounded {
			parts[i] = strconv.FormatInt(a, 10)
		}
		n.Unavailable = &Unavailable{Code: CodeUngrounded, Detail: "the narrative cites amounts the forecast does not contain (" +
			strings.Join(parts, ", ") + " minor units), so it is withheld"}
		return n, nil
	}
	if out.Drivers == nil {
		out.Drivers = []string{}
	}
	if out.Risks == nil {
		out.Risks = []string{}
	}
	if out.CitedAmountsMinor == nil {
		out.CitedAmountsMinor = []int64{}
	}
	n.Narrative, n.Citations = &out, citations
	return n, nil
}

// moneyInText finds amounts written with a currency code, either side of the number
// ("EUR 1234.50", "1,234.50 EUR"), as the agents are told to write them.
var moneyInText = regexp.MustCompile(`\b([A-Z]{3})\s?(-?\d[\d,]*(?:\.\d+)?)\b|(-?\d[\d,]*(?:\.\d+)?)\s?([A-Z]{3})\b`)

// textAmounts are the amounts the narrative's text writes in one of the report's
// currencies, in minor units: an amount stated in the text but left out of
// cited_amounts_minor is held to the forecast all the same.
func textAmounts(n ForecastNarrative, report forecast.Report) []int64 {
	currencies := map[string]bool{}
	for _, f := range report.Forecasts {
		currencies[f.Currency] = true
	}
	var out []int64
	for _, text := range append(append([]string{n.Summary}, n.Drivers...), n.Risks...) {
		for _, m := range moneyInText.FindAllStringSubmatch(text, -1) {
			cur, num := m[1], m[2]
			if cur == "" {
				cur, num = m[4], m[3]
			}
			if !currencies[cur] {
				continue
			}
			if minor, err := money.ParseMajor(strings.ReplaceAll(num, ",", ""), cur); err == nil {
				out = append(out, minor)
			}
		}
	}
	return out
}

// Figures indexes every amount of a report (each member named *_minor) by value, with
// the paths where it appears.
func Figures(report any) (map[int64][]string, error) {
	b, err := json.Marshal(report)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	out := map[int64][]string{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if num, ok := v[k].(json.Number); ok && strings.HasSuffix(k, "_minor") {
					if x, err := num.Int64(); err == nil {
						out[x] = append(out[x], p)
					}
					continue
				}
				walk(v[k], p)
			}
		case []any:
			for i, e := range v {
				walk(e, path+"["+label(e, i)+"]")
			}
		}
	}
	walk(doc, "")
	return out, nil
}

// label names an element of a list by what identifies it in a forecast (a
// counterparty's basis by counterparty, direction and currency; a currency's forecast
// by its currency; a week by its number), else by its index.
func label(e any, i int) string {
	if m, ok := e.(map[string]any); ok {
		if id, ok := m["counterparty_id"].(string); ok {
			return fmt.Sprintf("counterparty_id=%s,direction=%v,currency=%v", id, m["direction"], m["currency"])
		}
		if c, ok := m["currency"].(string); ok {
			return "currency=" + c
		}
		if w, ok := m["week"].(json.Number); ok {
			return "week=" + w.String()
		}
	}
	return strconv.Itoa(i)
}

// Ground checks cited amounts against figures: an amount is grounded when a figure
// holds it, or its magnitude (a net outflow of -5000 cited as a shortfall of 5000).
// It returns the citations of the grounded amounts and the amounts that are not.
func Ground(cited []int64, figures map[int64][]string) ([]Citation, []int64) {
	citations := []Citation{}
	var ungrounded []int64
	seen := map[int64]bool{}
	for _, a := range cited {
		if seen[a] {
			continue
		}
		seen[a] = true
		paths := append(append([]string(nil), figures[a]...), figures[-a]...)
		if a == 0 {
			paths = figures[0]
		}
		if len(paths) == 0 {
			ungrounded = append(ungrounded, a)
			continue
		}
		sort.Strings(paths)
		citations = append(citations, Citation{AmountMinor: a, Figures: paths})
	}
	return citations, ungrounded
}
