#!/usr/bin/env bash
# pindns pin: the SPKI pin of a live TLS server on loopback (a throwaway
# certificate made here), and of a PEM file, equal to what openssl says.
. "$(dirname "$0")/../lib.sh"
PINDNS="$BUILD/pindns"
require "$PINDNS" openssl base64
cd "$PD_TMP" || exit 1

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout key.pem -out cert.pem -days 2 -subj "/CN=dot.pin.test" \
	>/dev/null 2>&1 || { not_ok "openssl made a test certificate"; exit 1; }
want=$(openssl x509 -in cert.pem -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)

out=$("$PINDNS" pin --cert cert.pem 2>&1)
check_eq "pin --cert exits 0" 0 $?
value_of() { printf '%s\n' "$1" | sed -n 's/^ *value: //p'; }
check_eq "pin --cert prints the openssl pin" "$want" "$(value_of "$out")"
check_match "in tls_pubkey_pinset format" \
	"^tls_pubkey_pinset:.*- digest: sha256" "$(echo $out)"

# The printed block pastes into a policy and loads.
{
	printf 'version: 1\nupstream_recursive_servers:\n'
	printf '  - address_data: 127.0.0.1\n    tls_auth_name: dot.pin.test\n'
	"$PINDNS" pin --cert cert.pem 2>/dev/null | sed 's/^/    /'
} >pasted.yaml
check "pasted pin block loads" "$PINDNS" check pasted.yaml

srv_start() {
	openssl s_server -accept "127.0.0.1:$PORT" -cert cert.pem -key key.pem \
		-naccept 3 -quiet </dev/null >server.log 2>&1 &
	PD_PID=$!
}
srv_up() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
srv_taken() { grep -qi "in use" server.log; }
if ! pd_start_on_free_port 10 0 srv_start srv_up srv_taken; then
	not_ok "openssl s_server listens on 127.0.0.1:$PORT" "$(cat server.log)"
	exit 1
fi
port=$PORT
# (that probe used one of the three accepts)

out=$("$PINDNS" pin "127.0.0.1:$port" 2>stderr.txt)
check_eq "pin HOST:PORT exits 0" 0 $?
check_eq "live pin equals the certificate's" "$want" "$(value_of "$out")"
check_match "says it is not verified" "NOT verified" "$out"
check_match "warns to check out of band" "WARNING: .*check it out of band" \
	"$(cat stderr.txt)"
out=$("$PINDNS" pin "[127.0.0.1]:$port" 2>/dev/null)
check_eq "bracketed host form" "$want" "$(value_of "$out")"

# Nothing listens: exit 1, a message.
dead=$(free_port)
check_rc "refused connection: exit 1" 1 "$PINDNS" pin "127.0.0.1:$dead"
check_rc "no argument: usage error" 1 "$PINDNS" pin
check_rc "not a PEM file: exit 1" 1 "$PINDNS" pin --cert "$TOP/README.md"
