package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVagrantfileParses: the lab's Vagrantfile is valid Ruby (`ruby -c`,
// which lab/provision.sh installs) and, where vagrant itself is installed,
// a valid Vagrant configuration (`vagrant validate --ignore-provider`,
// which needs no box and no provider: Debian's vagrant package installs
// none, and plain `vagrant validate` then fails on any Vagrantfile).
// Under CI a missing ruby fails the test instead of skipping it. The same
// check must refuse a broken Vagrantfile.
func TestVagrantfileParses(t *testing.T) {
	if _, err := exec.LookPath("ruby"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ruby not found (lab/provision.sh installs it): cannot check the Vagrantfile")
		}
		t.Skip("ruby not found: run lab/provision.sh")
	}
	_, err := exec.LookPath("vagrant")
	haveVagrant := err == nil
	if !haveVagrant {
		t.Log("vagrant not installed: `vagrant validate` not run")
	}
	if err := checkVagrantfile(t, "..", haveVagrant); err != nil {
		t.Fatal(err)
	}

	broken := map[string]string{
		"not ruby": "Vagrant.configure(\"2\") do |config|\n",
	}
	if haveVagrant {
		// Valid Ruby, but no box: only vagrant itself can tell.
		broken["no box"] = "Vagrant.configure(\"2\") do |config|\n  config.vm.hostname = \"x\"\nend\n"
		broken["unknown setting"] = "Vagrant.configure(\"2\") do |config|\n  config.vm.box = \"b\"\n  config.vm.nonsense = 1\nend\n"
	}
	for name, content := range broken {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Vagrantfile"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := checkVagrantfile(t, dir, haveVagrant); err == nil {
			t.Errorf("a broken Vagrantfile (%s) passed the check", name)
		} else {
			t.Logf("broken Vagrantfile (%s): %v", name, err)
		}
	}
}

// checkVagrantfile checks dir/Vagrantfile with `ruby -c` and, when
// withVagrant, `vagrant validate --ignore-provider` run in dir, its
// .vagrant directory in a temp dir rather than in dir.
func checkVagrantfile(t *testing.T, dir string, withVagrant bool) error {
	out, err := exec.Command("ruby", "-c", filepath.Join(dir, "Vagrantfile")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Syntax OK") {
		return fmt.Errorf("ruby -c Vagrantfile: %v\n%s", err, out)
	}
	if !withVagrant {
		return nil
	}
	cmd := exec.Command("vagrant", "validate", "--ignore-provider")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VAGRANT_DOTFILE_PATH="+filepath.Join(t.TempDir(), ".vagrant"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vagrant validate --ignore-provider: %v\n%s", err, out)
	}
	return nil
}
