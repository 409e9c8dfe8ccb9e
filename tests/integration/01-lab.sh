#!/usr/bin/env bash
# Lab self-test: every server of the local lab behaves as designed,
# checked with tools that share no code with pindns: kdig (TLS, pins,
# raw records), getdns_query (DNSSEC validation under the lab's trust
# anchors), openssl s_client, getent inside tests/lab/poisoned.
# Then the lab commands themselves: stop/start keeps the port, rollover
# keeps answers secure, and a second lab in a private network namespace
# comes up, is independent, and goes down leaving nothing behind.
# tags: lab
# timeout: 180
. "$(dirname "$0")/../lib.sh"
require kdig getdns_query openssl getent unshare /usr/bin/python3
lab_env
LAB="$TOP/tests/lab/lab"
POISONED="$TOP/tests/lab/poisoned"
A=127.0.0.1
N=dynamodb.us-east-1.amazonaws.com

# ------------------------------------------------------------ helpers

# gq PORT TA [getdns_query args...]: one DoT query, TLS only, auth
# required, stub mode, the lab CA, JSON on stdout. The appdata dir and
# the empty verify_CA keep getdns from touching ~/.getdns or fetching a
# root anchor (GETDNS-NOTES.md).
gq() {
	local port=$1 ta=$2
	shift 2
	getdns_query -s -L -m -t "${GQ_TIMEOUT:-3000}" -j -f "$ta" \
		"{\"tls_ca_file\":\"$LAB_CA\",\"appdata_dir\":\"$LAB_GETDNS_APPDATA\",\"trust_anchors_verify_CA\":\"\"}" \
		"@$A#$port~${GQ_NAME:-$LAB_AUTH_NAME}" "$@" 2>&1
}

# summary < JSON: "status=S dnssec=D,.. rcode=R,.. addrs=A,.. cname=C"
summary() {
	/usr/bin/python3 -c '
import json, sys
raw = sys.stdin.read()
try:
    d = json.loads(raw)
except ValueError:
    print("no-json: " + " ".join(raw.split())[:200])
    sys.exit(0)
rt = d.get("replies_tree", [])
print("status=%s dnssec=%s rcode=%s addrs=%s cname=%s" % (
    d.get("status"),
    ",".join(str(r.get("dnssec_status")) for r in rt),
    ",".join(str(r["header"]["rcode"]) for r in rt),
    ",".join(a["address_data"] for a in d.get("just_address_answers", [])),
    d.get("canonical_name", "")))'
}

# kq PORT [kdig args...]: kdig over TLS with the lab CA and the right name.
kq() {
	local port=$1
	shift
	kdig @"$A" -p "$port" +tls-ca="$LAB_CA" +tls-hostname="$LAB_AUTH_NAME" \
		+time=2 +retry=0 "$@" 2>&1
}

# ms_of KDIG_OUTPUT: kdig's "in N ms" figure, as an integer.
ms_of() { sed -n 's/.* in \([0-9.]*\) ms$/\1/p' <<<"$1" | cut -d. -f1; }

# ------------------------------------------------------------ lab.env

missing=""
for v in LAB_STATE LAB_ZONE LAB_UP_ADDR LAB_AUTH_NAME LAB_CA LAB_TA_DS \
	LAB_TA_DNSKEY LAB_TA_ROOT LAB_GOOD_PORT LAB_GOOD_PIN LAB_GOOD_LOG \
	LAB_GOOD2_PORT LAB_GOOD2_PIN LAB_GOOD2_LOG LAB_IDLECLOSE_PORT \
	LAB_MITM_PORT LAB_MITM_CA LAB_MITM_PIN LAB_WRONGNAME_PORT \
	LAB_WRONGNAME_PIN LAB_STRIPPED_PORT LAB_TAMPERED_PORT LAB_HUNG_PORT \
	LAB_DELAY_PORT LAB_INSECURE_PORT LAB_POISON_ADDR LAB_LEGIT_ADDR \
	LAB_ATTACKER_ADDR LAB_PINS LAB_POLICY; do
	[ -n "${!v:-}" ] || missing="$missing $v"
done
check_eq "lab.env defines every documented variable" "" "$missing"
check_eq "LAB_ZONE, LAB_UP_ADDR, LAB_AUTH_NAME" \
	"amazonaws.com 127.0.0.1 dot.lab.test" \
	"$LAB_ZONE $LAB_UP_ADDR $LAB_AUTH_NAME"
check_eq "LAB_LEGIT_ADDR, LAB_ATTACKER_ADDR, LAB_PINS" \
	"127.0.10.1 127.0.66.6 127.0.10.0/24" \
	"$LAB_LEGIT_ADDR $LAB_ATTACKER_ADDR $LAB_PINS"
check_match "LAB_POISON_ADDR is a 127.53.x.y" '^127\.53\.[0-9]+\.[0-9]+$' \
	"$LAB_POISON_ADDR"
bad=""
for f in "$LAB_CA" "$LAB_MITM_CA" "$LAB_TA_DS" "$LAB_TA_DNSKEY" \
	"$LAB_TA_ROOT" "$LAB_POLICY"; do
	case "$f" in /*) [ -s "$f" ] || bad="$bad $f" ;; *) bad="$bad $f" ;; esac
done
for f in "$LAB_GOOD_LOG" "$LAB_GOOD2_LOG"; do	# may still be empty
	case "$f" in /*) [ -f "$f" ] || bad="$bad $f" ;; *) bad="$bad $f" ;; esac
done
check_eq "lab.env files exist and are absolute paths" "" "$bad"
ports="$LAB_GOOD_PORT $LAB_GOOD2_PORT $LAB_IDLECLOSE_PORT $LAB_MITM_PORT \
$LAB_WRONGNAME_PORT $LAB_STRIPPED_PORT $LAB_TAMPERED_PORT $LAB_HUNG_PORT \
$LAB_DELAY_PORT $LAB_INSECURE_PORT"
dups=$(tr ' ' '\n' <<<"$ports" | grep . | sort | uniq -d | tr '\n' ' ')
check_eq "every server has its own port" "" "$dups"
check_match "the DS anchor is amazonaws.com. DS, alg 13, SHA-256" \
	'^amazonaws\.com\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+DS[[:space:]]+[0-9]+ 13 2 [0-9a-f]{64}$' \
	"$(cat "$LAB_TA_DS")"
check_match "the DNSKEY anchor is the KSK (flags 257, alg 13)" \
	'^amazonaws\.com\.[[:space:]]+IN[[:space:]]+DNSKEY[[:space:]]+257 3 13 ' \
	"$(cat "$LAB_TA_DNSKEY")"
pol=$(cat "$LAB_POLICY")
check_match "the lab policy points at good with its pin" \
	"tls_port: $LAB_GOOD_PORT.*value: ${LAB_GOOD_PIN//+/\\+}" "$(tr '\n' ' ' <<<"$pol")"
check_match "the lab policy pins 127.0.10.0/24 and anchors on LAB_TA_DS" \
	"- path: $LAB_TA_DS.*- 127\.0\.10\.0/24" "$(tr '\n' ' ' <<<"$pol")"
check_match "the lab policy pins its CA and anchor files by sha256" \
	"path: $LAB_CA +sha256: $(sha256sum "$LAB_CA" | cut -d' ' -f1) .*path: $LAB_TA_DS +sha256: $(sha256sum "$LAB_TA_DS" | cut -d' ' -f1) " \
	"$(tr '\n' ' ' <<<"$pol")"

# Every server is a live process started by the lab, and the unbound
# ones run with the TCP_NODELAY shim loaded.
st=$("$LAB" status "$LAB_STATE" 2>&1)
check_eq "lab status: all 12 servers up" "12" "$(grep -c ' pid ' <<<"$st")"
pid=$(awk '$1 == "good" { print $4 }' <<<"$st")
check_match "good's unbound has nodelay.so loaded" 'nodelay\.so' \
	"$(cat "/proc/${pid:-0}/maps" 2>/dev/null)"
pin=$(openssl x509 -in "$LAB_STATE/pki/good.pem" -noout -pubkey |
	openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64)
check_eq "LAB_GOOD_PIN is the SPKI sha256 of good's certificate" "$pin" \
	"$LAB_GOOD_PIN"

# ------------------------------------------------------------ good

out=$(kq "$LAB_GOOD_PORT" +dnssec "$N" A)
check_match "kdig +tls good: NOERROR" 'status: NOERROR' "$out"
check_match "kdig +tls good: A 127.0.10.1" "^$N\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.10\.1$" "$out"
check_match "kdig +tls good: the A comes with its RRSIG" \
	"IN[[:space:]]+RRSIG[[:space:]]+A 13 4 300 " "$out"
out=$(kq "$LAB_GOOD_PORT" +tls-pin="$LAB_GOOD_PIN" "$N" A)
check_match "kdig good with the right SPKI pin: answers" 'status: NOERROR' "$out"
out=$(kdig @"$A" -p "$LAB_GOOD_PORT" +tls-pin="$LAB_MITM_PIN" +time=2 \
	+retry=0 "$N" A 2>&1)
check_nomatch "kdig good with a wrong SPKI pin: no answer" 'status: ' "$out"

out=$(gq "$LAB_GOOD_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_eq "getdns good, DS anchor: secure 127.0.10.1" \
	"status=900 dnssec=400 rcode=0 addrs=127.0.10.1 cname=$N." "$out"
out=$(gq "$LAB_GOOD_PORT" "$LAB_TA_DNSKEY" +dnssec_return_only_secure "$N" A | summary)
check_eq "getdns good, DNSKEY anchor: secure 127.0.10.1" \
	"status=900 dnssec=400 rcode=0 addrs=127.0.10.1 cname=$N." "$out"
out=$(gq "$LAB_GOOD2_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_eq "getdns good2: secure 127.0.10.1" \
	"status=900 dnssec=400 rcode=0 addrs=127.0.10.1 cname=$N." "$out"
out=$(gq "$LAB_GOOD_PORT" "$LAB_TA_DS" -K "pin-sha256=\"$LAB_GOOD_PIN\"" \
	+dnssec_return_only_secure "$N" A | summary)
check_eq "getdns good with its pin: secure" \
	"status=900 dnssec=400 rcode=0 addrs=127.0.10.1 cname=$N." "$out"
out=$(gq "$LAB_GOOD_PORT" "$LAB_TA_DS" -K "pin-sha256=\"$LAB_MITM_PIN\"" \
	+dnssec_return_only_secure "$N" A | summary)
check_match "getdns good with a wrong pin: TLS failure" "Generic error" "$out"

# The zone's name forms and special cases, all validated by getdns.
while read -r name type want; do
	out=$(gq "$LAB_GOOD_PORT" "$LAB_TA_DS" +dnssec_return_only_secure \
		"$name.amazonaws.com" "$type" | summary)
	check_match "getdns good: $name $type -> $want" "^$want" "$out"
done <<'EOF'
dynamodb-fips.us-east-1 A status=900 dnssec=400 rcode=0 addrs=127.0.10.2 
streams.dynamodb.us-east-1 A status=900 dnssec=400 rcode=0 addrs=127.0.10.3 
123456789012.ddb.us-east-1 A status=900 dnssec=400 rcode=0 addrs=127.0.10.4 
dynamodb.eu-west-1 A status=900 dnssec=400 rcode=0 addrs=127.0.10.5 
dynamodb.eu-west-1 AAAA status=900 dnssec=400 rcode=0 addrs=2001:db8:10::5 
dynamodb.eu-north-1 AAAA status=900 dnssec=400 rcode=0 addrs=2001:db8:10::6 
dynamodb.eu-north-1 A status=901 dnssec=400 rcode=0 addrs= 
dynamodb.eu-central-1 A status=900 dnssec=400 rcode=0 addrs=127.0.10.7 cname=ddb-edge.eu-central-1.amazonaws.com.
dynamodb.us-west-2 A status=900 dnssec=400 rcode=0 addrs=127.0.99.9 
dynamodb.us-west-1 A status=900 dnssec=400 rcode=0 addrs=127.0.10.8,127.0.99.8 
dynamodb.xx-none-1 A status=901 dnssec=400 rcode=3 addrs= 
EOF
# The CNAME escape: a secure CNAME into unsigned example.net. getdns
# calls the whole answer secure (GETDNS-NOTES.md); the lab must serve
# exactly that so pindns's own check can be tested.
out=$(gq "$LAB_GOOD_PORT" "$LAB_TA_DS" +dnssec_return_only_secure \
	dynamodb.ap-south-1.amazonaws.com A | summary)
check_eq "getdns good: ap-south-1 escapes to evil.example.net 127.0.66.6" \
	"status=900 dnssec=400 rcode=0 addrs=127.0.66.6 cname=evil.example.net." "$out"
out=$(kq "$LAB_GOOD_PORT" dynamodb.ap-south-1.amazonaws.com A)
check_match "kdig good: ap-south-1 is a CNAME chased by the upstream" \
	'CNAME[[:space:]]+evil\.example\.net\..*A[[:space:]]+127\.0\.66\.6' \
	"$(tr '\n' ' ' <<<"$out")"
out=$(kq "$LAB_GOOD_PORT" dynamodb.xx-none-1.amazonaws.com A)
check_match "kdig good: xx-none-1 is NXDOMAIN" 'status: NXDOMAIN' "$out"
ttl=$(kq "$LAB_GOOD_PORT" dynamodb.us-east-2.amazonaws.com A |
	awk '$1 !~ /^;/ && $3 == "IN" && $4 == "A" { print $2 }' | head -n 1)
if [ -n "$ttl" ] && [ "$ttl" -le 2 ]; then
	ok "kdig good: us-east-2 has a TTL of at most 2 s ($ttl)"
else
	not_ok "kdig good: us-east-2 has a TTL of at most 2 s" "expected: <= 2" "got: '$ttl'"
fi

# The query log counts what good received.
before=$(grep -c " $N\. A IN" "$LAB_GOOD_LOG")
kq "$LAB_GOOD_PORT" "$N" A >/dev/null
kq "$LAB_GOOD_PORT" "$N" A >/dev/null
after=$(grep -c " $N\. A IN" "$LAB_GOOD_LOG")
check_eq "LAB_GOOD_LOG has one line per query received" "$((before + 2))" "$after"

# ------------------------------------------------------------ attackers

out=$(gq "$LAB_TAMPERED_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_match "getdns tampered, only_secure: all bogus (904), no address" \
	'^status=904 dnssec= rcode= addrs= ' "$out"
out=$(gq "$LAB_TAMPERED_PORT" "$LAB_TA_DS" +dnssec_return_all_statuses "$N" A | summary)
check_match "getdns tampered, all_statuses: bogus 127.0.66.6" \
	'^status=900 dnssec=401 rcode=0 addrs=127\.0\.66\.6 ' "$out"
out=$(gq "$LAB_TAMPERED_PORT" "$LAB_TA_DS" +dnssec_return_all_statuses -A \
	dynamodb.eu-west-1.amazonaws.com | summary)
check_match "getdns tampered eu-west-1: AAAA secure, A bogus" \
	'dnssec=(400,401|401,400) .*addrs=(2001:db8:10::5,127\.0\.66\.6|127\.0\.66\.6,2001:db8:10::5) ' \
	"$out"
out=$(kq "$LAB_TAMPERED_PORT" +dnssec "$N" A)
check_match "kdig tampered: forged A under an RRSIG" \
	'A[[:space:]]+127\.0\.66\.6.*RRSIG[[:space:]]+A 13 ' "$(tr '\n' ' ' <<<"$out")"

out=$(gq "$LAB_STRIPPED_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_match "getdns stripped under the anchor: bogus (904)" \
	'^status=904 dnssec= rcode= addrs= ' "$out"
out=$(kq "$LAB_STRIPPED_PORT" +dnssec "$N" A)
check_match "kdig stripped: A 127.0.66.6" 'IN[[:space:]]+A[[:space:]]+127\.0\.66\.6' "$out"
check_nomatch "kdig stripped: no RRSIG" 'RRSIG' "$out"
out=$(kq "$LAB_STRIPPED_PORT" +dnssec amazonaws.com DNSKEY)
check_match "kdig stripped: amazonaws.com. DNSKEY is NODATA" \
	'status: NOERROR.*ANSWER: 0' "$(tr '\n' ' ' <<<"$out")"
check_nomatch "kdig stripped: no DNSKEY record" \
	'^amazonaws\.com\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+DNSKEY' "$out"

out=$(kq "$LAB_MITM_PORT" "$N" A)
check_match "kdig mitm with the lab CA: certificate refused" \
	'handshake failed|certificate' "$out"
check_nomatch "kdig mitm with the lab CA: no answer" 'status: ' "$out"
out=$(kdig @"$A" -p "$LAB_MITM_PORT" +tls-ca="$LAB_MITM_CA" \
	+tls-hostname="$LAB_AUTH_NAME" +time=2 +retry=0 "$N" A 2>&1)
check_match "kdig mitm with its own CA: answers (so the refusal was the CA)" \
	'status: NOERROR' "$out"
out=$(gq "$LAB_MITM_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_match "getdns mitm: TLS authentication failure" "Generic error" "$out"

out=$(kq "$LAB_WRONGNAME_PORT" "$N" A)
check_nomatch "kdig wrongname as dot.lab.test: no answer" 'status: ' "$out"
out=$(kdig @"$A" -p "$LAB_WRONGNAME_PORT" +tls-ca="$LAB_CA" \
	+tls-hostname=wrong.lab.test +time=2 +retry=0 "$N" A 2>&1)
check_match "kdig wrongname as wrong.lab.test: answers (so the refusal was the name)" \
	'status: NOERROR' "$out"
out=$(gq "$LAB_WRONGNAME_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_match "getdns wrongname: TLS authentication failure" "Generic error" "$out"

# The hung server: TCP connects, TLS never starts; getdns times out.
if (exec 3<>"/dev/tcp/$A/$LAB_HUNG_PORT") 2>/dev/null; then
	ok "hung accepts TCP connections"
else
	not_ok "hung accepts TCP connections" "expected: connect to $A:$LAB_HUNG_PORT" "got: refused"
fi
t0=$(date +%s%N)
out=$(GQ_TIMEOUT=1000 gq "$LAB_HUNG_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
ms=$((($(date +%s%N) - t0) / 1000000))
check_match "getdns hung: timeout (902)" '^status=902 ' "$out"
if [ "$ms" -ge 900 ] && [ "$ms" -lt 6000 ]; then
	ok "getdns hung: gave up after its 1000 ms budget ($ms ms)"
else
	not_ok "getdns hung: gave up after its 1000 ms budget" \
		"expected: 900..6000 ms" "got: $ms ms"
fi

# ------------------------------------------------------------ idleclose, delay

t0=$(date +%s%N)
# stdin stays open (the client never sends), so s_client ends only when
# the server closes the connection.
out=$(timeout 8 openssl s_client -connect "$A:$LAB_IDLECLOSE_PORT" \
	-CAfile "$LAB_CA" -verify_hostname "$LAB_AUTH_NAME" \
	-verify_return_error < <(sleep 5) 2>&1)
ms=$((($(date +%s%N) - t0) / 1000000))
check_match "idleclose: TLS handshake verified" 'Verify return code: 0' "$out"
if [ "$ms" -ge 700 ] && [ "$ms" -lt 5000 ]; then
	ok "idleclose: an idle TLS connection is closed after ~1 s ($ms ms)"
else
	not_ok "idleclose: an idle TLS connection is closed after ~1 s" \
		"expected: 700..5000 ms" "got: $ms ms"
fi

out=$(gq "$LAB_DELAY_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_eq "getdns through the delay relay: secure 127.0.10.1" \
	"status=900 dnssec=400 rcode=0 addrs=127.0.10.1 cname=$N." "$out"
# kdig's time covers TCP + TLS 1.3 handshake + query: 2 round trips, so
# the relay adds ~20 ms. Medians of 5, loose bounds (shared machine).
direct=() delayed=()
for i in 1 2 3 4 5; do
	direct+=("$(ms_of "$(kq "$LAB_GOOD_PORT" "$N" A)")")
	delayed+=("$(ms_of "$(kq "$LAB_DELAY_PORT" "$N" A)")")
done
md=$(printf '%s\n' "${direct[@]}" | sort -n | sed -n 3p)
mr=$(printf '%s\n' "${delayed[@]}" | sort -n | sed -n 3p)
extra=$((${mr:-0} - ${md:-0}))
if [ -n "$md" ] && [ -n "$mr" ] && [ "$extra" -ge 14 ] && [ "$extra" -le 150 ]; then
	ok "delay relay adds ~10 ms per round trip (2 RTTs: +$extra ms, $md -> $mr ms)"
else
	not_ok "delay relay adds ~10 ms per round trip" \
		"expected: +14..150 ms over 2 round trips" \
		"got: direct ${direct[*]} ms, relayed ${delayed[*]} ms"
fi

# ------------------------------------------------------------ insecure

raw=$(gq "$LAB_INSECURE_PORT" "$LAB_TA_ROOT" +dnssec_return_status "$N" A)
out=$(summary <<<"$raw")
check_eq "getdns insecure under the lab root anchor: provably insecure (403)" \
	"status=900 dnssec=403 rcode=0 addrs=127.0.10.1 cname=$N." "$out"
# Seen once in a hunt (status 901, not reproduced since): keep the
# evidence, getdns's whole answer and what the server was asked.
if [ "$out" != "status=900 dnssec=403 rcode=0 addrs=127.0.10.1 cname=$N." ]; then
	echo "# getdns_query: $(tr -s ' \n' ' ' <<<"$raw" | cut -c1-2000)"
	echo "# the insecure server's log, last lines:"
	tail -n 40 "$LAB_INSECURE_LOG" 2>&1 | sed 's/^/#   /'
fi
out=$(kq "$LAB_INSECURE_PORT" +dnssec amazonaws.com DS)
check_match "kdig insecure: amazonaws.com. DS is denied by a com. NSEC" \
	'^amazonaws\.com\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+NSEC[[:space:]]' "$out"
out=$(gq "$LAB_INSECURE_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_match "getdns insecure under the amazonaws.com anchor: not secure" \
	'^status=90[34] ' "$out"

# ------------------------------------------------------------ poisoner

out=$(kdig @"$LAB_POISON_ADDR" +time=2 +retry=0 +short "$N" A 2>&1)
check_eq "poisoner UDP: $N A 127.0.66.6" "127.0.66.6" "$out"
out=$(kdig @"$LAB_POISON_ADDR" +tcp +time=2 +retry=0 +short \
	anything.else.amazonaws.com A 2>&1)
check_eq "poisoner TCP: any amazonaws.com name A 127.0.66.6" "127.0.66.6" "$out"
out=$(kdig @"$LAB_POISON_ADDR" +time=2 +retry=0 "$N" AAAA 2>&1)
check_match "poisoner: AAAA is NODATA" 'status: NOERROR.*ANSWER: 0' \
	"$(tr '\n' ' ' <<<"$out")"
out=$(kdig @"$LAB_POISON_ADDR" +time=2 +retry=0 nope.plain.lab.test A 2>&1)
check_match "poisoner: names not there are NXDOMAIN" 'status: NXDOMAIN' "$out"

sum0=$(md5sum /etc/resolv.conf /etc/hosts /etc/nsswitch.conf)
out=$("$POISONED" "$LAB_STATE" -- getent ahosts "$N" 2>&1)
check_match "poisoned getent ahosts $N -> 127.0.66.6" \
	'^127\.0\.66\.6[[:space:]]+STREAM' "$out"
check_nomatch "poisoned getent ahosts $N: nothing else" \
	'^(127\.0\.10|[0-9a-f:]+:)' "$out"
out=$("$POISONED" "$LAB_STATE" -- getent ahosts www.plain.lab.test 2>&1)
check_match "poisoned getent ahosts www.plain.lab.test: A and AAAA" \
	'127\.0\.20\.1.*2001:db8:20::1' "$(tr '\n' ' ' <<<"$out")"
out=$("$POISONED" "$LAB_STATE" -- cat /etc/resolv.conf 2>&1)
check_match "poisoned: resolv.conf names the poisoner" \
	"^nameserver $LAB_POISON_ADDR\$" "$out"
out=$("$POISONED" "$LAB_STATE" -- cat /etc/hosts 2>&1)
check_nomatch "poisoned: /etc/hosts has only localhost lines" \
	'^[0-9a-f.:]+[[:space:]]+[^l]' "$out"
printf '127.0.0.9 only.in.given.hosts\n' >"$PD_TMP/hosts"
out=$("$POISONED" "$LAB_STATE" --hosts "$PD_TMP/hosts" -- getent hosts \
	only.in.given.hosts 2>&1)
check_match "poisoned --hosts FILE: that file is /etc/hosts" '^127\.0\.0\.9 ' "$out"
check_rc "poisoned: the exit status of CMD passes through" 7 \
	"$POISONED" "$LAB_STATE" -- sh -c 'exit 7'
check_eq "the real /etc/resolv.conf, hosts, nsswitch.conf are unchanged" \
	"$sum0" "$(md5sum /etc/resolv.conf /etc/hosts /etc/nsswitch.conf)"
check_nomatch "the real /etc/resolv.conf does not name the poisoner" \
	"$LAB_POISON_ADDR" "$(cat /etc/resolv.conf)"

# ------------------------------------------------------------ stop/start

old=$(awk '$1 == "good" { print $4 }' <<<"$("$LAB" status "$LAB_STATE")")
check "lab stop good" "$LAB" stop "$LAB_STATE" good
if kill -0 "${old:-0}" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$old/stat" 2>/dev/null)" != Z ]; then
	not_ok "lab stop good: its process is gone" "expected: pid $old gone" "got: alive"
else
	ok "lab stop good: its process is gone"
fi
out=$(gq "$LAB_GOOD_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_match "getdns good while stopped: fails" "Generic error|status=90[2-4]" "$out"
check "lab start good" "$LAB" start "$LAB_STATE" good
st=$("$LAB" status "$LAB_STATE")
check_eq "lab start good: same port" "$LAB_GOOD_PORT" \
	"$(awk '$1 == "good" { print $2 }' <<<"$st")"
new=$(awk '$1 == "good" { print $4 }' <<<"$st")
check_match "lab start good: a new process" "^[0-9]+$" "$new"
[ "$new" != "$old" ] && ok "lab start good: pid changed ($old -> $new)" ||
	not_ok "lab start good: pid changed" "expected: not $old" "got: $new"
out=$(gq "$LAB_GOOD_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_eq "getdns good after restart: secure 127.0.10.1" \
	"status=900 dnssec=400 rcode=0 addrs=127.0.10.1 cname=$N." "$out"
out=$(gq "$LAB_DELAY_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_eq "the delay relay reaches the restarted good" \
	"status=900 dnssec=400 rcode=0 addrs=127.0.10.1 cname=$N." "$out"

# ------------------------------------------------------------ rollover

dnskeys() { kq "$1" +short amazonaws.com DNSKEY | sort; }
k0=$(dnskeys "$LAB_GOOD_PORT")
check "lab rollover" "$LAB" rollover "$LAB_STATE"
k1=$(dnskeys "$LAB_GOOD_PORT")
check_eq "rollover: the KSK stays" "$(grep '^257 ' <<<"$k0")" "$(grep '^257 ' <<<"$k1")"
z0=$(grep '^256 ' <<<"$k0")
z1=$(grep '^256 ' <<<"$k1")
check_eq "rollover: one ZSK in the new DNSKEY set" 1 "$(grep -c . <<<"$z1")"
[ -n "$z1" ] && [ "$z0" != "$z1" ] && ok "rollover: the old ZSK is gone, a new one is served" ||
	not_ok "rollover: the old ZSK is gone, a new one is served" \
		"expected: a ZSK other than: $z0" "got: $z1"
check_eq "rollover: good2 serves the same DNSKEY set" "$k1" "$(dnskeys "$LAB_GOOD2_PORT")"
out=$(gq "$LAB_GOOD_PORT" "$LAB_TA_DS" +dnssec_return_only_secure "$N" A | summary)
check_eq "getdns good after rollover, same anchor: secure 127.0.10.1" \
	"status=900 dnssec=400 rcode=0 addrs=127.0.10.1 cname=$N." "$out"
out=$(gq "$LAB_TAMPERED_PORT" "$LAB_TA_DS" +dnssec_return_all_statuses "$N" A | summary)
check_match "getdns tampered after rollover: still bogus 127.0.66.6" \
	'^status=900 dnssec=401 rcode=0 addrs=127\.0\.66\.6 ' "$out"

# ------------------------------------------------------------ second lab

# A second, independent lab in a private network namespace (only lo,
# down at first), as the benchmarks run it: up, answers, poisoned
# lookups inside, a failed start cleans up, down leaves no process.
S2="$PD_TMP/lab2"
cat >"$PD_TMP/netns.sh" <<'EOF'
set -u
LAB=$1 POISONED=$2 S2=$3 BUILD=$4
export BUILD
t0=$(date +%s%N)
"$LAB" up "$S2" 2>"$S2.up.log" || { echo "UP-FAILED"; cat "$S2.up.log"; exit 1; }
echo "UP-MS $((($(date +%s%N) - t0) / 1000000))"
. "$S2/lab.env"
echo "KDIG $(kdig @127.0.0.1 -p "$LAB_GOOD_PORT" +tls-ca="$LAB_CA" \
	+tls-hostname=dot.lab.test +time=2 +retry=0 +short \
	dynamodb.us-east-1.amazonaws.com A 2>&1 | tr '\n' ' ')"
echo "POISONED $("$POISONED" "$S2" -- getent hosts \
	dynamodb.us-east-1.amazonaws.com | awk '{ print $1 }')"
echo "PIDS $(cut -d' ' -f1 "$S2"/run/*.pid | tr '\n' ' ')"
# A start that cannot get its port must fail and leave nothing behind.
"$LAB" stop "$S2" good2 2>/dev/null
"$BUILD/tools/lab_hung" 127.0.0.1 "$LAB_GOOD2_PORT" 2>/dev/null &
squat=$!
sleep 0.3
"$LAB" start "$S2" good2 >/dev/null 2>&1
echo "START-RC $?"
echo "GOOD2 $("$LAB" status "$S2" | awk '$1 == "good2" { print $3 }')"
kill "$squat"
"$LAB" down "$S2" 2>/dev/null
echo "DOWN-RC $?"
EOF
mkdir -p "$S2"
pd_cleanup "\"$LAB\" down \"$S2\""
out=$(timeout 90 unshare -m -n -- bash "$PD_TMP/netns.sh" "$LAB" "$POISONED" \
	"$S2" "$BUILD" 2>&1)
check_match "second lab in unshare -n: up" '^UP-MS [0-9]+' "$out"
upms=$(sed -n 's/^UP-MS //p' <<<"$out")
if [ -n "$upms" ] && [ "$upms" -lt 20000 ]; then
	ok "second lab up, keys generated from nothing, in ${upms} ms"
else
	not_ok "second lab up in under 20 s (10 s target)" "got: '${upms}' ms" "$out"
fi
check_match "second lab: good answers 127.0.10.1 over TLS" '^KDIG 127\.0\.10\.1 $' "$out"
check_match "second lab: poisoned getent inside the namespace" \
	'^POISONED 127\.0\.66\.6$' "$out"
check_match "second lab: start on a taken port fails" '^START-RC [1-9]' "$out"
check_match "second lab: the failed start left good2 down" '^GOOD2 down$' "$out"
check_match "second lab: down succeeds" '^DOWN-RC 0$' "$out"
left=""
for p in $(sed -n 's/^PIDS //p' <<<"$out"); do
	s=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)
	[ -n "$s" ] && [ "$s" != Z ] && left="$left $p"
done
check_eq "second lab: down left none of its processes running" "" "$left"
n2=$(sed -n 's/^LAB_GOOD_PORT=//p' "$S2/lab.env" 2>/dev/null)
check_eq "second lab: down removed its lab.env" "" "$n2"
"$LAB" status "$LAB_STATE" | grep -q '^good .* pid ' &&
	ok "the first lab is still up after the second went down" ||
	not_ok "the first lab is still up after the second went down"
