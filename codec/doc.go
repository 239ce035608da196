// Package codec is the one place that knows how a backup's bytes are
// stored: compressed (zstd or gzip), then encrypted (age), in that order,
// while streaming. It gives streaming wrappers (NewWriter, Encode, NewReader),
// the object-name suffixes and metadata that say how a stream was written
// (so a reader needs no flags to undo it), and the parsing of age recipients,
// identities and passphrases. Everything it writes decodes with stock tools:
// `age -d -i KEY FILE | zstd -d` (or `gzip -d`).
package codec
