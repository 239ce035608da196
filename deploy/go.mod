module cronbox/deploy

go 1.26

require (
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
)
