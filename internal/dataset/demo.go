package dataset

import (
	"bytes"
	_ "embed"
	"sync"
)

//go:generate go run ./internal/mkdemo -data ../../../shared/data -out demo/demo.jsonl

// DemoPath is the data set name that config uses for the bundled demo slice
// ("dataset: builtin:demo"); Open resolves it to Demo.
const DemoPath = "builtin:demo"

// demoJSONL is a small verbatim slice of the real recorded data (30 GSM8K,
// 30 MMLU across 30 subjects, 12 MT-Bench records), so that the project runs
// without the full files. internal/mkdemo regenerates it.
//
//go:embed demo/demo.jsonl
var demoJSONL []byte

var demo = sync.OnceValue(func() []Record {
	recs, err := Load(bytes.NewReader(demoJSONL))
	if err != nil {
		// The file is compiled in and covered by tests; a failure here is a
		// build defect.
		panic("dataset: bundled demo data is invalid: " + err.Error())
	}
	return recs
})

// Demo returns the bundled demo records, parsed once. The slice and the
// records are shared by every caller and must not be modified.
func Demo() []Record { return demo() }
