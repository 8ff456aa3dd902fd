#!/usr/bin/env bash
# Regenerates the committed test data under crates/cfsign/tests/data/.
#
# This script is run BY HAND, ONCE, and its outputs are committed. It is never
# run by tests or by the build: tests only read the committed files.
#
# Requirements: bash, coreutils, OpenSSL CLI 3.x (written against 3.0).
# The inputs (policy messages) are fixed, but every key is freshly random on
# each run, so re-running changes all keys and all signatures. The point of
# this file is to document exactly how each fixture was made.
#
# Usage: ./generate.sh   (it cd's into its own folder first)
set -euo pipefail

cd "$(dirname "$0")"
mkdir -p keys kat

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# CloudFront's URL-safe base64: standard base64, then '+'->'-', '='->'_', '/'->'~'.
cf_b64() { openssl base64 -A | tr -d '\n' | tr -- '+=/' '-_~'; }
cf_unb64() { tr -- '-_~' '+=/' | openssl base64 -d -A; }

########################################################################
# keys/
########################################################################
K=keys

# --- RSA 2048 (primary) ---
openssl genrsa -traditional -out $K/rsa2048.pkcs1.pem 2048                 # BEGIN RSA PRIVATE KEY
openssl pkcs8 -topk8 -nocrypt -in $K/rsa2048.pkcs1.pem -out $K/rsa2048.pkcs8.pem   # BEGIN PRIVATE KEY
# NB: OpenSSL 3 `rsa -outform DER` writes PKCS#8 unless -traditional is given.
openssl rsa -in $K/rsa2048.pkcs1.pem -traditional -outform DER -out $K/rsa2048.pkcs1.der
openssl pkcs8 -topk8 -nocrypt -in $K/rsa2048.pkcs1.pem -outform DER -out $K/rsa2048.pkcs8.der
openssl rsa -in $K/rsa2048.pkcs1.pem -pubout -out $K/rsa2048.pub.pem       # BEGIN PUBLIC KEY (SPKI)
openssl rsa -in $K/rsa2048.pkcs1.pem -pubout -outform DER -out $K/rsa2048.pub.der
openssl rsa -in $K/rsa2048.pkcs1.pem -RSAPublicKey_out -out $K/rsa2048.pkcs1-pub.pem  # BEGIN RSA PUBLIC KEY

# --- EC P-256 (primary) ---
openssl ecparam -name prime256v1 -genkey -noout -out $K/ec-p256.sec1.pem   # BEGIN EC PRIVATE KEY
openssl pkcs8 -topk8 -nocrypt -in $K/ec-p256.sec1.pem -out $K/ec-p256.pkcs8.pem
openssl ec -in $K/ec-p256.sec1.pem -outform DER -out $K/ec-p256.sec1.der   # SEC1 DER (ECPrivateKey)
openssl pkcs8 -topk8 -nocrypt -in $K/ec-p256.sec1.pem -outform DER -out $K/ec-p256.pkcs8.der
openssl ec -in $K/ec-p256.sec1.pem -pubout -out $K/ec-p256.pub.pem         # BEGIN PUBLIC KEY (SPKI)
openssl ec -in $K/ec-p256.sec1.pem -pubout -outform DER -out $K/ec-p256.pub.der

# --- Second, independent pairs ("wrong key" tests) ---
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $K/rsa2048-b.pkcs8.pem
openssl pkey -in $K/rsa2048-b.pkcs8.pem -pubout -out $K/rsa2048-b.pub.pem
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/ec-b.sec1.pem"
openssl pkcs8 -topk8 -nocrypt -in "$TMP/ec-b.sec1.pem" -out $K/ec-p256-b.pkcs8.pem
openssl pkey -in $K/ec-p256-b.pkcs8.pem -pubout -out $K/ec-p256-b.pub.pem

# --- Negative cases ---
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out $K/rsa1024.pkcs8.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out $K/rsa3072.pkcs8.pem
openssl genrsa -traditional -out $K/rsa4096.pkcs1.pem 4096
openssl ecparam -name secp384r1 -genkey -noout -out $K/ec-p384.sec1.pem
openssl pkcs8 -topk8 -nocrypt -in $K/ec-p384.sec1.pem -out $K/ec-p384.pkcs8.pem
openssl ecparam -name secp256k1 -genkey -noout -out $K/ec-secp256k1.sec1.pem
openssl genpkey -algorithm ed25519 -out $K/ed25519.pkcs8.pem
# Encrypted keys, password "test".
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:test \
  -in $K/rsa2048.pkcs1.pem -out $K/rsa2048.encrypted-pkcs8.pem             # BEGIN ENCRYPTED PRIVATE KEY
openssl rsa -in $K/rsa2048.pkcs1.pem -traditional -aes256 -passout pass:test \
  -out $K/rsa2048.encrypted-pkcs1.pem                                       # Proc-Type/DEK-Info headers
openssl ec -in $K/ec-p256.sec1.pem -aes256 -passout pass:test \
  -out $K/ec-p256.encrypted-sec1.pem                                        # Proc-Type/DEK-Info headers
: > $K/empty.pem
openssl req -x509 -new -key $K/rsa2048.pkcs1.pem -sha256 -subj /CN=test -days 3650 \
  -out $K/certificate.pem

# OpenSSL creates private-key files 0600; keep all fixtures 0644 for git.
chmod 0644 $K/*.pem $K/*.der

# Sanity checks on the PEM labels / encodings.
check_label() { # file expected-first-line
  local got; got="$(head -n1 "$1")"
  [[ "$got" == "$2" ]] || { echo "label mismatch in $1: $got" >&2; exit 1; }
}
check_label $K/rsa2048.pkcs1.pem           '-----BEGIN RSA PRIVATE KEY-----'
check_label $K/rsa2048.pkcs8.pem           '-----BEGIN PRIVATE KEY-----'
check_label $K/rsa2048.pub.pem             '-----BEGIN PUBLIC KEY-----'
check_label $K/rsa2048.pkcs1-pub.pem       '-----BEGIN RSA PUBLIC KEY-----'
check_label $K/ec-p256.sec1.pem            '-----BEGIN EC PRIVATE KEY-----'
check_label $K/ec-p256.pkcs8.pem           '-----BEGIN PRIVATE KEY-----'
check_label $K/ec-p256.pub.pem             '-----BEGIN PUBLIC KEY-----'
check_label $K/rsa4096.pkcs1.pem           '-----BEGIN RSA PRIVATE KEY-----'
check_label $K/ec-p384.sec1.pem            '-----BEGIN EC PRIVATE KEY-----'
check_label $K/ec-secp256k1.sec1.pem       '-----BEGIN EC PRIVATE KEY-----'
check_label $K/rsa2048.encrypted-pkcs8.pem '-----BEGIN ENCRYPTED PRIVATE KEY-----'
check_label $K/rsa2048.encrypted-pkcs1.pem '-----BEGIN RSA PRIVATE KEY-----'
check_label $K/ec-p256.encrypted-sec1.pem  '-----BEGIN EC PRIVATE KEY-----'
check_label $K/certificate.pem             '-----BEGIN CERTIFICATE-----'
grep -q '^Proc-Type: 4,ENCRYPTED$' $K/rsa2048.encrypted-pkcs1.pem
grep -q '^Proc-Type: 4,ENCRYPTED$' $K/ec-p256.encrypted-sec1.pem
# DER files must be the same key as their PEM twins.
cmp <(openssl rsa -in $K/rsa2048.pkcs1.pem -traditional -outform DER) $K/rsa2048.pkcs1.der
cmp <(openssl pkcs8 -topk8 -nocrypt -in $K/rsa2048.pkcs8.pem -outform DER) $K/rsa2048.pkcs8.der
cmp <(openssl pkey -pubin -in $K/rsa2048.pub.pem -outform DER) $K/rsa2048.pub.der
cmp <(openssl rsa -RSAPublicKey_in -in $K/rsa2048.pkcs1-pub.pem -pubout) $K/rsa2048.pub.pem
cmp <(openssl ec -in $K/ec-p256.sec1.pem -outform DER) $K/ec-p256.sec1.der
cmp <(openssl pkey -in $K/ec-p256.pkcs8.pem -pubout -outform DER) $K/ec-p256.pub.der
cmp <(openssl pkey -inform DER -in $K/ec-p256.pkcs8.der -pubout) $K/ec-p256.pub.pem

########################################################################
# kat/
########################################################################
D=kat

# Policy messages: exact bytes, no trailing newline.
printf '%s' '{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/images/image.jpg?color=red&size=medium","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}' > $D/canned.json
printf '%s' '{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/videos/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"},"DateGreaterThan":{"AWS:EpochTime":1767200000}}}]}' > $D/custom.json

for msg in canned custom; do
  for h in sha1 sha256; do
    # RSA PKCS#1 v1.5: deterministic, so these are true known answers.
    sig="$(openssl dgst -"$h" -sign $K/rsa2048.pkcs1.pem $D/$msg.json | cf_b64)"
    # Same key in PKCS#8 form must give the identical signature.
    [[ "$sig" == "$(openssl dgst -"$h" -sign $K/rsa2048.pkcs8.pem $D/$msg.json | cf_b64)" ]]
    printf '%s' "$sig" | cf_unb64 > "$TMP/sig.bin"
    openssl dgst -"$h" -verify $K/rsa2048.pub.pem -signature "$TMP/sig.bin" $D/$msg.json >/dev/null
    printf '%s' "$sig" > $D/$msg.rsa2048.$h.sig

    # ECDSA P-256: randomised; DER-encoded (r,s). Verified before writing.
    sig="$(openssl dgst -"$h" -sign $K/ec-p256.sec1.pem $D/$msg.json | cf_b64)"
    printf '%s' "$sig" | cf_unb64 > "$TMP/sig.bin"
    openssl dgst -"$h" -verify $K/ec-p256.pub.pem -signature "$TMP/sig.bin" $D/$msg.json >/dev/null
    printf '%s' "$sig" > $D/$msg.ec-p256.$h.sig
  done
done

# Independent vector from the AWS SDK for Ruby (aws/aws-sdk-ruby,
# gems/aws-sdk-cloudfront/spec/url_signer_spec.rb, "can generate signed urls
# with canned policy"). kat/ruby-sdk-dummy-1024.pem is the SDK's 1024-bit
# dummy test key, copied verbatim (it is NOT generated here). We re-derive the
# signatures with OpenSSL and refuse to write them unless they match.
printf '%s' '{"Statement":[{"Resource":"https://abc.cloudfront.net/images/image.jpg?color=red","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}' > $D/ruby-canned.json
ruby_sha1='GvrDx3aAG1u1sAQF68c~xD6LVORt36mRTvC2u5RwLjsvusXI0sJPxy3D0R8AQp4qFZlRehwh~mablw8DBNRFLQ81mazmbrUOhXbuepav5ZmCU-KgOmXtpMS49L7TLGUSfwSksDx1qriAtB4mS4iJaNt2mfo0C5G-vlt9qMftkJg_'
ruby_sha256='oPk~VLCzHBE1wUEdYpCNcdDtKXC7hjYSPjiCTrVBd8fbsXigqKUIZDMEmfxEzDwnbqjTwN5u4tYg7UyrPTEw-lnn1KrFp~jZGlVJVSTixMdPJL-2e86iBGG2UGzUW-CjJJaF3HINHqGrh8uccV143iEtBnuxtowQ-6M~2RKLiS8_'
got1="$(openssl dgst -sha1 -sign $D/ruby-sdk-dummy-1024.pem $D/ruby-canned.json | cf_b64)"
got256="$(openssl dgst -sha256 -sign $D/ruby-sdk-dummy-1024.pem $D/ruby-canned.json | cf_b64)"
[[ "$got1" == "$ruby_sha1" ]] || { echo "Ruby SHA-1 vector NOT reproduced" >&2; exit 1; }
[[ "$got256" == "$ruby_sha256" ]] || { echo "Ruby SHA-256 vector NOT reproduced" >&2; exit 1; }
printf '%s' "$got1" > $D/ruby-canned.sha1.sig
printf '%s' "$got256" > $D/ruby-canned.sha256.sig

chmod 0644 $D/*
echo "OK: test data regenerated."
