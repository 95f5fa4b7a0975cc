#include "tokenizer/bpe.h"

#include <algorithm>
#include <mutex>
#include <queue>

#include "tokenizer/utf8.h"

namespace podserve::tokenizer_internal {
namespace {

constexpr size_t kMaxCachedWordBytes = 64;
constexpr size_t kMaxCachedWords = 1 << 16;  // bounds memory; the cache starts over when full

struct Symbol {
  int32_t id;    // -1 once merged into its left neighbour
  int32_t prev;  // index of the previous live symbol, -1 at the start
  int32_t next;  // index of the next live symbol, -1 at the end
};

struct Candidate {
  uint32_t rank;
  int32_t pos;  // index of the left symbol
  int32_t new_id;
  // priority_queue pops the greatest element: make that the lowest rank, then the leftmost position.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

Result<BpeModel> BpeModel::create(const std::vector<std::string>& tokens, const std::vector<Merge>& merges,
                                  const Options& options) {
  BpeModel m;
  m.options_ = options;
  size_t bytes = 0;
  for (const std::string& t : tokens) bytes += t.size();
  if (bytes >= (size_t{1} << 32)) return invalid_argument("the vocabulary's spellings exceed 4 GiB");
  m.vocab_ = TokenIndex(tokens);
  m.merges_.reserve(merges.size());
  // In batches: hash and prefetch every lookup of the batch first, so that their cache misses overlap.
  constexpr size_t kBatch = 16;
  std::string joined[kBatch];
  uint64_t hashes[kBatch][3];
  int32_t ids[kBatch][3];
  for (size_t begin = 0; begin < merges.size(); begin += kBatch) {
    const size_t n = std::min(kBatch, merges.size() - begin);
    for (size_t i = 0; i < n; ++i) {
      const auto& [left, right] = merges[begin + i];
      joined[i].assign(left).append(right);
      hashes[i][0] = hash_bytes(left);
      hashes[i][1] = hash_bytes(right);
      hashes[i][2] = hash_bytes(joined[i]);
      for (uint64_t h : hashes[i]) m.vocab_.prefetch(h);
    }
    for (size_t i = 0; i < n; ++i) {
      const size_t rank = begin + i;
      const auto& [left, right] = merges[rank];
      ids[i][0] = m.vocab_.find(left, hashes[i][0]);
      ids[i][1] = m.vocab_.find(right, hashes[i][1]);
      ids[i][2] = m.vocab_.find(joined[i], hashes[i][2]);
      if (ids[i][0] < 0 || ids[i][1] < 0 || ids[i][2] < 0) {
        return invalid_argument("merge " + std::to_string(rank) + " '" + left + " " + right +
                                "' uses a token that is not in the vocabulary");
      }
      m.merges_.prefetch(ids[i][0], ids[i][1]);
    }
    // A repeated pair keeps its last rank, as HF builds its merge map.
    for (size_t i = 0; i < n; ++i) {
      m.merges_.insert_or_assign(ids[i][0], ids[i][1], MergeTarget{static_cast<uint32_t>(begin + i), ids[i][2]});
    }
  }
  if (options.byte_fallback) {
    m.byte_ids_.assign(256, -1);
    static const char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const std::string name = std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
      m.byte_ids_[b] = m.find(name);
    }
  }
  return m;
}

std::vector<BpeModel::Merge> BpeModel::merges_from_scores(const std::vector<std::string>& tokens,
                                                          const std::vector<float>& scores,
                                                          const std::vector<bool>& mergeable) {
  std::unordered_map<std::string_view, int32_t> ids;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (mergeable[i] && !tokens[i].empty()) ids.emplace(tokens[i], static_cast<int32_t>(i));
  }
  struct Ranked {
    float score;
    int32_t merged, left, right;
    size_t split;
  };
  std::vector<Ranked> ranked;
  for (const auto& [text, id] : ids) {
    for (size_t split = 1; split < text.size(); ++split) {
      if ((static_cast<uint8_t>(text[split]) & 0xC0) == 0x80) continue;  // not a character boundary
      const auto l = ids.find(text.substr(0, split));
      if (l == ids.end()) continue;
      const auto r = ids.find(text.substr(split));
      if (r == ids.end()) continue;
      ranked.push_back({scores[id], id, l->second, r->second, split});
    }
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& x, const Ranked& y) {
    if (x.score != y.score) return x.score > y.score;
    if (x.merged != y.merged) return x.merged < y.merged;
    if (x.left != y.left) return x.left < y.left;
    return x.right < y.right;
  });
  std::vector<Merge> merges;
  merges.reserve(ranked.size());
  for (const Ranked& r : ranked) {
    const std::string& text = tokens[r.merged];
    merges.emplace_back(text.substr(0, r.split), text.substr(r.split));
  }
  return merges;
}

int32_t BpeModel::find(std::string_view text) const { return vocab_.find(text); }

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (word.size() > kMaxCachedWordBytes) {
    merge_word(word, out);
    return;
  }
  {
    std::shared_lock lock(cache_->mutex);
    const auto it = cache_->words.find(word);
    if (it != cache_->words.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out->size();
  merge_word(word, out);
  std::unique_lock lock(cache_->mutex);
  if (cache_->words.size() >= kMaxCachedWords) cache_->words.clear();
  cache_->words.emplace(word, std::vector<int32_t>(out->begin() + static_cast<ptrdiff_t>(first), out->end()));
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>* out) const {
  if (options_.ignore_merges) {
    const int32_t whole = find(word);
    if (whole >= 0) {
      out->push_back(whole);
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  const auto add = [&symbols](int32_t id) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1});
  };
  bool unk_pending = false;  // fuse_unk: consecutive unknown characters become one unk
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = std::max<size_t>(utf8_valid_length(word, pos), 1);
    const std::string_view ch = word.substr(pos, len);
    pos += len;
    const int32_t id = find(ch);
    if (id >= 0) {
      add(id);
      unk_pending = false;
      continue;
    }
    if (options_.byte_fallback &&
        std::all_of(ch.begin(), ch.end(), [this](char c) { return byte_ids_[static_cast<uint8_t>(c)] >= 0; })) {
      for (char c : ch) add(byte_ids_[static_cast<uint8_t>(c)]);
      unk_pending = false;
      continue;
    }
    if (options_.unk_id < 0) continue;  // no unk token: the character is dropped (HF BPE without unk_token)
    if (!(unk_pending && options_.fuse_unk)) add(options_.unk_id);
    unk_pending = true;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Candidate> queue;
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) {
    if (const MergeTarget* t = find_merge(symbols[i].id, symbols[i + 1].id)) queue.push({t->rank, i, t->id});
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.id < 0 || left.next < 0) continue;  // stale: merged away or now last
    Symbol& right = symbols[left.next];
    const MergeTarget* t = find_merge(left.id, right.id);
    if (t == nullptr || t->id != top.new_id) continue;  // stale: a neighbour changed since it was queued
    left.id = top.new_id;
    right.id = -1;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) {
      if (const MergeTarget* p = find_merge(symbols[left.prev].id, left.id)) queue.push({p->rank, left.prev, p->id});
    }
    if (left.next >= 0) {
      if (const MergeTarget* n = find_merge(left.id, symbols[left.next].id)) queue.push({n->rank, top.pos, n->id});
    }
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out->push_back(symbols[i].id);
}

}  // namespace podserve::tokenizer_internal
