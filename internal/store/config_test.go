package store

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		block   string // as JSON, the way the config loader hands it over
		want    Config
		wantErr string
	}{
		{"empty takes defaults", `{}`, Config{Driver: "sqlite", Path: "sextant.db"}, ""},
		{
			"everything set",
			`{"driver": "sqlite", "path": "/var/lib/sextant/log.db", "queue": 100, "batch": 10, "flush_every": "1s", "attempts": 2}`,
			Config{Driver: "sqlite", Path: "/var/lib/sextant/log.db", Queue: 100, Batch: 10, FlushEvery: conf.Duration(time.Second), Attempts: 2},
			"",
		},
		{"unknown driver", `{"driver": "mysql"}`, Config{}, `store.driver: unknown driver "mysql" (supported: sqlite)`},
		{"negative queue", `{"queue": -1}`, Config{}, "store.queue: must not be negative"},
		{"batch over queue", `{"queue": 10, "batch": 20}`, Config{}, "store.batch: must not exceed queue (10)"},
		{"unknown field", `{"paht": "x.db"}`, Config{}, "store.paht: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			err := conf.Decode("store", json.RawMessage(tt.block), &c)
			if err == nil {
				err = c.Validate("store")
			}
			if tt.wantErr != "" {
				var ce *conf.Error
				if !errors.As(err, &ce) || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c != tt.want {
				t.Errorf("config = %+v, want %+v", c, tt.want)
			}
		})
	}
}

func TestConfigOpen(t *testing.T) {
	c := Config{Path: filepath.Join(t.TempDir(), "x.db"), Queue: 8, FlushEvery: conf.Duration(time.Second)}
	if err := c.Validate("store"); err != nil {
		t.Fatal(err)
	}
	s, err := c.Open()
	if err != nil {
		t.Fatal(err)
	}
	l := NewLog(s, c.LogOptions(quiet))
	if got := l.opt; got.Queue != 8 || got.FlushEvery != time.Second || got.Batch != 8 {
		t.Errorf("options = %+v", got)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}
