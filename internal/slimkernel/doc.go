// Package slimkernel builds voidbox's slim guest kernel: Debian's
// linux-source-6.1 configured from tinyconfig plus slim.config, with every
// driver and file system a voidbox guest uses built in and no module
// support, so that a boot loads no modules and initialises nothing else.
// A build is cached under the cache root by the digest of its inputs
// (the config fragment, the source package's version, the compiler).
package slimkernel
