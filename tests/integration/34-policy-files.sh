#!/usr/bin/env bash
# The files a signed policy names (issue 12, item 2): the signature
# covers the policy's bytes, the CA file and the trust anchors sit beside
# it, where whoever edits the directory (a ConfigMap) can swap them.
#  - a policy signed without a sha256 per named file (as `pindns sign`
#    made them before) is refused; `pindns sign` refuses it and prints
#    the lines to write; the swap that used to work no longer does;
#  - pinned: the lab's MITM upstream (certificate from another CA) is
#    refused; `cp mitm-ca.pem ca.pem` makes verify say not valid and the
#    policy refused, never the MITM's forged answer;
#  - pinned anchor: the lab's `insecure` upstream (amazonaws.com unsigned
#    under a signed lab root) is bogus under the zone's DS; swapping the
#    root DS in makes the policy refused, never the answer accepted.
# tags: lab
# timeout: 120
. "$(dirname "$0")/../lib.sh"
require openssl xxd base64 sha256sum
lab_env
PD="$BUILD/pindns"
N=dynamodb.us-east-1.amazonaws.com
D="$PD_TMP/cm"		# the policy's directory: what a ConfigMap editor writes
mkdir -p "$D"
cd "$D" || exit 1
"$PD" keygen k >/dev/null
export PINDNS_PUBKEY="$D/k.pub"
unset PINDNS_POLICY PINDNS_LOG

# legacy_sign POLICY: a .sig over POLICY's bytes with k.key, made with
# OpenSSL (Ed25519 is deterministic: the same bytes `pindns sign` wrote
# before it required a sha256 per named file).
legacy_sign() {
	local raw
	raw=$(sed -n 2p k.key | base64 -d | xxd -p -c 200)
	{ printf '302e020100300506032b657004220420%s' "${raw:20:64}"; } |
		xxd -r -p >k.der
	openssl pkeyutl -sign -inkey k.der -keyform DER -rawin -in "$1" \
		-out sig.bin || return 1
	{
		echo "untrusted comment: signed before sha256 pins"
		{ printf 'Ed'; printf '%s' "${raw:4:16}" | xxd -r -p;
			cat sig.bin; } | base64 -w0
		echo
	} >"$1.sig"
	rm -f k.der sig.bin
}
# q POLICY: pindns query, output in $out, exit status in $rc.
q() { out=$("$PD" query -p "$1" "$N" 2>&1); rc=$?; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# policy OUT PORT CA ANCHOR DNSSEC PINS: CA and ANCHOR are YAML values.
policy() {
	cat >"$1" <<-EOF
	version: 1
	upstream_recursive_servers:
	  - address_data: 127.0.0.1
	    tls_port: $2
	    tls_auth_name: $LAB_AUTH_NAME
	tls_ca_file: $3
	dnssec_trust_anchors: [$4]
	log: {target: stderr, level: all}
	rules:
	  - name: dynamodb
	    match: [dynamodb.*.amazonaws.com]
	    action: secure
	    dnssec: $5
	    pin: [$6]
	EOF
}
fresh() { cp "$LAB_CA" ca.pem; cp "$LAB_TA_DS" ta.ds; }

# ------------------------------------------------------------ unpinned

fresh
policy mitm.yaml "$LAB_MITM_PORT" ca.pem ta.ds off 127.0.0.0/8
out=$("$PD" sign -k k.key mitm.yaml 2>&1)
check_eq "sign refuses a policy naming files without sha256" 1 $?
check_match "and prints the lines to write, with each file's sha256" \
	"mitm\.yaml:6:14: tls_ca_file: \{path: ca\.pem, sha256: $(sha ca.pem)\}.*mitm\.yaml:7:24: dnssec_trust_anchors entry: \{path: ta\.ds, sha256: $(sha ta.ds)\}" \
	"$(tr '\n' ' ' <<<"$out")"
check_eq "no .sig written" absent "$([ -e mitm.yaml.sig ] && echo present || echo absent)"

legacy_sign mitm.yaml || not_ok "legacy signature made"
out=$("$PD" verify -k k.pub mitm.yaml 2>&1)
check_eq "signed without sha256s: verify says not valid" 1 $?
check_match "verify names the line" "mitm\.yaml:6:14: tls_ca_file: ca\.pem has no sha256" "$out"
out=$("$PD" check mitm.yaml 2>&1)
check_eq "signed without sha256s: check refuses" 1 $?
cp "$LAB_MITM_CA" ca.pem
q mitm.yaml
check_eq "CA swapped beside it: the policy does not load (query exit 1)" 1 "$rc"
check_match "saying the named file has no sha256" 'ca\.pem has no sha256' "$out"
check_nomatch "never the MITM's forged address" '127\.0\.66\.6' "$out"

fresh
policy ins.yaml "$LAB_INSECURE_PORT" ca.pem ta.ds validate "$LAB_PINS"
legacy_sign ins.yaml || not_ok "legacy signature made"
cp "$LAB_TA_ROOT" ta.ds
q ins.yaml
check_eq "anchor swapped beside it: the policy does not load (query exit 1)" 1 "$rc"
check_match "saying a named file has no sha256, never accepted as insecure" \
	'has no sha256' "$out"

# ------------------------------------------------------------ pinned CA

fresh
policy mitm.yaml "$LAB_MITM_PORT" "{path: ca.pem, sha256: $(sha ca.pem)}" \
	"{path: ta.ds, sha256: $(sha ta.ds)}" off 127.0.0.0/8
check "pinned: sign" "$PD" sign -k k.key mitm.yaml
out=$("$PD" verify -k k.pub mitm.yaml 2>&1)
check_match "pinned: verify says valid" "signature valid" "$out"
out=$("$PD" check mitm.yaml 2>&1)
check_match "check shows the CA's sha256, pinned" "sha256 $(sha ca.pem), pinned" "$out"
q mitm.yaml
check_eq "pinned: the MITM upstream (another CA) is refused (exit 2)" 2 "$rc"
check_match "as tls-auth" 'refused \(tls-auth\)' "$out"

cp "$LAB_MITM_CA" ca.pem	# the review's reproduction
out=$("$PD" verify -k k.pub mitm.yaml 2>&1)
check_eq "CA swapped: verify says not valid" 1 $?
check_match "verify says why" "mitm\.yaml:6:21: tls_ca_file: .*ca\.pem: content does not match the sha256" "$out"
out=$("$PD" check mitm.yaml 2>&1)
check_eq "CA swapped: check refuses" 1 $?
q mitm.yaml
check_eq "CA swapped: the policy does not load (query exit 1)" 1 "$rc"
check_match "saying the CA file does not match its sha256" \
	'ca\.pem: content does not match the sha256' "$out"
check_nomatch "never the MITM's forged address" '127\.0\.66\.6' "$out"

# ------------------------------------------------------------ pinned anchor

fresh
policy ins.yaml "$LAB_INSECURE_PORT" "{path: ca.pem, sha256: $(sha ca.pem)}" \
	"{path: ta.ds, sha256: $(sha ta.ds)}" validate "$LAB_PINS"
check "anchor pinned: sign" "$PD" sign -k k.key ins.yaml
q ins.yaml
check_eq "unsigned zone under the zone's DS: refused (exit 2)" 2 "$rc"
check_match "as bogus" 'refused \(bogus\)' "$out"
cp "$LAB_TA_ROOT" ta.ds		# trust the lab root instead
out=$("$PD" verify -k k.pub ins.yaml 2>&1)
check_eq "anchor swapped: verify says not valid" 1 $?
check_match "verify says why" "ins\.yaml:7:31: trust anchor .*ta\.ds: content does not match the sha256" "$out"
q ins.yaml
check_eq "anchor swapped: the policy does not load (query exit 1)" 1 "$rc"
check_match "saying the anchor does not match its sha256, never accepted as insecure" \
	'content does not match the sha256' "$out"
