package deploy

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestCompose(t *testing.T) {
	doc := documented(t)
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Ports       []string          `yaml:"ports"`
			Environment map[string]string `yaml:"environment"`
			Secrets     []string          `yaml:"secrets"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(compose.Services) == 0 {
		t.Fatal("compose.yaml: no services")
	}
	for name, s := range compose.Services {
		where := "compose " + name
		if s.Image != image {
			t.Errorf("%s: image %q, want %q", where, s.Image, image)
		}
		if len(s.Ports) != 1 || !strings.HasSuffix(s.Ports[0], fmt.Sprintf(":%d", statusPort)) {
			t.Errorf("%s: ports %q: want the status port %d published", where, s.Ports, statusPort)
		}
		checkEnvNames(t, where, s.Environment, doc)
		files := map[string]string{}
		for k, v := range s.Environment {
			if !strings.HasSuffix(k, "_FILE") {
				continue
			}
			secret := strings.TrimPrefix(v, "/run/secrets/")
			if !contains(s.Secrets, secret) || compose.Secrets[secret].File == "" {
				t.Errorf("%s: %s=%s is not a secret of the service", where, k, v)
			}
			files[k] = secret
		}
		entrypointCheck(t, s.Environment, files, s.Environment["JOB"])
	}
}
