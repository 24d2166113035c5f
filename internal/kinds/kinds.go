// Package kinds links every provider adapter, policy node kind and gate
// kind into the binary; import it for its side effects wherever configs
// are built.
package kinds

import (
	// Providers.
	_ "github.com/sextant-router/sextant/internal/provider/anthropic"
	_ "github.com/sextant-router/sextant/internal/provider/gemini"
	_ "github.com/sextant-router/sextant/internal/provider/openai"
	_ "github.com/sextant-router/sextant/internal/provider/replay"
	_ "github.com/sextant-router/sextant/internal/provider/sim"

	// Policy node kinds.
	_ "github.com/sextant-router/sextant/internal/policy/balance"
	_ "github.com/sextant-router/sextant/internal/policy/bandit"
	_ "github.com/sextant-router/sextant/internal/policy/bestof"
	_ "github.com/sextant-router/sextant/internal/policy/cascade"
	_ "github.com/sextant-router/sextant/internal/policy/classify"
	_ "github.com/sextant-router/sextant/internal/policy/fallback"
	_ "github.com/sextant-router/sextant/internal/policy/model"
	_ "github.com/sextant-router/sextant/internal/policy/peak"
	_ "github.com/sextant-router/sextant/internal/policy/race"
	_ "github.com/sextant-router/sextant/internal/policy/rules"
	_ "github.com/sextant-router/sextant/internal/policy/split"
	_ "github.com/sextant-router/sextant/internal/policy/upgrade"
	_ "github.com/sextant-router/sextant/internal/policy/winrate"

	// Gate kinds (all, any and weighted come with package gate).
	_ "github.com/sextant-router/sextant/internal/gate/consistency"
	_ "github.com/sextant-router/sextant/internal/gate/jsongate"
	_ "github.com/sextant-router/sextant/internal/gate/judge"
	_ "github.com/sextant-router/sextant/internal/gate/learned"
	_ "github.com/sextant-router/sextant/internal/gate/logprob"
	_ "github.com/sextant-router/sextant/internal/gate/similarity"
	_ "github.com/sextant-router/sextant/internal/gate/structure"
	_ "github.com/sextant-router/sextant/internal/gate/validator"
)
