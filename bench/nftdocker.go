package main

import (
	"context"
	"fmt"
)

// Docker's side of the nft section: what `-p HOSTPORT:80` adds to a
// `docker run -d` and to the `docker rm -f` of that container, on Docker's
// default bridge (its iptables and, by default, one docker-proxy per
// port), with 0, 100 and 1000 ports already published on the host by
// filler containers (`-p A-B:A-B`, nftFillPer ports each). It runs in the
// real host's netns (dockerd's), from the supervisor.
const (
	nftDockerFillBase = 40000 // filler host ports: nftDockerFillBase + k*nftFillPer + i
	nftDockerProbe    = 18100 // the measured -p HOSTPORT:80
	nftDockerMemKB    = 8 << 20
)

// nftDocker takes the Docker samples at each level, ending at the first
// level it cannot fill (memory for the proxies), with a note.
func nftDocker(ctx context.Context, p *Plan, cl *Cleanup, res *Results) error {
	cl.Push(func() { _, _ = removeDockerObjects(p.labelled()) })
	n := min(p.Samples, 20) // a docker run is some 0.5 s: 20 pairs a level is enough to see a millisecond
	filled := 0
	for _, lvl := range nftLevels {
		if lvl >= 1000 && memAvailable() < nftDockerMemKB {
			res.note("nft: Docker skipped at %d ports: under %d GB of memory available for %d docker-proxy processes", lvl, nftDockerMemKB>>20, lvl)
			break
		}
		for k := filled / nftFillPer; k < lvl/nftFillPer; k++ {
			lo := nftDockerFillBase + k*nftFillPer
			rng := fmt.Sprintf("%d-%d", lo, lo+nftFillPer-1)
			if _, err := runContainer(p, p.dockerName(fmt.Sprintf("nftfill%d", k)), "bridge", "-p", rng+":"+rng); err != nil {
				return fmt.Errorf("docker filler %d: %w", k, err)
			}
		}
		filled = lvl
		logf("  nft: docker run -p with %d ports on the host: %d samples", lvl, n)
		if err := nftDockerLevel(ctx, p, lvl, n, res); err != nil {
			return err
		}
	}
	return nil
}

// nftDockerLevel times n pairs of `docker run -d` and `docker rm -f`,
// without a port and with one, the two alternating which goes first.
func nftDockerLevel(ctx context.Context, p *Plan, lvl, n int, res *Results) error {
	key := func(op string) string { return fmt.Sprintf("nft.docker.%d.%s", lvl, op) }
	an := res.add(&Series{Key: key("attach.none"), Tool: "docker", Op: fmt.Sprintf("docker run -d (%d ports on the host)", lvl)})
	ap := res.add(&Series{Key: key("attach.one"), Tool: "docker", Op: fmt.Sprintf("docker run -d -p %d:80 (%d ports on the host)", nftDockerProbe, lvl)})
	dn := res.add(&Series{Key: key("detach.none"), Tool: "docker", Op: fmt.Sprintf("docker rm -f (%d ports on the host)", lvl)})
	dp := res.add(&Series{Key: key("detach.one"), Tool: "docker", Op: fmt.Sprintf("docker rm -f of the -p container (%d ports on the host)", lvl)})
	r := &Runner{Log: p.TmpDir + "/nft-docker.log"}
	name := p.dockerName("nftprobe")
	for j := 1; j <= n; j++ {
		runs := []struct {
			flags  []string
			as, ds *Series
		}{{nil, an, dn}, {[]string{"-p", fmt.Sprintf("%d:80", nftDockerProbe)}, ap, dp}}
		if j%2 == 0 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		for _, x := range runs {
			if err := ctx.Err(); err != nil {
				return err
			}
			argv := append([]string{"docker", "run", "-d", "--label", dockerLabel + "=" + p.Label, "--name", name}, x.flags...)
			a, err := r.Run("", nil, append(argv, p.DockerImage, "sleep", "1d")...)
			if err != nil {
				return err
			}
			d, err := r.Run("", nil, "docker", "rm", "-f", name)
			if err != nil {
				return err
			}
			x.as.Samples = append(x.as.Samples, a)
			x.ds.Samples = append(x.ds.Samples, d)
		}
	}
	return nil
}

// nftSupervised is the supervisor's part of the nft section: the data
// path of each backend, then Docker's `docker run -p` (skipped, with a
// note, when Docker cannot run).
func nftSupervised(ctx context.Context, p *Plan, cl *Cleanup, res *Results) error {
	logf("nft: data path of each firewall backend")
	res.Loads = append(res.Loads, "nft data path "+loadAvg())
	if err := nftDataPath(ctx, p, cl, res); err != nil {
		return fmt.Errorf("nft data path: %w", err)
	}
	if p.DockerSkip != "" {
		res.note("nft: Docker's docker run -p not measured: %s", p.DockerSkip)
		return nil
	}
	logf("nft: docker run -p")
	res.Loads = append(res.Loads, "nft docker "+loadAvg())
	if err := nftDocker(ctx, p, cl, res); err != nil {
		return fmt.Errorf("nft docker: %w", err)
	}
	return nil
}
