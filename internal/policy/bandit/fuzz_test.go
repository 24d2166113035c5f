package bandit

import (
	"encoding/json"
	"testing"
)

// FuzzNew: any config either builds or fails with an error; it never
// panics, and a node that builds serves a request.
func FuzzNew(f *testing.F) {
	for _, s := range []string{
		`{"arms":["a","b"]}`,
		`{"arms":["a",{"name":"b","route":"b"}],"algorithm":"linucb","alpha":0.5,"features":["tokens",{"tier":["x"]}]}`,
		`{"arms":["a","b"],"explore":{"max_share":0.1,"min_pulls":3,"window":7},"prior":{"weight":3,"arms":{"a":{"quality":0.5}}}}`,
		`{"arms":["a","b"],"feedback":{"min":-1,"max":1},"lambda":1e9,"mu":0,"seed":1}`,
		`{"arms":[],"features":[]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cfg string) {
		n, err := New(builder{dir: t.TempDir()}, path, json.RawMessage(cfg))
		if err != nil {
			return
		}
		serve(t, n.(*Node), call("hello", "pro"))
	})
}
