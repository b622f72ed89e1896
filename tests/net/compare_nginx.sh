#!/usr/bin/env bash
# The native core against nginx's `return 200` (docs/serve.md, "Performance
# of the core"): both servers pinned to core 0 with one thread / worker, wrk
# on core 1, runs interleaved; prints req/s and server CPU per request.
#   tests/net/compare_nginx.sh [build-dir] [runs] [seconds]
# Needs nginx and wrk (apt-get install nginx wrk). Leaves nothing running.
set -euo pipefail
build=${1:-build}
runs=${2:-3}
secs=${3:-5}
hello=$build/tests/net/net_hello_server
dir=$(mktemp -d)
trap 'kill $nginx_pid $rusm_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:18191 backlog=4096;
    location / { default_type text/plain; return 200 "hello from rusm\n"; }
  }
}
CONF
taskset -c 0 nginx -p "$dir" -c "$dir/nginx.conf" &
nginx_pid=$!
taskset -c 0 "$hello" 18192 1 &
rusm_pid=$!
sleep 1
worker=$(pgrep -P $nginx_pid | head -1)
measure() {  # pid port
  local t0 t1 rate
  t0=$(awk '{print $14+$15}' /proc/$1/stat)
  rate=$(taskset -c 1 wrk -t1 -c64 -d${secs}s http://127.0.0.1:$2/ | awk '/Requests\/sec/ {print $2}')
  t1=$(awk '{print $14+$15}' /proc/$1/stat)
  python3 -c "r=$rate; c=($t1-$t0)/$(getconf CLK_TCK); print(f'{r:10.0f} req/s  {c/$secs:4.2f} cores  {c*1e6/(r*$secs):5.2f} us/req')"
}
for i in $(seq "$runs"); do
  echo "nginx $(measure "$worker" 18191)"
  echo "rusm  $(measure $rusm_pid 18192)"
done
