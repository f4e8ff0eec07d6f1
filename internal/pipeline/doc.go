// Package pipeline runs a graph of stages: sequential pipes, fan-outs and
// depends_on DAGs, with per-stage retries, timeouts, a global cap on
// concurrent attempts, cancellation, a structured event stream and a
// JSON-serialisable report.
//
// The engine knows nothing about virtual machines. It moves bytes between
// stages and calls a consumer-supplied Runner once per attempt; the voidbox
// runtime plugs in a runner that boots one micro-VM per attempt, and tests
// plug in an in-process one.
//
// Data flow: a stage's Output.Data is handed to the stages that list it in
// Inputs. With InputSingle the next stage receives those bytes unchanged; with
// InputArray it receives a JSON array of its inputs' outputs in the order the
// inputs are declared (never completion order), see CombineArray.
//
// Failure domains: a stage that fails after its retries makes every stage
// that depends on it, directly or transitively, "skipped"; stages that do not
// depend on it keep running, and the run as a whole fails. Cancelling the
// context cancels running attempts, never starts queued ones, and Run waits
// for every Runner call to return before it returns.
package pipeline
