// Package kinds links every provider adapter and policy node kind into the
// binary; import it for its side effects wherever configs are built.
package kinds

import (
	// Providers.
	_ "github.com/sextant-router/sextant/internal/provider/anthropic"
	_ "github.com/sextant-router/sextant/internal/provider/gemini"
	_ "github.com/sextant-router/sextant/internal/provider/openai"
	_ "github.com/sextant-router/sextant/internal/provider/replay"
	_ "github.com/sextant-router/sextant/internal/provider/sim"

	// Policy node kinds.
	_ "github.com/sextant-router/sextant/internal/policy/fallback"
	_ "github.com/sextant-router/sextant/internal/policy/model"
	_ "github.com/sextant-router/sextant/internal/policy/rules"
	_ "github.com/sextant-router/sextant/internal/policy/split"
)
