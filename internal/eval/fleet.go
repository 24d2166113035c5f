package eval

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/provider/replay"
)

// Latency model defaults of the sim provider (replay's are exported by
// package replay).
const (
	simDefaultTTFT = 200 * time.Millisecond
	simDefaultTPS  = 50
)

// fleetModel is one catalog model as eval runs it.
type fleetModel struct {
	Name string
	// RecordModel is the key under "models" in the records whose answers
	// and quality labels this model stands for; "" for a model whose
	// answers have no labels (a sim, or a model the data set lacks).
	RecordModel string
	// Provider is the provider eval runs it with: replay or sim.
	Provider string
	// Note says how eval changed the model, "" when it only pointed a
	// replay model at the data set.
	Note string
	// ttft and perToken are the modeled latency: an answer of k tokens
	// takes ttft + (k-1)*perToken.
	ttft, perToken time.Duration
	// estimate is the number of output tokens charged for an answer the
	// data set has no text for (see Estimate).
	estimate int
}

// modeledMS is the modeled time to the last token of an answer of tokens
// output tokens, in milliseconds.
func (m *fleetModel) modeledMS(tokens int) float64 {
	d := m.ttft + time.Duration(max(tokens-1, 0))*m.perToken
	return float64(d.Microseconds()) / 1000
}

// rewriteFleet returns a copy of f whose models all run offline on the
// data set at path:
//
//   - a replay model answers from path, with realtime off;
//   - a sim model keeps its options, with realtime off; its answers have no
//     quality label;
//   - any other model (a live provider) becomes a replay of the record model
//     named by its upstream name, or its name, when the data set has one, and
//     otherwise a sim stand-in whose answers have no label;
//   - a replay model whose record model the data set lacks becomes a sim
//     stand-in too.
//
// Prices, timeouts and retries are kept; keys, API key variables and base
// URLs are dropped, as nothing is called over the network.
func rewriteFleet(f *config.File, path string, recordModels []string) (*config.File, []*fleetModel, error) {
	abs := path
	if !strings.HasPrefix(path, "builtin:") {
		var err error
		if abs, err = filepath.Abs(path); err != nil {
			return nil, nil, err
		}
	}
	out := *f
	out.Keys = nil
	out.Models = make([]config.Model, len(f.Models))
	var fleet []*fleetModel
	for i, m := range f.Models {
		opts := map[string]json.RawMessage{}
		if len(m.Options) > 0 && string(m.Options) != "null" {
			if err := json.Unmarshal(m.Options, &opts); err != nil {
				return nil, nil, fmt.Errorf("models[%d].options: expected a mapping", i)
			}
		}
		fm := &fleetModel{Name: m.Name}
		upstream := m.Upstream
		if upstream == "" {
			upstream = m.Name
		}
		switch m.Provider {
		case "replay":
			rm := upstream
			if raw, ok := opts["record_model"]; ok {
				if err := json.Unmarshal(raw, &rm); err != nil {
					return nil, nil, fmt.Errorf("models[%d].options.record_model: expected a string", i)
				}
			}
			if slices.Contains(recordModels, rm) {
				fm.RecordModel, fm.Provider = rm, "replay"
			} else {
				fm.Provider = "sim"
				fm.Note = fmt.Sprintf("the data set has no answers of %q: simulated, answers unlabeled", rm)
				opts = map[string]json.RawMessage{}
			}
		case "sim":
			fm.Provider = "sim"
			fm.Note = "simulated: answers unlabeled"
		default:
			opts = map[string]json.RawMessage{}
			switch {
			case slices.Contains(recordModels, upstream):
				fm.RecordModel = upstream
			case slices.Contains(recordModels, m.Name):
				fm.RecordModel = m.Name
			}
			if fm.RecordModel != "" {
				fm.Provider = "replay"
				fm.Note = fmt.Sprintf("%s model replayed from the data set's answers of %q", m.Provider, fm.RecordModel)
			} else {
				fm.Provider = "sim"
				fm.Note = fmt.Sprintf("%s model not in the data set: simulated, answers unlabeled", m.Provider)
			}
		}
		if fm.Provider == "replay" {
			opts["dataset"] = mustJSON(abs)
			opts["record_model"] = mustJSON(fm.RecordModel)
		}
		opts["realtime"] = json.RawMessage("false")
		ttft, tps, err := latencyModel(fm.Provider, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("models[%d].options: %w", i, err)
		}
		fm.ttft, fm.perToken = ttft, time.Duration(float64(time.Second)/tps)
		m.Provider, m.Options = fm.Provider, mustJSON(opts)
		m.APIKeyEnv, m.BaseURL = "", ""
		out.Models[i] = m
		fleet = append(fleet, fm)
	}
	return &out, fleet, nil
}

// latencyModel reads the modeled time to first token and decoding rate of
// a replay or sim model's options: ttft is a duration, or for a sim a
// {p50, p99} distribution whose median is used.
func latencyModel(provider string, opts map[string]json.RawMessage) (time.Duration, float64, error) {
	ttft, tps := replay.DefaultTTFT, float64(replay.DefaultTokensPerSecond)
	if provider == "sim" {
		ttft, tps = simDefaultTTFT, simDefaultTPS
	}
	if raw, ok := opts["ttft"]; ok {
		var d struct {
			P50 json.RawMessage `json:"p50"`
		}
		if json.Unmarshal(raw, &d) == nil && d.P50 != nil {
			raw = d.P50
		}
		v, err := parseDuration(raw)
		if err != nil {
			return 0, 0, fmt.Errorf("ttft: %w", err)
		}
		ttft = v
	}
	if raw, ok := opts["tokens_per_second"]; ok {
		if err := json.Unmarshal(raw, &tps); err != nil || !(tps > 0) {
			return 0, 0, fmt.Errorf("tokens_per_second: expected a positive number")
		}
	}
	return ttft, tps, nil
}

func parseDuration(raw json.RawMessage) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var secs float64
		if err := json.Unmarshal(raw, &secs); err != nil {
			return 0, fmt.Errorf("expected a duration")
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	return time.ParseDuration(strings.TrimSpace(s))
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// recordModelsOf lists the models the records have entries for.
func recordModelsOf(records []dataset.Record) []string { return dataset.ModelNames(records) }
