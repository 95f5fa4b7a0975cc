// Golden tests: every case in tests/data/chat_templates.json (rendered by Python jinja2 configured like
// transformers; see tools/goldens/chat_templates.py) must render byte-identically, or fail when jinja2
// failed (with raise_exception's exact message where the template raised).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>

#include "chat/chat_template.h"
#include "chat/json_value.h"
#include "io/gguf.h"
#include "test_util.h"

namespace podserve {
namespace {

class ChatTemplateGoldenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // strftime_now renders the goldens' fixed instant in UTC.
    setenv("TZ", "UTC", 1);
    tzset();
    const std::string text = testing::read_file(testing::test_data_dir() + "/chat_templates.json");
    doc_ = new boost::json::object(boost::json::parse(text).as_object());
  }
  static void TearDownTestSuite() {
    delete doc_;
    doc_ = nullptr;
  }

  // Runs every case whose name starts with `prefix`; returns how many ran.
  int run_cases(const std::string& prefix) {
    const auto& templates = doc_->at("templates").as_object();
    jinja::RenderOptions options;
    options.now_unix_seconds = doc_->at("now_unix_seconds").as_int64();
    std::map<std::string, Result<ChatTemplate>> parsed;
    int count = 0;
    for (const auto& item : doc_->at("cases").as_array()) {
      const auto& c = item.as_object();
      const std::string name(c.at("name").as_string());
      if (name.rfind(prefix, 0) != 0) continue;
      ++count;
      check_case(c, name, templates, options, &parsed);
    }
    return count;
  }

  static void check_case(const boost::json::object& c, const std::string& name, const boost::json::object& templates,
                         const jinja::RenderOptions& options, std::map<std::string, Result<ChatTemplate>>* cache) {
    auto& parsed = *cache;
    {
      const std::string tname(c.at("template").as_string());
      auto it = parsed.find(tname);
      if (it == parsed.end()) {
        it = parsed.emplace(tname, ChatTemplate::parse(std::string(templates.at(tname).as_string()))).first;
      }
      auto context = value_from_json(c.at("context"));
      ASSERT_TRUE(context.ok()) << context.status().to_string();
      Result<std::string> out = it->second.ok() ? it->second->render(*context, options)
                                                : Result<std::string>(it->second.status());
      if (const auto* expected = c.if_contains("expected")) {
        ASSERT_TRUE(out.ok()) << name << ": " << out.status().to_string();
        EXPECT_EQ(*out, std::string(expected->as_string())) << name;
        return;
      }
      const std::string jinja_error(c.at("expected_error").as_string());
      ASSERT_FALSE(out.ok()) << name << ": expected an error like \"" << jinja_error << "\", rendered:\n" << *out;
      if (c.at("error_exact").as_bool()) {
        EXPECT_EQ(out.status().message(), jinja_error) << name;
        EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
      } else {
        // Our own errors say where they happened.
        EXPECT_NE(out.status().message().find("line "), std::string::npos) << out.status().message();
      }
    }
  }

  static boost::json::object* doc_;
};

boost::json::object* ChatTemplateGoldenTest::doc_ = nullptr;

TEST_F(ChatTemplateGoldenTest, SmolLM2) { EXPECT_GE(run_cases("smollm2/"), 6); }
TEST_F(ChatTemplateGoldenTest, FixtureTemplates) { EXPECT_GE(run_cases("fixture/"), 100); }
TEST_F(ChatTemplateGoldenTest, SyntaxCases) { EXPECT_GE(run_cases("syntax/"), 40); }
TEST_F(ChatTemplateGoldenTest, TokenizerConfigTemplates) { EXPECT_GE(run_cases("tokenizer_config/"), 24); }
TEST_F(ChatTemplateGoldenTest, FeatureCases) { EXPECT_GE(run_cases("feature/"), 30); }
TEST_F(ChatTemplateGoldenTest, RealWorldIdioms) { EXPECT_GE(run_cases("idiom/"), 8); }

TEST_F(ChatTemplateGoldenTest, GgufTemplateMatchesGoldenSource) {
  auto gguf = GgufFile::open(testing::model_path());
  ASSERT_TRUE(gguf.ok()) << gguf.status().to_string();
  auto source = gguf->get_string("tokenizer.chat_template");
  ASSERT_TRUE(source.ok()) << source.status().to_string();
  EXPECT_EQ(*source, std::string(doc_->at("templates").at("smollm2-gguf").as_string()));
  auto tmpl = ChatTemplate::parse(*source);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().to_string();

  ChatTemplateInputs in;
  auto messages = value_from_json(boost::json::parse(R"([{"role": "user", "content": "What is 2+2?"}])"));
  ASSERT_TRUE(messages.ok());
  in.messages = *messages;
  in.add_generation_prompt = true;
  auto out = apply_chat_template(*tmpl, in);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
}

}  // namespace
}  // namespace podserve
