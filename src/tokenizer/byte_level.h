// GPT-2's byte-level alphabet (`bytes_to_unicode`): every byte has a printable stand-in character, so BPE
// over these characters can represent any byte string. Printable Latin-1 bytes map to themselves; the 68
// others map, in byte order, to U+0100, U+0101, ... (space -> 'Ġ' U+0120, '\n' -> 'Ċ' U+010A).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace podserve::tokenizer_internal {

/// Appends the byte-level spelling of `bytes` (each byte becomes one 1- or 2-byte UTF-8 character).
void bytes_to_byte_level(std::string_view bytes, std::string* out);

/// Appends the bytes that byte-level `text` stands for. Characters outside the alphabet (e.g. in added
/// tokens) are kept as their own UTF-8 bytes, as HF's ByteLevel decoder does; invalid UTF-8 is copied as is.
void byte_level_to_bytes(std::string_view text, std::string* out);

}  // namespace podserve::tokenizer_internal

namespace podserve::tokenizer_internal {

/// HF's ByteLevel decoder for one token: if every character is in the byte-level alphabet, appends the
/// bytes they stand for; otherwise appends the token's own UTF-8 unchanged (e.g. most added tokens).
void byte_level_token_to_bytes(std::string_view token, std::string* out);

}  // namespace podserve::tokenizer_internal
