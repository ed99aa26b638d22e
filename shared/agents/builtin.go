package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// BuiltinModel is the model runs of the built-in agent record.
const BuiltinModel = "ledgerline-builtin-1"

// BuiltinProvider is the deterministic agent: patterns for bills, templates for
// collection messages, arithmetic over the forecast's own numbers. It needs no
// network and costs nothing, so every flow works offline; the same input always gives
// the same output. Its outputs pass the same validation as a model's.
type BuiltinProvider struct{}

// Name is builtin.
func (BuiltinProvider) Name() string { return Builtin }

// Model is BuiltinModel for every agent.
func (BuiltinProvider) Model(Name) string { return BuiltinModel }

// Call answers from the input alone; a repair request gets the same answer, which was
// valid the first time.
func (BuiltinProvider) Call(_ context.Context, c Call) (Reply, error) {
	var out any
	var err error
	switch c.Agent {
	case APExtract:
		var in APExtractInput
		if err = decodeInput(c.Input, &in); err == nil {
			out, err = extractBill(in)
		}
	case ARCollections:
		var in ARCollectionsInput
		if err = decodeInput(c.Input, &in); err == nil {
			out, err = draftCollection(in)
		}
	case ForecastNarrator:
		var in forecastDoc
		var wrapper struct {
			Forecast json.RawMessage `json:"forecast"`
		}
		if err = decodeInput(c.Input, &wrapper); err == nil {
			if err = decodeInput(wrapper.Forecast, &in); err == nil {
				out = narrate(in)
			}
		}
	default:
		err = fmt.Errorf("no built-in agent %q", c.Agent)
	}
	if err != nil {
		return Reply{}, &ProviderError{Provider: Builtin, Message: err.Error()}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Output: b}, nil
}

func decodeInput(b []byte, v any) error {
	if len(b) == 0 || string(b) == "null" {
		return fmt.Errorf("no input")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}
