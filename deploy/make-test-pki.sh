#!/usr/bin/env bash
# A CA, a broker certificate and client certificates for a TEST setup (use your organisation's PKI
# in production). Needs only openssl.
#
#   deploy/make-test-pki.sh OUT_DIR BROKER_HOST [CLIENT_NAME ...]
#   deploy/make-test-pki.sh /etc/mosquitto/certs mqtt.district.example hub school-001-gw-01
#
# Writes ca.crt/ca.key, server.crt/server.key (for BROKER_HOST, as DNS name or IP), and
# <client>.crt/<client>.key for each client name. mosquitto.conf (deploy/) reads ca.crt,
# server.crt and server.key; the hub and agents use ca.crt as mqtt.ca_file and, if the broker
# requires client certificates (require_certificate true), their own .crt/.key as cert_file/key_file.
set -euo pipefail
out=${1:?usage: make-test-pki.sh OUT_DIR BROKER_HOST [CLIENT_NAME ...]}
host=${2:?usage: make-test-pki.sh OUT_DIR BROKER_HOST [CLIENT_NAME ...]}
shift 2
mkdir -p "$out"
cd "$out"
days=825
if [[ $host =~ ^[0-9.]+$ ]]; then san="IP:$host"; else san="DNS:$host"; fi

openssl req -x509 -newkey rsa:3072 -nodes -days "$days" -subj "/CN=CampusGuard test CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$host" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile server.ext -out server.crt 2>/dev/null
for client in "$@"; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$client" -keyout "$client.key" -out "$client.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > "$client.ext"
    openssl x509 -req -in "$client.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
        -extfile "$client.ext" -out "$client.crt" 2>/dev/null
    rm -f "$client.csr" "$client.ext"
done
rm -f server.csr server.ext ca.srl
chmod 600 ./*.key
echo "test PKI in $out: ca.crt, server.crt/.key for $host${*:+, clients: $*}"
