# tests/e2e/lib/observe.sh - what an admin watches relaydiag with: the
# dashboard (tools/relaydiag-dashboard) and a private Prometheus scraping
# MetricsListen. Part of the harness: sourced by tests/e2e/lib.sh.

# rd_e2e_start_dashboard [PORT [ARGS...]]: relaydiag-dashboard (the
# source tree's, or RD_DASHBOARD_BIN) on the stream of rd_e2e_start_redis;
# sets RD_DASHBOARD_URL
rd_e2e_start_dashboard() {
	local port=${1:-$(rd_free_port)}
	shift || true
	_rd_spawn dashboard "$RD_E2E_DIR/dashboard.log" "${RD_DASHBOARD_BIN:-$RD_SRC/tools/relaydiag-dashboard}" \
		--redis "${RD_REDIS_URL:?rd_e2e_start_redis first}" --listen "127.0.0.1:$port" "$@"
	RD_DASHBOARD_URL=http://127.0.0.1:$port/
	export RD_DASHBOARD_URL
	rd_wait 10 0.1 _rd_while_alive "${_RD_SID[dashboard]}" \
		curl -fs -o /dev/null "${RD_DASHBOARD_URL}healthz"
	case $? in
	1) rd_e2e_bail "relaydiag-dashboard did not answer on port $port" ;;
	2) rd_e2e_bail "relaydiag-dashboard exited at startup (see dashboard.log)" ;;
	esac
}

# rd_e2e_start_prometheus TARGET [RULES]: a private Prometheus scraping
# TARGET (host:port) every second; sets RD_PROM_URL
rd_e2e_start_prometheus() {
	local target=$1 rules=${2:-$RD_SRC/conf/prometheus/relaydiag.rules.yml} port
	command -v prometheus >/dev/null || rd_e2e_bail "prometheus missing (package prometheus)"
	port=$(rd_free_port)
	mkdir -p "$RD_E2E_DIR/prom"
	cat >"$RD_E2E_DIR/prometheus.yml" <<EOF2
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $rules
scrape_configs:
  - job_name: relaydiag
    static_configs:
      - targets: ['$target']
EOF2
	_rd_spawn prometheus "$RD_E2E_DIR/prometheus.log" prometheus \
		--config.file="$RD_E2E_DIR/prometheus.yml" \
		--storage.tsdb.path="$RD_E2E_DIR/prom" --web.listen-address="127.0.0.1:$port"
	RD_PROM_URL=http://127.0.0.1:$port
	export RD_PROM_URL
	rd_wait 30 0.2 _rd_while_alive "${_RD_SID[prometheus]}" \
		curl -fs -o /dev/null "$RD_PROM_URL/-/ready"
	case $? in
	1) rd_e2e_bail "prometheus not ready on port $port after 30 s" ;;
	2) rd_e2e_bail "prometheus exited at startup (see prometheus.log)" ;;
	esac
}

# rd_e2e_prom_query PROMQL: the first sample's value, or nothing
rd_e2e_prom_query() {
	curl -fsS -G "${RD_PROM_URL:?rd_e2e_start_prometheus first}/api/v1/query" \
		--data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'
}
