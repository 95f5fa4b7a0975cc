#include "tokenizer/tokenizer_json_sax.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

namespace podserve::tokenizer_internal {
namespace {

namespace json = boost::json;

// Boost.JSON's parser handler (what json::parse uses, forwarding to a value_stack), except inside the two
// tables, whose events it keeps itself.
class Handler {
 public:
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  Handler(json::storage_ptr sp, BpeTables* tables) : tables_(tables) { stack_.reset(std::move(sp)); }

  json::value release() { return stack_.release(); }
  const std::string& error() const { return error_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }

  bool on_object_begin(json::error_code& ec) {
    if (table_ != Table::kNone) return fail(ec);
    if (pending_ == Table::kVocab) {
      table_ = Table::kVocab;
      tables_->has_vocab = true;
      return true;
    }
    pending_ = Table::kNone;
    ++depth_;
    if (depth_ == 2 && last_top_key_ == "model") model_depth_ = 2;
    return true;
  }
  bool on_object_end(size_t n, json::error_code&) {
    if (table_ == Table::kVocab) {
      table_ = Table::kNone;
      stack_.push_null();
      return true;
    }
    if (depth_ == model_depth_) model_depth_ = -1;
    --depth_;
    stack_.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code& ec) {
    if (table_ == Table::kMerges && !in_pair_) {
      in_pair_ = true;
      pair_.clear();
      return true;
    }
    if (table_ != Table::kNone) return fail(ec);
    if (pending_ == Table::kMerges) {
      table_ = Table::kMerges;
      tables_->has_merges = true;
      return true;
    }
    pending_ = Table::kNone;
    ++depth_;
    return true;
  }
  bool on_array_end(size_t n, json::error_code& ec) {
    if (table_ == Table::kMerges) {
      if (in_pair_) {
        in_pair_ = false;
        if (pair_.size() != 2) return fail(ec);
        tables_->merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
        return true;
      }
      table_ = Table::kNone;
      stack_.push_null();
      return true;
    }
    --depth_;
    stack_.push_array(n);
    return true;
  }

  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    text_.append(s.data(), s.size());
    if (table_ == Table::kNone) stack_.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, size_t, json::error_code&) {
    text_.append(s.data(), s.size());
    if (table_ == Table::kVocab) {
      key_ = std::move(text_);
      text_.clear();
      return true;
    }
    stack_.push_key(s);
    if (depth_ == 1) last_top_key_ = text_;
    pending_ = depth_ == model_depth_ && text_ == "vocab"    ? Table::kVocab
               : depth_ == model_depth_ && text_ == "merges" ? Table::kMerges
                                                             : Table::kNone;
    text_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    if (table_ == Table::kNone) {
      stack_.push_chars(s);
    } else {
      text_.append(s.data(), s.size());
    }
    return true;
  }
  bool on_string(json::string_view s, size_t, json::error_code& ec) {
    if (table_ == Table::kNone) {
      pending_ = Table::kNone;
      stack_.push_string(s);
      return true;
    }
    text_.append(s.data(), s.size());
    if (table_ == Table::kVocab) return fail_vocab(ec);
    if (in_pair_) {
      pair_.push_back(std::move(text_));
      text_.clear();
      return true;
    }
    const bool ok = add_legacy_merge(text_);
    text_.clear();
    return ok || fail(ec);
  }
  bool on_int64(int64_t i, json::string_view, json::error_code& ec) {
    if (table_ == Table::kVocab) {
      if (i < 0) return fail_vocab(ec);
      tables_->vocab.emplace_back(std::move(key_), i);
      return true;
    }
    if (table_ != Table::kNone) return fail(ec);
    pending_ = Table::kNone;
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code& ec) {
    if (table_ != Table::kNone) return table_ == Table::kVocab ? fail_vocab(ec) : fail(ec);
    pending_ = Table::kNone;
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code& ec) {
    if (table_ != Table::kNone) return table_ == Table::kVocab ? fail_vocab(ec) : fail(ec);
    pending_ = Table::kNone;
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code& ec) {
    if (table_ != Table::kNone) return fail(ec);
    pending_ = Table::kNone;
    stack_.push_bool(b);
    return true;
  }
  bool on_null(json::error_code& ec) {
    if (table_ != Table::kNone) return fail(ec);
    pending_ = Table::kNone;
    stack_.push_null();
    return true;
  }

 private:
  enum class Table { kNone, kVocab, kMerges };

  // Legacy "a b" (exactly one space); "#version ..." lines of old merges.txt are skipped.
  bool add_legacy_merge(std::string_view s) {
    if (s.starts_with("#version")) return true;
    const size_t space = s.find(' ');
    if (space == std::string_view::npos || s.find(' ', space + 1) != std::string_view::npos) {
      error_ = "merge '" + std::string(s) + "' is not of the form 'a b'";
      return false;
    }
    tables_->merges.emplace_back(std::string(s.substr(0, space)), std::string(s.substr(space + 1)));
    return true;
  }
  bool fail_vocab(json::error_code& ec) {
    error_ = "model.vocab id of '" + key_ + "' must be a non-negative integer";
    return fail(ec);
  }
  bool fail(json::error_code& ec) {
    if (error_.empty()) {
      error_ = table_ == Table::kVocab ? "model.vocab must map tokens to ids" : "a merge must be \"a b\" or [\"a\", \"b\"]";
    }
    ec = json::error::syntax;  // stops the parser; error_ says why
    return false;
  }

  json::value_stack stack_;
  BpeTables* tables_;
  int depth_ = 0;         // open containers outside the tables (the top-level object is depth 1)
  int model_depth_ = -1;  // depth of the "model" object while inside it
  std::string last_top_key_;
  Table pending_ = Table::kNone;  // the key just read names a table, if its value has the right type
  Table table_ = Table::kNone;    // inside this table
  bool in_pair_ = false;          // inside a ["a", "b"] merge
  std::string text_, key_;
  std::vector<std::string> pair_;
  std::string error_;
};

}  // namespace

Result<json::value> parse_tokenizer_document(std::string_view text, json::storage_ptr sp, BpeTables* tables) {
  json::basic_parser<Handler> parser(json::parse_options{}, std::move(sp), tables);
  json::error_code ec;
  const size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!parser.handler().error().empty()) return invalid_argument(parser.handler().error());
  if (!ec && used != text.size()) ec = json::error::extra_data;
  if (ec || !parser.done()) return invalid_argument("not valid JSON (" + (ec ? ec.message() : "incomplete") + ")");
  return parser.handler().release();
}

}  // namespace podserve::tokenizer_internal
