package cache

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultMemoryEntries bounds an instance's in-process cache: per-tenant settings and
// flags of a few hundred bytes each, so a few megabytes at most.
const DefaultMemoryEntries = 10_000

// Memory is an in-process cache of at most a fixed number of entries: when full, the
// least recently used entry makes room. It is one instance's alone, so a change made
// through another instance is seen here only when the entry's TTL ends.
type Memory struct {
	mu      sync.Mutex
	max     int
	entries map[string]*list.Element // of *memoryEntry
	order   *list.List               // front: most recently used
	now     func() time.Time
}

type memoryEntry struct {
	key     string
	value   []byte
	expires time.Time
}

// NewMemory returns an empty cache holding at most maxEntries values.
func NewMemory(maxEntries int) *Memory {
	return newMemory(maxEntries, time.Now)
}

func newMemory(maxEntries int, now func() time.Time) *Memory {
	if maxEntries < 1 {
		maxEntries = 1
	}
	return &Memory{max: maxEntries, entries: map[string]*list.Element{}, order: list.New(), now: now}
}

// Get returns a copy of the value, so no caller can change what another reads.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.entries[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*memoryEntry)
	if !m.now().Before(e.expires) {
		m.remove(el)
		return nil, false, nil
	}
	m.order.MoveToFront(el)
	return clone(e.value), true, nil
}

// Set stores a copy of value.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := &memoryEntry{key: key, value: clone(value), expires: m.now().Add(ttl)}
	if el, ok := m.entries[key]; ok {
		el.Value = e
		m.order.MoveToFront(el)
		return nil
	}
	for m.order.Len() >= m.max {
		m.remove(m.order.Back())
	}
	m.entries[key] = m.order.PushFront(e)
	return nil
}

// Delete removes key.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.entries[key]; ok {
		m.remove(el)
	}
	return nil
}

// Len is the number of entries held, expired ones included until they are found.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

func (m *Memory) remove(el *list.Element) {
	m.order.Remove(el)
	delete(m.entries, el.Value.(*memoryEntry).key)
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}
