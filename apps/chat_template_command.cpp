// `podserve chat-template --template FILE_OR_MODEL --input JSON_FILE`: renders a chat template as
// transformers' apply_chat_template would and prints it (or a clear error naming line and column).
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/mapped_file.h"
#include "chat/chat_template.h"
#include "chat/json_value.h"
#include "tool_commands.h"
#include "tool_sources.h"

namespace podserve {
namespace {

namespace json = boost::json;

constexpr const char* kHelp =
    "Usage: podserve chat-template --template FILE_OR_MODEL --input JSON_FILE [--template-name NAME]\n\n"
    "FILE_OR_MODEL: a Jinja file, a model directory or tokenizer_config.json (its chat_template, or\n"
    "chat_template.jinja), or a .gguf file (tokenizer.chat_template). --template-name picks a named template\n"
    "(e.g. tool_use). JSON_FILE is an object: messages (required), tools, documents, add_generation_prompt,\n"
    "bos_token, eos_token (default: the model's), and any other key is passed to the template as a variable.\n"
    "Prints the rendering to stdout; errors go to stderr with exit code 1.\n";

Result<ChatTemplateInputs> read_inputs(const std::string& path, const ToolTemplate& tmpl) {
  PODSERVE_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  boost::system::error_code ec;
  json::value root = json::parse(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), ec);
  if (ec || !root.is_object()) return invalid_argument("'" + path + "' is not a JSON object");
  json::object& o = root.get_object();
  const json::value* messages = o.if_contains("messages");
  if (!messages || !messages->is_array()) return invalid_argument("'" + path + "': 'messages' must be a list");
  ChatTemplateInputs in;
  PODSERVE_ASSIGN_OR_RETURN(in.messages, value_from_json(*messages));
  if (const json::value* tools = o.if_contains("tools"); tools && !tools->is_null()) {
    PODSERVE_ASSIGN_OR_RETURN(in.tools, value_from_json(*tools));
  }
  if (const json::value* docs = o.if_contains("documents"); docs && !docs->is_null()) {
    PODSERVE_ASSIGN_OR_RETURN(in.documents, value_from_json(*docs));
  }
  if (const json::value* agp = o.if_contains("add_generation_prompt")) {
    if (!agp->is_bool()) return invalid_argument("'" + path + "': 'add_generation_prompt' must be true or false");
    in.add_generation_prompt = agp->get_bool();
  }
  in.bos_token = tmpl.bos_token;
  in.eos_token = tmpl.eos_token;
  json::object extra;
  if (!tmpl.unk_token.empty()) extra["unk_token"] = tmpl.unk_token;
  if (!tmpl.pad_token.empty()) extra["pad_token"] = tmpl.pad_token;
  for (const auto& [key, value] : o) {
    if (key == "messages" || key == "tools" || key == "documents" || key == "add_generation_prompt") continue;
    if ((key == "bos_token" || key == "eos_token") && !value.is_string()) {
      return invalid_argument("'" + path + "': '" + std::string(key) + "' must be a string");
    }
    if (key == "bos_token") {
      in.bos_token = std::string(value.get_string());
    } else if (key == "eos_token") {
      in.eos_token = std::string(value.get_string());
    } else {
      extra[key] = value;
    }
  }
  PODSERVE_ASSIGN_OR_RETURN(in.extra_kwargs, value_from_json(extra));
  return in;
}

}  // namespace

int run_chat_template(int argc, char** argv) {
  std::string template_path, input_path, name;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (!std::strcmp(argv[i], "--template") && i + 1 < argc) {
      template_path = argv[++i];
    } else if (!std::strcmp(argv[i], "--input") && i + 1 < argc) {
      input_path = argv[++i];
    } else if (!std::strcmp(argv[i], "--template-name") && i + 1 < argc) {
      name = argv[++i];
    } else {
      std::fprintf(stderr, "podserve chat-template: unknown or incomplete option '%s'\n%s", argv[i], kHelp);
      return 2;
    }
  }
  if (template_path.empty() || input_path.empty()) {
    std::fprintf(stderr, "podserve chat-template: --template and --input are required\n%s", kHelp);
    return 2;
  }
  const auto fail = [](const Status& s) {
    std::fprintf(stderr, "podserve chat-template: %s\n", s.message().c_str());
    return 1;
  };
  Result<ToolTemplate> tmpl = load_tool_template(template_path, name);
  if (!tmpl.ok()) return fail(tmpl.status());
  Result<ChatTemplateInputs> inputs = read_inputs(input_path, *tmpl);
  if (!inputs.ok()) return fail(inputs.status());
  Result<ChatTemplate> parsed = ChatTemplate::parse(tmpl->source);
  if (!parsed.ok()) return fail(parsed.status());
  Result<std::string> text = apply_chat_template(*parsed, *inputs);
  if (!text.ok()) return fail(text.status());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace podserve
