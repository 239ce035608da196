package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Kubernetes manifests: the Deployment, its Service and the CronJob.

// Just the Kubernetes fields this test reads.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		// Deployment
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template podTemplate `yaml:"template"`
		// CronJob
		Schedule          string `yaml:"schedule"`
		ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
		JobTemplate       struct {
			Spec struct {
				Template podTemplate `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
		// Service
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type podTemplate struct {
	Metadata struct {
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		TerminationGracePeriodSeconds int    `yaml:"terminationGracePeriodSeconds"`
		RestartPolicy                 string `yaml:"restartPolicy"`
		SecurityContext               struct {
			RunAsNonRoot bool `yaml:"runAsNonRoot"`
			RunAsUser    int  `yaml:"runAsUser"`
		} `yaml:"securityContext"`
		Containers []container `yaml:"containers"`
		Volumes    []struct {
			Name   string `yaml:"name"`
			Secret *struct {
				SecretName string `yaml:"secretName"`
			} `yaml:"secret"`
			EmptyDir any `yaml:"emptyDir"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom any    `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

func readManifests(t *testing.T, path string) map[string]k8sObject {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	objs := map[string]k8sObject{}
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Fatalf("%s: a document without apiVersion, kind or metadata.name", path)
		}
		objs[o.Kind] = o
	}
	return objs
}

// checkPod checks the container against the rest of the pod and returns the
// environment it would get, with *_FILE paths mapped to the Secret's keys.
func checkPod(t *testing.T, where string, pod podTemplate, secret k8sObject, doc map[string]bool) (map[string]string, map[string]string) {
	t.Helper()
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%s: want one container, got %d", where, len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if c.Image != image {
		t.Errorf("%s: image %q, want %q", where, c.Image, image)
	}
	if !pod.Spec.SecurityContext.RunAsNonRoot || pod.Spec.SecurityContext.RunAsUser != 10001 {
		t.Errorf("%s: want runAsNonRoot with runAsUser 10001 (the image's cronbox user)", where)
	}
	if pod.Spec.TerminationGracePeriodSeconds < 30 {
		t.Errorf("%s: terminationGracePeriodSeconds %d: a running upload needs time to abort", where, pod.Spec.TerminationGracePeriodSeconds)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("%s: %s comes from valueFrom; secrets are mounted files (NAME_FILE)", where, e.Name)
		}
		env[e.Name] = e.Value
	}
	checkEnvNames(t, where, env, doc)
	mounts := map[string]string{} // mount path -> volume
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	secretVolumes := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil {
			secretVolumes[v.Name] = v.Secret.SecretName
		}
	}
	files := map[string]string{} // NAME_FILE -> secret key
	for name, path := range env {
		if !strings.HasSuffix(name, "_FILE") {
			continue
		}
		vol, ok := mounts[filepath.Dir(path)]
		if !ok {
			t.Errorf("%s: %s=%s: no volume is mounted at %s", where, name, path, filepath.Dir(path))
			continue
		}
		if secretVolumes[vol] != secret.Metadata.Name {
			t.Errorf("%s: %s: volume %s is not the Secret %s", where, name, vol, secret.Metadata.Name)
		}
		key := filepath.Base(path)
		if _, ok := secret.StringData[key]; !ok {
			t.Errorf("%s: %s: the Secret has no key %s", where, name, key)
		}
		files[name] = key
	}
	if _, ok := mounts["/tmp"]; !ok {
		t.Errorf("%s: no volume at /tmp (the root filesystem is read-only)", where)
	}
	return env, files
}

func TestKubernetesDeployment(t *testing.T) {
	doc := documented(t)
	objs := readManifests(t, "kubernetes/cronbox.yaml")
	d, secret, svc := objs["Deployment"], objs["Secret"], objs["Service"]
	if d.Kind == "" || secret.Kind == "" || svc.Kind == "" {
		t.Fatalf("want a Deployment, a Secret and a Service, got %v", keys(objs))
	}
	pod := d.Spec.Template
	if !subset(d.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
		t.Errorf("selector %v does not match the pod's labels %v", d.Spec.Selector.MatchLabels, pod.Metadata.Labels)
	}
	env, files := checkPod(t, "Deployment", pod, secret, doc)
	// Two pods must never back up at once: one replica replaced with
	// Recreate, or the etcd lock, which runs each slot on one pod only.
	if env["GOCRON_LOCK_ETCD"] == "" || env["GOCRON_LOCK_NAME"] == "" {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != "Recreate" {
			t.Errorf("replicas %v, strategy %q: without GOCRON_LOCK_ETCD and GOCRON_LOCK_NAME, want 1 replica and Recreate", d.Spec.Replicas, d.Spec.Strategy.Type)
		}
	} else if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %v: with the lock set, run at least 2", d.Spec.Replicas)
	}
	c := pod.Spec.Containers[0]
	portName := ""
	for _, p := range c.Ports {
		if p.ContainerPort == statusPort {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Fatalf("container does not expose %d", statusPort)
	}
	for _, p := range []struct {
		what, path string
		probe      *probe
	}{{"liveness", "/healthz", c.LivenessProbe}, {"readiness", "/", c.ReadinessProbe}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no %s httpGet probe", p.what)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe path %q, want %q", p.what, p.probe.HTTPGet.Path, p.path)
		}
		if port := fmt.Sprint(p.probe.HTTPGet.Port); port != portName && port != fmt.Sprint(statusPort) {
			t.Errorf("%s probe port %v is not the status port", p.what, port)
		}
	}
	b, err := os.ReadFile("kubernetes/cronbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svcSel := serviceSelector(t, b)
	if len(svcSel) == 0 || !subset(svcSel, pod.Metadata.Labels) {
		t.Errorf("Service selector %v does not select the pod (labels %v)", svcSel, pod.Metadata.Labels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != statusPort ||
		(fmt.Sprint(svc.Spec.Ports[0].TargetPort) != portName && fmt.Sprint(svc.Spec.Ports[0].TargetPort) != fmt.Sprint(statusPort)) {
		t.Errorf("Service ports %+v: want %d to the status port", svc.Spec.Ports, statusPort)
	}
	for _, a := range []map[string]string{svc.Metadata.Annotations, pod.Metadata.Annotations} {
		if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != fmt.Sprint(statusPort) || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("prometheus annotations %v: want scrape=true, port=%d, path=/metrics", a, statusPort)
		}
	}
	entrypointCheck(t, env, files, "etcd-backup")
}

func TestKubernetesCronJob(t *testing.T) {
	doc := documented(t)
	objs := readManifests(t, "kubernetes/cronjob.yaml")
	secret := readManifests(t, "kubernetes/cronbox.yaml")["Secret"]
	cj := objs["CronJob"]
	if cj.Kind == "" {
		t.Fatalf("no CronJob in cronjob.yaml")
	}
	if fields := strings.Fields(cj.Spec.Schedule); len(fields) != 5 {
		t.Errorf("schedule %q: Kubernetes wants 5 fields", cj.Spec.Schedule)
	}
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	pod := cj.Spec.JobTemplate.Spec.Template
	if pod.Spec.RestartPolicy != "Never" {
		t.Errorf("restartPolicy %q, want Never (a failed backup is a failed Job)", pod.Spec.RestartPolicy)
	}
	env, files := checkPod(t, "CronJob", pod, secret, doc)
	c := pod.Spec.Containers[0]
	if !contains(c.Args, "--once") {
		t.Errorf("args %q: want --once (go-cron runs the job once and exits with its status)", c.Args)
	}
	if _, ok := env["GOCRON_SCHEDULE"]; ok {
		t.Errorf("GOCRON_SCHEDULE set in the CronJob: Kubernetes schedules it")
	}
	entrypointCheck(t, env, files, "etcd-backup", c.Args...)
}

func serviceSelector(t *testing.T, manifest []byte) map[string]string {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(manifest))
	for {
		var o struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Selector yaml.Node `yaml:"selector"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("no Service in the manifest: %v", err)
		}
		if o.Kind == "Service" {
			var sel map[string]string
			if err := o.Spec.Selector.Decode(&sel); err != nil {
				t.Fatalf("Service selector: %v", err)
			}
			return sel
		}
	}
}
