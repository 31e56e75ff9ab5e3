#!/usr/bin/env bash
# lab/demo.sh — the seed scenario with plumb: three sinatra containers and one
# nginx in front of them, no docker-compose and no Docker networking. `make
# demo` runs it; `make demo-clean` runs it with `clean`. As root:
#
#     sudo bash lab/demo.sh          # set up (again) and show hello world
#     sudo bash lab/demo.sh clean    # remove everything the demo made
#
# It installs what is missing and starts dockerd (lab/provision.sh), builds
# plumb and the lab images (lab/build-images), then:
#
#     plumb network create sinatra-net
#     plumb sandbox create sinatra-web-N --net sinatra-net        (N = 1..3)
#     docker run -d --network=container:sinatra-web-N plumb-lab/sinatra
#     plumb sandbox create nginx --net sinatra-net -p 80:80       (or the next free port)
#     docker run -d --network=container:nginx plumb-lab/nginx
#     curl http://localhost:80/
#
# Each container starts inside a sandbox that is already on the network, so
# nginx finds sinatra-web-1..3 at start (the seed's ordering trap). Running
# it twice works: the second run clears the first run's containers first.
#
# Environment: DEMO_PORT (default 80) is the first host port tried for nginx;
# the next free one up to DEMO_PORT+99 is taken when it is busy.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT=$PWD
readonly PLUMB=$ROOT/bin/plumb
readonly NET=sinatra-net
readonly WEBS=(sinatra-web-1 sinatra-web-2 sinatra-web-3)
readonly PROXY=nginx
readonly SANDBOXES=("${WEBS[@]}" "$PROXY")
readonly SINATRA_IMAGE=plumb-lab/sinatra:latest
readonly NGINX_IMAGE=plumb-lab/nginx:latest
readonly PORT=${DEMO_PORT:-80}
export PATH=/usr/local/go/bin:$PATH

if [[ -t 1 ]]; then
	say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
else
	say() { printf 'demo: %s\n' "$*"; }
fi
die() { printf 'demo: ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root: sudo make demo"
[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT + 99 <= 65535)) || die "DEMO_PORT=$PORT: want a port number"

# app NAME: the application container that runs in sandbox NAME.
app() { printf '%s-app\n' "$1"; }

# remove_containers: the app containers, then the sandboxes (plumb detaches
# and removes the holders; safe to repeat), then the network.
remove_containers() {
	local s c
	for s in "${SANDBOXES[@]}"; do
		c=$(app "$s")
		if docker container inspect "$c" >/dev/null 2>&1; then
			docker rm -f -v "$c" >/dev/null && say "removed container $c"
		fi
	done
	if [[ -x $PLUMB ]]; then
		"$PLUMB" sandbox rm "${SANDBOXES[@]}" | sed 's/^/demo: sandbox rm: /'
		if "$PLUMB" network inspect "$NET" >/dev/null 2>&1; then
			"$PLUMB" network rm --force "$NET" >/dev/null && say "removed network $NET"
		fi
	fi
}

clean() {
	timeout 10 docker info >/dev/null 2>&1 || die "dockerd does not answer; nothing to clean without it"
	[[ -x $PLUMB ]] || make -s build
	remove_containers
	local img
	for img in "$SINATRA_IMAGE" "$NGINX_IMAGE" $(docker images -q --filter label=org.plumbnet.plumb.sandbox-image); do
		if docker image inspect "$img" >/dev/null 2>&1; then
			# An image some other container still uses stays.
			docker rmi "$img" >/dev/null 2>&1 && say "removed image $img" || say "kept image $img (in use)"
		fi
	done
	lab/build-images --clean | sed 's/^build-images: /demo: /'
	say "clean"
}

if [[ ${1:-} == clean ]]; then
	clean
	exit 0
elif [[ -n ${1:-} ]]; then
	die "unknown argument: $1 (want nothing or clean)"
fi

say "1/8 provisioning (lab/provision.sh: packages, Go, dockerd)"
bash lab/provision.sh | sed 's/^/     /'
say "2/8 building plumb (make build) and the images (lab/build-images)"
make -s build
lab/build-images | sed 's/^/     /'

say "3/8 clearing what an earlier run left"
remove_containers

say "4/8 network and sandboxes"
"$PLUMB" network create "$NET" >/dev/null
for s in "${WEBS[@]}"; do
	"$PLUMB" sandbox create "$s" --net "$NET" | sed 's/^/     /'
	docker run -d --name "$(app "$s")" --network=container:"$s" "$SINATRA_IMAGE" >/dev/null
done
"$PLUMB" sandbox create "$PROXY" --net "$NET" -p "$PORT-$((PORT + 99)):80" | sed 's/^/     /'
docker run -d --name "$(app "$PROXY")" --network=container:"$PROXY" "$NGINX_IMAGE" >/dev/null
host=$("$PLUMB" port "$PROXY" 80)
hostport=${host##*:}
if [[ $hostport == "$PORT" ]]; then
	say "nginx is published on host port $hostport"
else
	say "nginx is published on host port $hostport (port $PORT is taken)"
fi

say "5/8 curl http://localhost:$hostport/"
url=http://localhost:$hostport/
for ((i = 0; i < 120; i++)); do
	curl -sf --max-time 2 "$url" >/dev/null 2>&1 && break
	sleep 0.25
done
if ! curl -sf --max-time 5 "$url" >/dev/null; then
	docker logs --tail 20 "$(app "$PROXY")" >&2 || true
	die "nginx does not answer at $url"
fi
curl -s --max-time 5 "$url" | sed 's/^/     /'
# nginx's 8 workers each go round the three upstreams: 24 requests show
# every sinatra container (the X-Served-By header app.rb adds).
for ((i = 0; i < 24; i++)); do
	curl -si --max-time 5 "$url" | tr -d '\r' | sed -n 's/^X-Served-By: //Ip'
done | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " } END { print "" }' |
	sed 's/^/     24 requests through nginx, served by: /'

say "6/8 what plumb did"
ip_of() { "$PLUMB" ps --net "$NET" --format json | tr -d ' \n' | grep -o "\"target\":\"$1\"[^}]*" | grep -o '"ip":"[^"/]*' | cut -d'"' -f4; }
"$PLUMB" network ls | awk -v n="$NET" '$2 == n { printf "     network %s: bridge %s, subnet %s, gateway %s; masquerade and isolation in PLUMB-* chains\n", n, $6, $4, $5 }'
webs=""
for s in "${WEBS[@]}"; do webs+=" $s=$(ip_of "$s")"; done
printf '     4 sandboxes (holder containers running `plumb hold`, --network=none), a veth each into the bridge:\n'
printf '       %s %s=%s\n' "$webs" "$PROXY" "$(ip_of "$PROXY")"
printf '     names: plumb'"'"'s DNS at 127.0.0.11 in each sandbox answers sinatra-web-1..3 for nginx'"'"'s upstream\n'
printf '     port: %s -> nginx %s:80 (DNAT in PLUMB-* chains, the host port held by the plumb daemon)\n' "$host" "$(ip_of "$PROXY")"
printf '     apps: docker run --network=container:SANDBOX; no Docker network was used\n'
say "7/8 so how does nginx speak to sinatra-web-1? (plumb explain $PROXY ${WEBS[0]}:9000)"
"$PLUMB" explain "$PROXY" "${WEBS[0]}:9000" | sed 's/^/     /'
say "8/8 the picture (plumb graph --net $NET; --format svg > net.svg for a drawing)"
"$PLUMB" graph --net "$NET" | sed 's/^/     /'
say "look around: sudo bin/plumb ps; sudo bin/plumb dns ls; curl -i $url; then: sudo make demo-clean"
