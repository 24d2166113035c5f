// Package answer analyses the text of a model's answer: its final answer,
// the arithmetic steps of a worked solution, hedging and refusal phrases,
// fenced code blocks and log-probability statistics. It holds no
// configuration and calls nothing; the gates (structure, validator,
// consistency, learned) share it so that serving and training measure an
// answer the same way.
//
// Every function is a single scan of the text meant to take microseconds
// on a typical answer (see the benchmarks); none of them is a full parser
// of natural language, and each documents what it recognizes.
package answer
