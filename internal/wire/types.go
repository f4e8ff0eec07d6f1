package wire

import (
	"errors"
	"fmt"
)

// Type identifies the message carried by a frame.
type Type uint8

// ErrUnknownType reports a frame whose type this version does not define.
var ErrUnknownType = errors.New("unknown frame type")

// Message types. Values are part of the protocol: never renumber.
const (
	// Handshake, on the raw channel before the stream multiplexer starts.
	THello   Type = 1 // host→guest: Hello
	TWelcome Type = 2 // guest→host: Welcome
	TReject  Type = 3 // guest→host: Reject, then the guest closes the channel

	// Replies shared by several requests.
	TError Type = 4 // Error: the request failed; the stream ends
	TOK    Type = 5 // empty: the request succeeded; the stream ends

	// Exec, one multiplexed stream per command.
	TExec       Type = 10 // host→guest: ExecRequest
	TExecStart  Type = 11 // guest→host: ExecStarted
	TStdin      Type = 12 // host→guest: raw bytes
	TStdinClose Type = 13 // host→guest: empty
	TStdout     Type = 14 // guest→host: raw bytes
	TStderr     Type = 15 // guest→host: raw bytes
	TSignal     Type = 16 // host→guest: Signal
	TExecExit   Type = 17 // guest→host: ExecExit; the stream ends

	// Files.
	TWriteFile  Type = 20 // host→guest: WriteFile, then TFileData..., TFileEnd
	TFileData   Type = 21 // raw bytes, either direction
	TFileEnd    Type = 22 // empty: end of file data
	TReadFile   Type = 23 // host→guest: ReadFile
	TFileInfo   Type = 24 // guest→host: FileInfo, then TFileData..., TFileEnd
	TStat       Type = 25 // host→guest: PathRequest
	TStatResult Type = 26 // guest→host: FileInfo
	TMkdir      Type = 27 // host→guest: Mkdir
	TMount      Type = 28 // host→guest: Mount; guest replies TOK or TError

	// Liveness and lifecycle.
	TPing     Type = 30 // host→guest: empty
	TPong     Type = 31 // guest→host: Pong
	TShutdown Type = 32 // host→guest: empty; guest replies TOK then powers off

	// Guest-initiated streams.
	TTunnel Type = 40 // guest→host: Tunnel; after TOK the stream carries raw bytes

	// Terminals: a command on a guest pseudo-terminal, one stream each. The
	// stream then carries the exec frames: TExecStart, TStdin (keys),
	// TStdout (the terminal's output), TSignal, TResize and TExecExit.
	TPty    Type = 60 // host→guest: PtyRequest
	TResize Type = 61 // host→guest: WindowSize

	// Snapshots (see Resume): on the raw channel of a parked guest init.
	TResume Type = 70 // host→guest: Resume; guest replies TWelcome or TReject
)

var typeNames = map[Type]string{
	THello: "hello", TWelcome: "welcome", TReject: "reject", TError: "error", TOK: "ok",
	TExec: "exec", TExecStart: "exec-start", TStdin: "stdin", TStdinClose: "stdin-close",
	TStdout: "stdout", TStderr: "stderr", TSignal: "signal", TExecExit: "exec-exit",
	TWriteFile: "write-file", TFileData: "file-data", TFileEnd: "file-end", TReadFile: "read-file",
	TFileInfo: "file-info", TStat: "stat", TStatResult: "stat-result", TMkdir: "mkdir", TMount: "mount",
	TPing: "ping", TPong: "pong", TShutdown: "shutdown", TTunnel: "tunnel",
	TPty: "pty", TResize: "resize", TResume: "resume",
}

// Known reports whether t is defined by this protocol version.
func (t Type) Known() bool { _, ok := typeNames[t]; return ok }

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}
