#include "serve/env_table.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstring>

#include "serve/config.h"
#include "serve/vllm_variables.h"

namespace podserve {
namespace {

const char* status_name(Treatment t) {
  switch (t) {
    case Treatment::kWarn: return "warn";
    case Treatment::kRefuse: return "refuse";
    case Treatment::kWorker: return "worker";
    case Treatment::kHub: return "hub";
  }
  return "";
}

const char* kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::kText: return "text";
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kNumber: return "number";
    case ValueKind::kJson: return "json";
    case ValueKind::kChoice: return "choice";
  }
  return "";
}

/// Markdown cells must not hold a bare '|'.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

std::string code_list(std::string_view list, std::string_view sep) {
  std::string out;
  size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    const size_t bar = list.find('|', start);
    if (!out.empty()) out += sep;
    out += "`" + std::string(list.substr(start, bar == std::string_view::npos ? bar : bar - start)) + "`";
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return out;
}

/// The rows no option supersedes, in table order.
std::vector<const VariableRule*> rules_in_effect(const std::vector<OptionDoc>& docs) {
  std::vector<const VariableRule*> out;
  for (const VariableRule& rule : vllm_variable_rules()) {
    bool superseded = false;
    for (const OptionDoc& d : docs) {
      for (const std::string& e : d.env) superseded |= e == rule.env;
    }
    if (!superseded) out.push_back(&rule);
  }
  return out;
}

std::string what_podserve_does(const VariableRule& r) {
  std::string neutral = r.neutral.empty() ? "" : " (" + code_list(r.neutral, " or ") + ": accepted silently)";
  switch (r.treatment) {
    case Treatment::kWarn: return "accepted, start-up warning" + neutral;
    case Treatment::kRefuse: return "**refused** at start-up" + (r.neutral.empty() ? std::string() : " unless " +
                                    code_list(r.neutral, " or "));
    case Treatment::kWorker: return "read by `podserve worker`";
    case Treatment::kHub: return "read by the model download";
  }
  return "";
}

}  // namespace

std::string env_table_markdown() {
  const std::vector<OptionDoc> docs = option_docs();
  std::string out = "| flag | env | meaning (default) |\n|---|---|---|\n";
  for (const OptionDoc& d : docs) {
    std::string flag = d.flag.empty() ? "" : "`" + (d.negatable ? "--[no-]" + d.flag.substr(2) : d.flag) + "`";
    std::string env;
    for (const std::string& e : d.env) env += (env.empty() ? "`" : ", `") + e + "`";
    out += "| " + flag + " | " + env + " | " + cell(d.help) + " |\n";
  }
  out += "\n<details><summary>The vLLM worker's other variables (and <code>vllm serve</code>'s flags of the same "
         "names): what podserve does with each</summary>\n\n";
  out += "| env | flag | podserve | why |\n|---|---|---|---|\n";
  for (const VariableRule* r : rules_in_effect(docs)) {
    const std::string flag = rule_flag(*r);
    out += "| `" + std::string(r->env) + "` | " + (flag.empty() ? "" : "`" + flag + "`") + " | " +
           what_podserve_does(*r) + " | " + cell(r->why) + " |\n";
  }
  return out + "\n</details>\n";
}

std::string env_table_json() {
  const std::vector<OptionDoc> docs = option_docs();
  boost::json::array rows;
  for (const OptionDoc& d : docs) {
    for (const std::string& e : d.env) {
      boost::json::object o;
      o["env"] = e;
      o["flag"] = d.flag;
      o["status"] = "implemented";
      o["why"] = d.help;
      rows.emplace_back(std::move(o));
    }
  }
  for (const VariableRule* r : rules_in_effect(docs)) {
    boost::json::object o;
    o["env"] = r->env;
    o["flag"] = rule_flag(*r);
    o["status"] = status_name(r->treatment);
    o["kind"] = kind_name(r->kind);
    o["choices"] = r->choices;
    o["neutral"] = r->neutral;
    o["why"] = r->why;
    rows.emplace_back(std::move(o));
  }
  return boost::json::serialize(rows);
}

int run_env_table(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json")) {
      json = true;
    } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::puts("Usage: podserve env-table [--json]\n\nPrints every environment variable podserve answers (the "
                "README's tables), or the same as JSON.");
      return 0;
    } else {
      std::fprintf(stderr, "podserve env-table: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  const std::string text = json ? env_table_json() + "\n" : env_table_markdown();
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace podserve
