package deploy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// No Docker engine runs where the tests run, so the Dockerfile is checked
// by reading it: the instructions the image's users and orchestrators
// depend on, and that what it names exists in the rootfs layout.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continued lines, drop comments, and collect instruction -> arguments.
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	instr := map[string][]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		instr[strings.ToUpper(word)] = append(instr[strings.ToUpper(word)], strings.Join(strings.Fields(rest), " "))
	}
	want := map[string]string{
		"FROM":   "scratch",
		"COPY":   "build/rootfs /",
		"USER":   "10001:10001",
		"EXPOSE": "18080",
	}
	for k, v := range want {
		if got := instr[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s %q, want %q", k, got, v)
		}
	}
	passwd, err := os.ReadFile("../rootfs/skel/etc/passwd")
	if err != nil || !strings.Contains(string(passwd), ":10001:10001:") {
		t.Errorf("USER 10001:10001 is not a user of rootfs/skel/etc/passwd (%v)", err)
	}
	var entry []string
	if e := instr["ENTRYPOINT"]; len(e) != 1 || json.Unmarshal([]byte(e[0]), &entry) != nil ||
		len(entry) != 1 || entry[0] != "/usr/local/bin/entrypoint" {
		t.Errorf("ENTRYPOINT %q, want the exec form [\"/usr/local/bin/entrypoint\"]", instr["ENTRYPOINT"])
	}
	if st, err := os.Stat("../scripts/entrypoint"); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("scripts/entrypoint (installed as /usr/local/bin/entrypoint) is missing or not executable: %v", err)
	}
	hc := instr["HEALTHCHECK"]
	if len(hc) != 1 || !strings.Contains(hc[0], `CMD ["/bin/wget"`) || !strings.Contains(hc[0], "http://127.0.0.1:18080/") {
		t.Errorf("HEALTHCHECK %q: want busybox wget on the status port", hc)
	}
	labels := strings.Join(instr["LABEL"], " ")
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.description", "org.opencontainers.image.version"} {
		if !strings.Contains(labels, l+"=") {
			t.Errorf("no OCI label %s", l)
		}
	}
	if p := strings.Join(instr["ENV"], " "); !strings.Contains(p, "PATH=/usr/local/bin:") {
		t.Errorf("ENV %q: PATH must start with /usr/local/bin (the tools)", p)
	}
}
