// Package deploy holds no code: its test parses the fleet units (with
// go-systemd's unit parser, the one fleet used) and the Kubernetes and
// Compose manifests (with a YAML decoder), and checks what a typo would
// silently break: the image, the environment variable names (each must be
// in the README's reference table), the status port, the probes, and that
// secrets come from files or env files, never a command line.
package deploy
