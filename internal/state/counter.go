package state

import (
	"strconv"
	"sync"
	"time"
)

// Period is a fixed accounting window: a counter keyed by a period starts
// at 0 when the period turns over.
type Period int

// The periods: a minute (rate limits) and a UTC calendar day and month
// (budgets).
const (
	Minute Period = iota
	Day
	Month
)

// Window returns the id of the period holding t and when it ends.
func (p Period) Window(t time.Time) (id string, end time.Time) {
	t = t.UTC()
	switch p {
	case Day:
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return "d" + d.Format("20060102"), d.AddDate(0, 0, 1)
	case Month:
		m := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return "m" + m.Format("200601"), m.AddDate(0, 1, 0)
	}
	m := t.Truncate(time.Minute)
	return "n" + strconv.FormatInt(m.Unix()/60, 10), m.Add(time.Minute)
}

// Counters count per key in fixed periods (requests, tokens, spend in
// micro-dollars). Add returns the total after adding; Get reads it.
type Counters interface {
	Add(key string, p Period, n int64) (total int64, end time.Time)
	Get(key string, p Period) (total int64, end time.Time)
}

// MemoryCounters is the in-process Counters. Counts of past periods are
// dropped when a key's period turns over.
type MemoryCounters struct {
	mu  sync.Mutex
	m   map[counterKey]periodCount
	now func() time.Time
}

type counterKey struct {
	key string
	p   Period
}

type periodCount struct {
	id string
	n  int64
}

// NewMemoryCounters returns empty counters.
func NewMemoryCounters() *MemoryCounters {
	return &MemoryCounters{m: map[counterKey]periodCount{}, now: time.Now}
}

// Add adds n to key's count in the current period p.
func (c *MemoryCounters) Add(key string, p Period, n int64) (int64, time.Time) {
	id, end := p.Window(c.now())
	c.mu.Lock()
	defer c.mu.Unlock()
	k := counterKey{key, p}
	pc := c.m[k]
	if pc.id != id {
		pc = periodCount{id: id}
	}
	pc.n += n
	c.m[k] = pc
	return pc.n, end
}

// Get returns key's count in the current period p.
func (c *MemoryCounters) Get(key string, p Period) (int64, time.Time) {
	id, end := p.Window(c.now())
	c.mu.Lock()
	defer c.mu.Unlock()
	pc := c.m[counterKey{key, p}]
	if pc.id != id {
		return 0, end
	}
	return pc.n, end
}
