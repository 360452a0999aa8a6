# bench/modsec.sh — sourced by bench/run: nginx + ModSecurity v3 with the same
# OWASP CRS as Rampart's WAF, for the nginx-modsec target (issue 18: the WAF
# row is compared with it in the same run).
#
# The rule set is the one Rampart embeds (github.com/corazawaf/coraza-coreruleset
# v4, from the Go module cache), so both engines run the same rules with the
# same setup: paranoia level 1, inbound threshold 5, JSON bodies through the
# JSON processor, PUT/PATCH/DELETE allowed, no audit log, responses not
# inspected. Debian 12's libmodsecurity 3.0.9 refuses a chained rule written
# without actions (two in CRS v4.25): they get an explicit "t:none", which
# changes nothing in what they do.

# modsec_module prints the path of nginx's ModSecurity module, installing the
# Debian package when it is missing; empty when it cannot be had.
modsec_module() {
	local so=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
	if [[ ! -f $so ]]; then
		log "installing libnginx-mod-http-modsecurity (nginx + ModSecurity v3, for the nginx-modsec target)"
		apt_install libnginx-mod-http-modsecurity >/dev/null 2>&1 || true
	fi
	[[ -f $so ]] && echo "$so"
}

# modsec_rules DIR: copies the CRS into DIR/crs and writes DIR/modsec.conf.
modsec_rules() {
	local dir=$1 crs
	crs=$(cd "$ROOT" && "$GO" list -m -f '{{.Dir}}' github.com/corazawaf/coraza-coreruleset/v4) || return 1
	mkdir -p "$dir"
	rm -rf "$dir/crs"
	cp -r "$crs/rules/@owasp_crs" "$dir/crs" # the module path has an "@", which ModSecurity's Include cannot take
	chmod -R u+w "$dir/crs"
	# SecRule VAR "op" with no actions → SecRule VAR "op" "t:none"
	sed -i -E 's/^([[:space:]]*SecRule[[:space:]]+[^[:space:]]+[[:space:]]+"([^"\\]|\\.)*")[[:space:]]*$/\1 "t:none"/' "$dir"/crs/*.conf
	cat >"$dir/modsec.conf" <<EOF
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1048576
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction Reject
SecRule REQUEST_HEADERS:Content-Type "@rx (?i)^application/(?:[a-z0-9.-]+\+)?json" "id:10001,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=JSON"
SecResponseBodyAccess Off
SecAuditEngine Off
SecDebugLogLevel 0
SecArgumentSeparator &
SecCookieFormat 0
SecPcreMatchLimit 100000
SecPcreMatchLimitRecursion 100000
SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,auditlog,pass"
SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=1"
SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=5,setvar:tx.outbound_anomaly_score_threshold=4"
SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"
SecAction "id:900990,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',ver:'OWASP_CRS/4.25.0',setvar:tx.crs_setup_version=4250"
Include $dir/crs/*.conf
EOF
}

# modsec_nginx_conf DIR MODULE PORT UPSTREAM_PORT USER_LINE: an nginx config
# like the nginx target's (one worker, upstream keep-alive, no access log)
# with ModSecurity on.
modsec_nginx_conf() {
	local dir=$1 module=$2 port=$3 up=$4 user_line=$5
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<EOF
load_module $module;
$user_line
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 1000000;
    upstream app {
        server 127.0.0.1:$up;
        keepalive 128;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$port;
        modsecurity on;
        modsecurity_rules_file $dir/modsec.conf;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}
