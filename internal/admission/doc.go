// Package admission decides when a VM may start on this host. Every
// voidbox process of a user (CLI runs, library users, the daemon) shares
// one queue and two budgets through files in one directory of the user's
// runtime dir:
//
//   - boot slots: how many VMs may be booting at once. A TCG boot keeps a
//     core busy for seconds; past the core count, boots only slow each other
//     down until none finishes (the collapse that issue #17 measured).
//   - memory: the sum of what admitted VMs are charged (guest RAM plus
//     QEMU's own), so that their guests together never exceed host RAM.
//
// The protocol uses only files and flock(2), so a process that dies (even
// by SIGKILL) gives its slots back: the kernel drops its locks, and the
// next process that looks removes the unlocked files.
//
//	w-<seq>-<mem>  a waiting ticket, locked by its waiter
//	b-<seq>        a boot slot, locked by the process booting that VM
//	m-<seq>-<mem>  a memory reservation, locked until the VM stopped
//	lock           taken (briefly) for every admission decision
//
// Order is first come, first served across processes: a ticket's seq is
// one more than the largest seq in the directory when it was made, and
// only the oldest live ticket may be admitted. A large box at the head
// therefore waits for memory while smaller ones queue behind it instead of
// overtaking it forever. Every file is created under a temporary name,
// locked and then renamed into place, so a file with a final name is always
// locked while its owner lives: an unlocked one is stale.
//
// Waiters sleep until a file in the directory is removed (inotify on
// Linux; polling elsewhere or when the kernel has no inotify instance to
// spare) and re-check every second regardless, which is how stale files of
// dead processes and host memory freed by others are noticed.
package admission
