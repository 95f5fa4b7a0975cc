// Stop strings over streamed text, with vLLM's semantics: the matched string (and anything after it) is cut
// from the output and generation ends; include_stop_str_in_output keeps the string itself.
#include "engine/stop_checker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace podserve {
namespace {

// Feeds `pieces` in order; returns everything emitted (including the final flush) and the per-append outputs.
struct Streamed {
  std::string text;
  std::vector<std::string> chunks;
};
Streamed feed(StopChecker& checker, const std::vector<std::string>& pieces) {
  Streamed run;
  for (const auto& p : pieces) {
    run.chunks.push_back(checker.append(p));
    run.text += run.chunks.back();
  }
  run.chunks.push_back(checker.flush());
  run.text += run.chunks.back();
  return run;
}

TEST(StopChecker, MatchSplitAcrossAppends) {
  StopChecker checker({"o w"}, false);
  EXPECT_EQ(checker.append("Hel"), "H");  // the last len("o w") - 1 bytes are held back
  EXPECT_FALSE(checker.stopped());
  EXPECT_EQ(checker.append("lo wor"), "ell");  // "Hello wor": match at 4, text before it released
  ASSERT_TRUE(checker.stopped());
  EXPECT_EQ(checker.matched(), "o w");
  EXPECT_EQ(checker.append("ld"), "");  // nothing after a stop
  EXPECT_EQ(checker.flush(), "");
}

TEST(StopChecker, MatchSplitOneByteAtATime) {
  StopChecker checker({"o w"}, false);
  const Streamed run = feed(checker, {"H", "e", "l", "l", "o", " ", "w", "o", "r", "l", "d"});
  EXPECT_EQ(run.text, "Hell");
  EXPECT_TRUE(checker.stopped());
}

TEST(StopChecker, IncludeStopStrInOutput) {
  StopChecker checker({"o w"}, true);
  // Stop strings are emitted anyway, so nothing needs holding back.
  EXPECT_EQ(checker.append("Hel"), "Hel");
  EXPECT_EQ(checker.append("lo wor"), "lo w");  // cut right after the stop string
  ASSERT_TRUE(checker.stopped());
  EXPECT_EQ(checker.matched(), "o w");
  EXPECT_EQ(checker.flush(), "");
}

TEST(StopChecker, IncludeStopStrWhoseStartWasAlreadyEmitted) {
  StopChecker checker({"ab"}, true);
  const Streamed run = feed(checker, {"xa", "bc"});
  EXPECT_EQ(run.text, "xab");
  EXPECT_EQ(run.chunks[0], "xa");
  EXPECT_EQ(run.chunks[1], "b");
}

TEST(StopChecker, EarliestOfSeveralStopsWins) {
  // "b" is listed first but "a" occurs earlier in the text: the output must not contain any stop string.
  StopChecker checker({"b", "cab", "a"}, false);
  const Streamed run = feed(checker, {"xxcab"});
  EXPECT_EQ(run.text, "xx");
  EXPECT_EQ(checker.matched(), "cab");

  StopChecker spread({"world", "lo"}, false);
  EXPECT_EQ(feed(spread, {"hel", "lo wor", "ld"}).text, "hel");
  EXPECT_EQ(spread.matched(), "lo");
}

TEST(StopChecker, StopAtTheVeryStart) {
  StopChecker checker({"###"}, false);
  const Streamed run = feed(checker, {"#", "##", " more"});
  EXPECT_EQ(run.text, "");
  EXPECT_TRUE(checker.stopped());
}

TEST(StopChecker, HeldBackTextReleasedOnFlush) {
  StopChecker checker({"STOP"}, false);
  EXPECT_EQ(checker.append("abcST"), "ab");  // len("STOP") - 1 = 3 bytes held back
  EXPECT_EQ(checker.append("O"), "c");
  EXPECT_EQ(checker.flush(), "STO");  // generation ended another way: everything comes out
  EXPECT_FALSE(checker.stopped());
  EXPECT_EQ(checker.flush(), "");  // idempotent
}

TEST(StopChecker, NoStopStringsPassesEverythingThrough) {
  StopChecker checker({}, false);
  EXPECT_EQ(checker.append("abc"), "abc");
  EXPECT_EQ(checker.append(""), "");
  EXPECT_EQ(checker.flush(), "");
}

TEST(StopChecker, EmptyStopStringsAreIgnored) {
  StopChecker only_empty({""}, false);
  EXPECT_EQ(only_empty.append("abc"), "abc");  // "" would match everywhere; vLLM never stops on it
  EXPECT_FALSE(only_empty.stopped());

  StopChecker mixed({"", "xy", ""}, false);
  const Streamed run = feed(mixed, {"ab", "cx", "yz"});
  EXPECT_EQ(run.text, "abc");
  EXPECT_EQ(mixed.matched(), "xy");
}

// Whether `s` is a sequence of whole UTF-8 characters (no character cut at either end).
bool whole_characters(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
    if (len == 0 || i + len > s.size()) return false;  // starts with a continuation byte, or cut short
    for (size_t j = 1; j < len; ++j) {
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

TEST(StopChecker, HoldBackNeverSplitsUtf8) {
  // Pieces that are each whole characters (as the detokenizer emits), with a long stop string so that the
  // hold-back boundary falls inside multi-byte characters.
  const std::vector<std::string> pieces = {"a", "\xC3\xA9", "\xE2\x82\xAC", "b", "\xF0\x9F\x98\x80",
                                           "\xE4\xB8\xAD\xE6\x96\x87", "c", "\xC3\xA9\xC3\xA9"};
  std::string all;
  for (const auto& p : pieces) all += p;
  for (const std::string stop : {"zz", "zzz", "zzzz", "zzzzz", "zzzzzzz"}) {
    SCOPED_TRACE(stop);
    StopChecker checker({stop}, false);
    const Streamed run = feed(checker, pieces);
    EXPECT_EQ(run.text, all);
    for (const auto& chunk : run.chunks) EXPECT_TRUE(whole_characters(chunk)) << "split character in a chunk";
  }
}

TEST(StopChecker, MultiByteStopString) {
  StopChecker checker({"\xE2\x82\xAC!"}, false);  // "€!"
  const Streamed run = feed(checker, {"5", "\xE2\x82\xAC", "!", " more"});
  EXPECT_EQ(run.text, "5");
  EXPECT_TRUE(checker.stopped());
}

}  // namespace
}  // namespace podserve
