#include "base/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace podserve {
namespace {

TEST(Status, DefaultIsOk) {
  const Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.to_string(), "Ok");
  EXPECT_TRUE(ok_status().ok());
  EXPECT_TRUE(Status::ok_status().ok());
}

TEST(Status, HelpersSetCodeAndMessage) {
  const std::pair<Status, StatusCode> cases[] = {
      {invalid_argument("a"), StatusCode::kInvalidArgument},
      {not_found("a"), StatusCode::kNotFound},
      {out_of_range("a"), StatusCode::kOutOfRange},
      {data_loss("a"), StatusCode::kDataLoss},
      {unimplemented("a"), StatusCode::kUnimplemented},
      {resource_exhausted("a"), StatusCode::kResourceExhausted},
      {unavailable("a"), StatusCode::kUnavailable},
      {cancelled("a"), StatusCode::kCancelled},
      {internal_error("a"), StatusCode::kInternal},
  };
  for (const auto& [status, code] : cases) {
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), code);
    EXPECT_EQ(status.message(), "a");
    EXPECT_EQ(status.to_string(), std::string(status_code_name(code)) + ": a");
  }
  EXPECT_EQ(invalid_argument("bad field").to_string(), "InvalidArgument: bad field");
  EXPECT_STREQ(status_code_name(StatusCode::kUnauthenticated), "Unauthenticated");
}

TEST(Result, HoldsValueOrError) {
  Result<int> r = 42;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  *r = 7;
  EXPECT_EQ(r.value(), 7);

  Result<int> e = not_found("missing");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(e.status().message(), "missing");
}

TEST(Result, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<std::string>> r = std::make_unique<std::string>("hi");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->get()->size(), 2u);
  std::unique_ptr<std::string> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, "hi");
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  Result<int> e = internal_error("boom");
  EXPECT_DEATH((void)e.value(), "Internal: boom");
}

TEST(ResultDeathTest, ConstructingFromOkStatusAborts) {
  EXPECT_DEATH({ Result<int> r{Status()}; (void)r; }, "Result constructed from an ok Status");
}

// Functions using the macros, as library code does.
Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("not positive: " + std::to_string(v));
  return v;
}

Status check_even(int v) { return v % 2 == 0 ? ok_status() : out_of_range("odd"); }

Result<int> doubled_if_even(int v, int* evaluations) {
  ++*evaluations;
  PODSERVE_ASSIGN_OR_RETURN(int p, parse_positive(v));
  PODSERVE_RETURN_IF_ERROR(check_even(p));
  return 2 * p;
}

// Two uses in one scope need distinct hidden temporaries (the macro names them with __COUNTER__).
Result<std::vector<int>> two_in_a_row(int a, int b) {
  PODSERVE_ASSIGN_OR_RETURN(int x, parse_positive(a));
  PODSERVE_ASSIGN_OR_RETURN(int y, parse_positive(b));
  return std::vector<int>{x, y};
}

Status assign_existing(int v, int* out) {
  PODSERVE_ASSIGN_OR_RETURN(*out, parse_positive(v));
  return ok_status();
}

TEST(StatusMacros, PropagateErrorsAndUnwrapValues) {
  int evaluations = 0;
  Result<int> ok = doubled_if_even(4, &evaluations);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 8);

  Result<int> not_positive = doubled_if_even(-3, &evaluations);
  ASSERT_FALSE(not_positive.ok());
  EXPECT_EQ(not_positive.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(not_positive.status().message(), "not positive: -3");

  Result<int> odd = doubled_if_even(3, &evaluations);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(evaluations, 3);  // each call's body ran once: no double evaluation

  Result<std::vector<int>> both = two_in_a_row(1, 2);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(*both, (std::vector<int>{1, 2}));
  EXPECT_EQ(two_in_a_row(1, 0).status().message(), "not positive: 0");

  int out = 0;
  EXPECT_TRUE(assign_existing(5, &out).ok());
  EXPECT_EQ(out, 5);
  EXPECT_EQ(assign_existing(0, &out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, 5);  // untouched on error
}

TEST(StatusMacros, ReturnIfErrorEvaluatesOnce) {
  int calls = 0;
  auto f = [&]() -> Status {
    PODSERVE_RETURN_IF_ERROR((++calls, ok_status()));
    PODSERVE_RETURN_IF_ERROR((++calls, cancelled("stop")));
    ++calls;  // not reached
    return ok_status();
  };
  const Status s = f();
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace podserve
