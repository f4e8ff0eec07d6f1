package wire

// Snapshots. A host that will snapshot a VM sets Hello.Park: the guest init
// answers the handshake with Welcome and then, instead of starting the
// stream multiplexer, waits on the raw channel for a Resume. Nothing is in
// flight in either direction while it waits (the host has read the whole
// Welcome), so the host can pause the VM and save it there, and restore any
// number of copies, each of which resumes on a channel of its own.
//
// A restored copy must not be a clone of the others: Resume replaces the
// secret (the snapshot's one is refused from then on), mixes fresh host
// entropy into the guest's RNG and reseeds it, and sets the clock and the
// hostname.

// Resume wakes a parked guest init (TResume on the raw channel). The guest
// answers with TWelcome, or TReject and powers off.
type Resume struct {
	Version int `json:"version"`
	// Secret is the guest's current secret (hex): the one of the VM the
	// snapshot was taken from, or of the last Resume.
	Secret string `json:"secret"`
	// NewSecret (hex, at least 16 bytes) replaces it.
	NewSecret    string `json:"new_secret"`
	TimeUnixNano int64  `json:"time_unix_nano"`
	// Entropy (hex, EntropyBytes) is credited to the guest's RNG, which is
	// then reseeded: copies of one snapshot read different random bytes.
	Entropy  string `json:"entropy"`
	Hostname string `json:"hostname"`
	// Listeners are opened as in Hello (a template is parked without any).
	Listeners []Listener `json:"listeners,omitempty"`
	// Park asks the guest to wait for another Resume after this one
	// instead of starting the multiplexer.
	Park bool `json:"park,omitempty"`
}

// EntropyBytes is the size of Resume.Entropy: 512 bits, more than the
// CRNG's 256-bit seed.
const EntropyBytes = 64

// MaxHostname is the longest hostname a Resume may set (HOST_NAME_MAX).
const MaxHostname = 64
