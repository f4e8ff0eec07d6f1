// Package store is the durable state of a voidbox daemon: runs, their stage
// states, event streams and outputs, and the daemon's interactive sandboxes.
//
// Three implementations share one interface (Store) and one conformance suite
// (storetest): SQLite (sqlite:PATH), plain files (fs:DIR) and Valkey or Redis
// (valkey://HOST:PORT/DB). Open picks one from a URL.
//
// Invariants every implementation keeps:
//
//   - Event sequence ids are assigned by the store, per run, starting at 1,
//     without gaps or duplicates, even under concurrent appends; one
//     AppendEvents batch gets consecutive ids.
//   - A run in a terminal status (succeeded, failed, cancelled) is immutable:
//     events, stage states and outputs are written before the status becomes
//     terminal, and later writes fail with ErrConflict. So a reader that sees
//     a terminal status and then reads the events after its last id has seen
//     the whole stream.
//   - Only terminal runs can be deleted; deleting removes the run's events,
//     stage states, outputs and idempotency key.
//   - A write that returned nil survives a crash of the process (SQLite with
//     synchronous=FULL, fs with fsync; Valkey as durable as its own
//     appendfsync setting).
//
// Event payloads are JSON bytes the caller encoded (the envelope of
// docs/events.md); the store checks they are valid JSON and never looks
// inside, except that RecoverAfterRestart writes the run.finished event a
// crashed engine could not.
package store
