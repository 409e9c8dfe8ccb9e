#!/usr/bin/env bash
# The lab's hostile DoT upstream (tests/lab/hostile) does what each mode
# claims, checked with kdig, which shares no code with pindns or getdns:
# TLS authenticates (lab CA, dot.lab.test, LAB_HOSTILE_PIN) and then each
# mode misbehaves in its own way. The fault tests (41-...) rely on this.
# tags: lab
# timeout: 120
. "$(dirname "$0")/../lib.sh"
require kdig openssl /usr/bin/python3
lab_env
N=dynamodb.us-east-1.amazonaws.com

missing=""
for v in LAB_HOSTILE_PIN LAB_HOSTILE_LOG LAB_HOSTILE_ADDR LAB_HOSTILE_MODES; do
	[ -n "${!v:-}" ] || missing="$missing $v"
done
for m in ${LAB_HOSTILE_MODES:-}; do
	v=LAB_HOSTILE_$(tr a-z- A-Z_ <<<"$m")_PORT
	[ -n "${!v:-}" ] || missing="$missing $v"
done
check_eq "lab.env has the hostile variables" "" "$missing"
check_eq "LAB_HOSTILE_ADDR is inside the lab pins" "127.0.10.66" \
	"${LAB_HOSTILE_ADDR:-}"
check_eq "18 hostile modes" 18 "$(wc -w <<<"${LAB_HOSTILE_MODES:-}")"

port() { local v="LAB_HOSTILE_$(tr a-z- A-Z_ <<<"$1")_PORT"; echo "${!v}"; }
# kq MODE SECS [kdig args]: kdig over authenticated TLS (CA + name + pin).
kq() {
	local m=$1 t=$2
	shift 2
	timeout 30 kdig @127.0.0.1 -p "$(port "$m")" +tls-ca="$LAB_CA" \
		+tls-hostname="$LAB_AUTH_NAME" +tls-pin="$LAB_HOSTILE_PIN" \
		+time="$t" +retry=0 "$@" 2>&1
}
# logged MODE WHAT: the server's log has "MODE WHAT" (a prefix match).
logged() { grep -q "^$1 $2" "$LAB_HOSTILE_LOG"; }

pin=$(openssl x509 -in "$LAB_STATE/pki/hostile.pem" -noout -pubkey |
	openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64)
check_eq "LAB_HOSTILE_PIN is the SPKI sha256 of its certificate" "$pin" \
	"$LAB_HOSTILE_PIN"
out=$(openssl verify -CAfile "$LAB_CA" "$LAB_STATE/pki/hostile.pem" 2>&1)
check_match "hostile's certificate is issued by the lab CA" ': OK$' "$out"

# honest: the control. A well-formed answer with the marker addresses.
out=$(kq honest 2 "$N" A)
check_match "honest A: NOERROR, A $LAB_HOSTILE_ADDR" \
	"status: NOERROR.*IN[[:space:]]+A[[:space:]]+127\.0\.10\.66" \
	"$(tr '\n' ' ' <<<"$out")"
out=$(kq honest 2 "$N" AAAA)
check_match "honest AAAA: 2001:db8:10::66" 'AAAA[[:space:]]+2001:db8:10::66' "$out"
out=$(kq honest 2 +dnssec "$N" A)
check_nomatch "honest: unsigned (no RRSIG)" 'RRSIG' "$out"
logged honest "query $N. A" && ok "the log records queries" ||
	not_ok "the log records queries" "expected: 'honest query $N. A'" \
		"got: $(tail -n 3 "$LAB_HOSTILE_LOG")"

# The stalls: TLS (or TCP) up, no answer within kdig's 1 s.
for m in stall-tcp slow-hs stall-tls half-record short-frame; do
	t0=$(date +%s%N)
	out=$(kq "$m" 1 "$N" A)
	ms=$((($(date +%s%N) - t0) / 1000000))
	check_nomatch "$m: no answer" 'status: |IN[[:space:]]+A[[:space:]]' "$out"
	if [ "$ms" -ge 900 ]; then ok "$m: kdig waited out its 1 s ($ms ms)"
	else not_ok "$m: kdig waited out its 1 s" "expected: >= 900 ms" \
		"got: $ms ms: $out"; fi
done
check_match "stall-tcp: the handshake never completes" \
	'took too long|handshake|timed out' "$out"
logged slow-hs "sent handshake-drip" && ok "slow-hs drips its handshake" ||
	not_ok "slow-hs drips its handshake" "expected: 'slow-hs sent handshake-drip'"
logged stall-tls "query $N. A" && ok "stall-tls read the query (TLS was up)" ||
	not_ok "stall-tls read the query (TLS was up)"
logged half-record "sent half-record" && ok "half-record sent half a record" ||
	not_ok "half-record sent half a record"
logged short-frame "sent short-frame" && ok "short-frame sent a short frame" ||
	not_ok "short-frame sent a short frame"

# trickle: bytes keep coming, so a per-read timeout never fires; only an
# overall deadline ends it. kdig (per-read) is still waiting after 3 s.
t0=$(date +%s%N)
out=$(timeout 3 kdig @127.0.0.1 -p "$(port trickle)" +tls-ca="$LAB_CA" \
	+tls-hostname="$LAB_AUTH_NAME" +time=1 +retry=0 "$N" A 2>&1)
rc=$?
check_eq "trickle: kdig (1 s per read) still waiting after 3 s" 124 "$rc"
logged trickle "sent trickle" && ok "trickle dribbles its answer" ||
	not_ok "trickle dribbles its answer"

out=$(kq garbage 2 "$N" A)
check_match "garbage: a TLS error after the handshake" \
	'TLS|unexpected|failed' "$out"
check_nomatch "garbage: no answer" 'status: ' "$out"
out=$(kq garbage-dns 2 "$N" A)
check_match "garbage-dns: a malformed DNS reply inside TLS" 'malformed' "$out"
out=$(kq truncated 2 "$N" A)
check_match "truncated: a malformed (cut) DNS reply" 'malformed' "$out"

out=$(kq many 2 "$N" A)
check_match "many: 500 A records" 'ANSWER: 500;' "$out"
check_eq "many: 250 of them inside 127.0.10.0/23" 250 \
	"$(grep -cE 'IN[[:space:]]+A[[:space:]]+127\.0\.1[01]\.' <<<"$out")"
check_eq "many: 250 outside the pins (127.0.66.0/23)" 250 \
	"$(grep -cE 'IN[[:space:]]+A[[:space:]]+127\.0\.6[67]\.' <<<"$out")"
out=$(kq big 5 "$N" A)
n=$(sed -n 's/.*ANSWER: \([0-9]*\);.*/\1/p' <<<"$out")
if [ -n "$n" ] && [ "$n" -ge 4000 ]; then ok "big: $n A records"
else not_ok "big: at least 4000 A records" "got: '$n'"; fi
sz=$(sed -n 's/.*Received \([0-9]*\) B.*/\1/p' <<<"$out")
if [ -n "$sz" ] && [ "$sz" -ge 65000 ] && [ "$sz" -le 65535 ]; then
	ok "big: a 64 KiB message ($sz B)"
else not_ok "big: a 64 KiB message" "expected: 65000..65535 B" "got: '$sz'"; fi

out=$(kq wrong-id 1 "$N" A)
check_match "wrong-id: the reply id is the query id + 1" \
	'reply ID \(([0-9]+)\) is different from query ID' "$out"
out=$(kq wrong-name 2 "$N" A)
check_match "wrong-name: the question is evil.example.net." \
	'question sections are different' "$out"
check_match "wrong-name: A $LAB_HOSTILE_ADDR owned by evil.example.net." \
	'^evil\.example\.net\.[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.10\.66' "$out"
out=$(kq foreign 2 "$N" A)
check_match "foreign: question $N." "^;; $N\.[[:space:]]+IN[[:space:]]+A" "$out"
check_match "foreign: the address is owned by evil.example.net." \
	'^evil\.example\.net\.[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.10\.66' "$out"

out=$(kq close 2 "$N" A)
check_match "close: connection closed without an answer" \
	"terminated|can't receive|failed" "$out"
check_nomatch "close: no answer" 'status: ' "$out"
out=$(kq reset 2 "$N" A)
check_nomatch "reset: no answer" 'status: ' "$out"
logged reset "sent reset" && ok "reset reset the connection" ||
	not_ok "reset reset the connection"

out=$(kq lying-rdata 2 "$N" A)
check_match "lying-rdata: the honest A" \
	"^$N\.[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]+$LAB_HOSTILE_ADDR" "$out"
check_match "lying-rdata: a HIP record of 4 octets claiming a 65535-octet key" \
	'IN[[:space:]]+TYPE55[[:space:]]+\\# 4 0002FFFF' "$out"
logged lying-rdata "sent lying-rdata" && ok "lying-rdata: sent" ||
	not_ok "lying-rdata: sent"

# Still alive and serving after all that.
out=$(kq honest 2 +short "$N" A)
check_eq "hostile still serves after every mode ran" "$LAB_HOSTILE_ADDR" "$out"
