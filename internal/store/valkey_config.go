package store

// ValkeyConfig says where a Valkey (or Redis) store lives.
type ValkeyConfig struct {
	Addr     string // host:port
	DB       int
	Username string
	Password string
	// Prefix starts every key, so several stores can share one database.
	Prefix string
	// DataDir holds outputs over InlineOutputMax, on the daemon's host:
	// large blobs do not belong in an in-memory database.
	DataDir string
}
