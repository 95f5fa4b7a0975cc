# Third-party dependencies, all from Debian packages installed by scripts/setup.
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED COMPONENTS json CONFIG)
if(PODSERVE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# Oniguruma: the regex engine HF tokenizers uses (pre-tokenizer patterns need \p{L}, lookahead, (?i:...)).
find_package(PkgConfig REQUIRED)
pkg_check_modules(ONIG REQUIRED IMPORTED_TARGET oniguruma)
# ICU: Unicode normalization (NFC/NFKC...) for tokenizer.json normalizers (Qwen2/3 use NFC).
find_package(ICU REQUIRED COMPONENTS uc)
# xxHash: XXH3-128 chains the prefix-cache block hashes (fast, 128-bit so collisions are negligible).
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
