// Package providertest holds the test scaffolding the wire adapters'
// tests share: a recording httptest fake, golden files refreshed with
// -update, the golden form of an *llm.Error, and stream helpers. It is
// imported only by tests.
package providertest
