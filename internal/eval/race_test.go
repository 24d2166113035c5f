//go:build race

package eval

// raceEnabled: the race detector slows the engine several times, so the
// whole-data-set checks run fewer seeds under it.
const raceEnabled = true
