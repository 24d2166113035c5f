package state

import (
	"testing"

	"github.com/sextant-router/sextant/internal/redistest"
	"github.com/sextant-router/sextant/internal/signals"
)

func TestRedisClientAndPrefix(t *testing.T) {
	addr := redistest.Start(t)
	tests := []struct{ prefix, want string }{{"", "sextant:"}, {"p:", "p:"}}
	for _, tt := range tests {
		r := NewRedis(RedisConfig{Addr: addr, Prefix: tt.prefix, Sync: 20_000_000}, "", signals.New(signals.Options{}), nil)
		if got := r.Prefix(); got != tt.want {
			t.Errorf("Prefix() = %q, want %q", got, tt.want)
		}
		if err := r.Client().Ping(t.Context()).Err(); err != nil {
			t.Errorf("Client().Ping: %v", err)
		}
		r.Close()
	}
}
