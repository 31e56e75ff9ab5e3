# The seed's "highly sophisticated hello world application", run as
# `ruby app.rb -s puma` on port 9000.
require 'sinatra'
require 'socket'

set :port, 9000

# Adapted for plumb: bind every address instead of the seed's
# `hostname -i` (or Sinatra's development default, localhost). The address
# arrives after the process starts when the container is attached later,
# and nginx reaches this server on the container's eth0 address, never on
# its localhost.
set :bind, '0.0.0.0'

# Adapted for plumb: a marker naming the container that answered, so that a
# test (or a curious user: `curl -i`) sees every sinatra-web-N serve through
# nginx. The body stays the seed's. With `--network=container:NAME` the
# hostname is the sandbox's, sinatra-web-N.
before do
  headers 'X-Served-By' => Socket.gethostname
end

get '/' do
  "hello world\n"
end
