#!/usr/bin/env bash
# Installs every Debian (and npm) dependency ragtune needs to build, test and benchmark.
# Idempotent and quick when everything is present. As root it runs apt-get; otherwise it prints
# the exact command to run and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libopenblas-dev libutf8proc-dev libpcre2-dev libjansson-dev libsqlite3-dev sqlite3
  libstemmer-dev libmicrohttpd-dev libcurl4-openssl-dev libcmocka-dev
  python3 python3-torch python3-numpy python3-hnswlib python3-faiss
  nodejs npm dict-foldoc dict-gcide dict-jargon wordnet-base time bc perl
  openmpi-bin libopenmpi-dev chromium
  libhnswlib-dev libxapian-dev  # C++ bench peers: hnswlib built -march=native, Xapian BM25
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # nodejs/npm may come from elsewhere (e.g. a preinstalled node); accept a working binary.
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 && continue ;;
      npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "install-deps: missing Debian packages. Run as root:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# npm packages (test references only), pinned in tests/npm/package.json.
if [ -f tests/npm/package.json ]; then
  if [ ! -d tests/npm/node_modules ] || [ tests/npm/package.json -nt tests/npm/node_modules ]; then
    echo "install-deps: npm install (tests/npm)"
    (cd tests/npm && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    touch tests/npm/node_modules
  fi
fi
