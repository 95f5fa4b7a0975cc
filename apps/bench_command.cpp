// `podserve bench`: engine-level speed, in process, no HTTP. pp/tg as llama-bench measures them (straight on the
// model), offline throughput as `vllm bench throughput` measures it (through the engine), and the read bandwidth
// that bounds tg (apps/bench_bandwidth.cpp). Results on stdout in the peers' formats, progress on stderr, JSON
// with --output-json.
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "bench_bandwidth.h"
#include "bench_gpu.h"
#include "bench_runs.h"
#include "model/device/device_choice.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"
#include "tool_commands.h"

namespace podserve {
namespace {

namespace json = boost::json;

constexpr const char* kHelp =
    "Usage: podserve bench --model PATH [--mode pp,tg|throughput|bandwidth] [options]\n\n"
    "Engine-level speed in this process (no HTTP). PATH is a .gguf file or a Hugging Face model directory.\n"
    "  --mode LIST      comma-separated tests: pp, tg, throughput, bandwidth, streams, coldstart, limits\n"
    "                   (default pp,tg)\n"
    "pp / tg, as llama-bench: run straight on the model, random tokens, no sampling, one untimed warm-up run;\n"
    "t/s is the mean over the repetitions +- their standard deviation.\n"
    "  -p, --n-prompt N prompt tokens for pp, from position 0 (default 512)\n"
    "  -n, --n-gen N    tokens for tg, one forward pass each at positions 0..N-1 (default 128)\n"
    "  -b, --batch-size N  most tokens per forward pass in pp (default 512, llama-bench's micro-batch)\n"
    "  -r, --repetitions N (default 5)\n"
    "throughput, as `vllm bench throughput` with its random dataset: all prompts submitted at once to the\n"
    "engine (continuous batching), each generating exactly --output-len tokens (ignore_eos, temperature 1).\n"
    "  --num-prompts N  (default 256)   --input-len N (default 128)   --output-len N (default 128)\n"
    "  --max-num-seqs N (default 256)   --max-num-batched-tokens N (default 0 = the engine's)\n"
    "bandwidth: read bandwidth with decode's thread pool and thread count and the kernels' widest loads: the\n"
    "best of at least -r timed passes and 2 s after a warm-up pass, over two buffers: the model's weight bytes per\n"
    "token (what each decode step reads; it may fit the last-level cache) and a buffer far larger than that\n"
    "cache (main memory). The model is not loaded for bandwidth alone.\n"
    "  --large-mib N    size of the large buffer (default 4 x the last-level cache, at most 4096 MiB and half\n"
    "                   the free memory; 0 = skip it)\n"
    "streams: --streams N sequences of --input-len random tokens prefilled, then --output-len decode steps of all\n"
    "of them at once timed straight on the model (no sampling); the best of -r runs.  --streams N (default 128)\n"
    "coldstart: seconds from loading the model to the first token of a request through the engine (its KV\n"
    "cache planning and CUDA graph capture included).\n"
    "limits (GPU): the card's copy bandwidth and bf16 GEMM rate, measured; with --device cuda every GPU figure is\n"
    "also reported as a ratio to the physical limit (the issue 14 targets: HBM roofline, memory-bound step rate,\n"
    "dense bf16 peak), against the datasheet and against the measured limits.\n"
    "Common:\n"
    "  -t, --threads N  compute threads (default 0 = all cores)\n"
    "  --dtype D        auto, float32, bfloat16, float16 (Hugging Face directories)\n"
    "  --device D       auto, cpu, cuda (as `podserve serve --device`; default auto)\n"
    "  --load-format F  auto, safetensors, gguf, or dummy: random weights from a Hugging Face directory's\n"
    "                   config.json (and its tokenizer), vLLM's, for shapes whose weights are not at hand\n"
    "  --seed N         seed of the random prompts (default 0)\n"
    "  --output-json FILE  also write the results as JSON (llama-bench's and vLLM's field names)\n";

struct BenchArgs {
  std::string model;
  bool pp = true, tg = true, throughput = false, bandwidth = false, streams = false, coldstart = false, limits = false;
  int n_streams = 128;
  Device device = Device::kAuto;
  int large_mib = -1;  // -1 = from the last-level cache size
  int n_prompt = 512, n_gen = 128, n_batch = 512, reps = 5, threads = 0;
  std::string dtype = "auto";
  LoadFormat load_format = LoadFormat::kAuto;
  uint64_t seed = 0;
  ThroughputOptions tp;
  std::string output_json;
};

bool parse_int(const char* text, int lo, int hi, int* out) {
  int v = 0;
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, v);
  if (ec != std::errc() || ptr != end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool parse_modes(const std::string& list, BenchArgs* a) {
  a->pp = a->tg = a->throughput = a->bandwidth = a->streams = a->coldstart = a->limits = false;
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    const std::string mode = list.substr(pos, comma - pos);
    if (mode == "pp") a->pp = true;
    else if (mode == "tg") a->tg = true;
    else if (mode == "throughput") a->throughput = true;
    else if (mode == "bandwidth") a->bandwidth = true;
    else if (mode == "streams") a->streams = true;
    else if (mode == "coldstart") a->coldstart = true;
    else if (mode == "limits") a->limits = true;
    else return false;
    pos = comma + 1;
  }
  return true;
}

// Fills `a` from argv; "" on success, else the message for the user.
std::string parse_args(int argc, char** argv, BenchArgs* a) {
  struct IntFlag {
    const char* short_name;
    const char* long_name;
    int* value;
    int lo, hi;
  };
  int seed = 0;
  const IntFlag ints[] = {
      {"-p", "--n-prompt", &a->n_prompt, 1, 1 << 20},    {"-n", "--n-gen", &a->n_gen, 1, 1 << 20},
      {"-b", "--batch-size", &a->n_batch, 1, 1 << 20},   {"-r", "--repetitions", &a->reps, 1, 10000},
      {"-t", "--threads", &a->threads, 0, 4096},         {nullptr, "--num-prompts", &a->tp.num_prompts, 1, 1 << 20},
      {nullptr, "--input-len", &a->tp.input_len, 1, 1 << 20}, {nullptr, "--output-len", &a->tp.output_len, 1, 1 << 20},
      {nullptr, "--max-num-seqs", &a->tp.max_num_seqs, 1, 1 << 16},
      {nullptr, "--max-num-batched-tokens", &a->tp.max_num_batched_tokens, 0, 1 << 24},
      {nullptr, "--seed", &seed, 0, 1 << 30},            {nullptr, "--large-mib", &a->large_mib, 0, 1 << 20},
      {nullptr, "--streams", &a->n_streams, 1, 1 << 16}};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return "option '" + flag + "' needs a value (or is unknown)";
    const char* value = argv[++i];
    bool matched = false;
    for (const IntFlag& f : ints) {
      if (flag != f.long_name && !(f.short_name && flag == f.short_name)) continue;
      if (!parse_int(value, f.lo, f.hi, f.value)) {
        return std::string(f.long_name) + " must be an integer in [" + std::to_string(f.lo) + ", " +
               std::to_string(f.hi) + "], got '" + value + "'";
      }
      matched = true;
    }
    if (matched) continue;
    if (flag == "--model" || flag == "-m") a->model = value;
    else if (flag == "--dtype") a->dtype = value;
    else if (flag == "--load-format") {
      Result<LoadFormat> format = parse_load_format(value);
      if (!format.ok()) return "--load-format: " + format.status().message();
      a->load_format = format.value();
    } else if (flag == "--device") {
      Result<Device> device = parse_device(value);
      if (!device.ok()) return "--device: " + device.status().message();
      a->device = device.value();
    }
    else if (flag == "--output-json") a->output_json = value;
    else if (flag == "--mode" && !parse_modes(value, a)) {
      return std::string("--mode must be a comma-separated list of pp, tg, throughput, bandwidth, streams, "
                         "coldstart, limits, got '") + value + "'";
    } else if (flag != "--mode") {
      return "unknown option '" + flag + "'";
    }
  }
  a->seed = static_cast<uint64_t>(seed);
  a->tp.seed = a->seed;
  if (a->model.empty()) return "--model PATH is required";
  return "";
}

uint64_t model_bytes(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return std::filesystem::file_size(path, ec);
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    if (e.path().extension() == ".safetensors") total += e.file_size(ec);
  }
  return total;
}

// One llama-bench test result (its JSON field names) from per-repetition seconds.
json::object test_result(const std::string& name, int n_prompt, int n_gen, const std::vector<double>& seconds) {
  const double tokens = n_prompt + n_gen;
  std::vector<double> ts;
  json::array samples_ns, samples_ts;
  for (double s : seconds) {
    ts.push_back(tokens / s);
    samples_ns.push_back(static_cast<int64_t>(std::llround(s * 1e9)));
    samples_ts.push_back(ts.back());
  }
  auto mean_sd = [](const std::vector<double>& v) {
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    return std::pair(mean, v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0);
  };
  const auto [avg_s, sd_s] = mean_sd(seconds);
  const auto [avg_ts, sd_ts] = mean_sd(ts);
  return {{"test", name},
          {"n_prompt", n_prompt},
          {"n_gen", n_gen},
          {"avg_ns", static_cast<int64_t>(std::llround(avg_s * 1e9))},
          {"stddev_ns", static_cast<int64_t>(std::llround(sd_s * 1e9))},
          {"avg_ts", avg_ts},
          {"stddev_ts", sd_ts},
          {"samples_ns", std::move(samples_ns)},
          {"samples_ts", std::move(samples_ts)}};
}

void fail(const std::string& message) { std::fprintf(stderr, "podserve bench: %s\n", message.c_str()); }

json::object bandwidth_json(const BandwidthResult& r) {
  json::array samples_ns;
  for (double s : r.pass_seconds) samples_ns.push_back(static_cast<int64_t>(std::llround(s * 1e9)));
  return {{"bytes", r.bytes},
          {"passes", r.passes},
          {"best_gbs", r.best_gbs},
          {"median_gbs", r.median_gbs},
          {"samples_ns", std::move(samples_ns)}};
}

// The large buffer's size: --large-mib, else 4 x the last-level cache (1 GiB if unknown) within a cap.
struct LargeBuffer {
  uint64_t bytes = 0, wanted = 0;
  bool capped = false;
};

LargeBuffer large_buffer(int large_mib, uint64_t llc) {
  if (large_mib >= 0) return {static_cast<uint64_t>(large_mib) << 20, static_cast<uint64_t>(large_mib) << 20, false};
  const uint64_t wanted = llc > 0 ? 4 * llc : uint64_t{1} << 30;
  uint64_t cap = uint64_t{4} << 30;
  const long free_pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (free_pages > 0 && page > 0) cap = std::min(cap, static_cast<uint64_t>(free_pages) * page / 2);
  return {std::min(wanted, cap), wanted, wanted > cap};
}

constexpr double kBandwidthSeconds = 2.0;

// --mode bandwidth: prints a table, fills out["bandwidth"]; returns the exit code.
int run_bandwidth(const BenchArgs& args, int threads, json::object& out) {
  Result<uint64_t> weights = weight_bytes_per_token(args.model);
  if (!weights.ok()) {
    fail("cannot read model " + args.model + ": " + weights.status().message());
    return 1;
  }
  const uint64_t llc = last_level_cache_bytes();
  const LargeBuffer large = large_buffer(args.large_mib, llc);
  json::object bw{{"isa", bandwidth_isa_name()},
                  {"n_threads", threads},
                  {"llc_bytes", llc},
                  {"weight_bytes_per_token", weights.value()}};
  std::printf("| buffer | size | threads | loads | passes | best GB/s | median GB/s |\n"
              "|---|---:|---:|---|---:|---:|---:|\n");
  const auto probe = [&](const char* key, const char* label, uint64_t bytes) {
    Result<BandwidthResult> r = measure_read_bandwidth(bytes, threads, args.reps, kBandwidthSeconds);
    if (!r.ok()) {
      fail(std::string("bandwidth of the ") + label + " buffer failed: " + r.status().message());
      return false;
    }
    std::printf("| %s | %.2f MiB | %d | %s | %d | %.2f | %.2f |\n", label, r.value().bytes / 1048576.0, threads,
                bandwidth_isa_name(), r.value().passes, r.value().best_gbs, r.value().median_gbs);
    std::fflush(stdout);
    std::fprintf(stderr, "bench: bandwidth %s: %.2f GB/s\n", key, r.value().best_gbs);
    bw[key] = bandwidth_json(r.value());
    return true;
  };
  if (!probe("weights", "weight bytes per token", weights.value())) return 1;
  if (large.bytes > 0) {
    const std::string label = large.capped ? "large (capped; 4 x LLC = " + std::to_string(large.wanted >> 20) + " MiB)"
                                           : args.large_mib >= 0 ? "large (--large-mib)" : "large (4 x LLC)";
    if (!probe("large", label.c_str(), large.bytes)) return 1;
    bw["large"].as_object()["capped"] = large.capped;
    bw["large"].as_object()["wanted_bytes"] = large.wanted;
  }
  out["bandwidth"] = std::move(bw);
  return 0;
}

}  // namespace

int run_bench(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(kHelp, stdout);
      return 0;
    }
  }
  BenchArgs args;
  if (std::string error = parse_args(argc, argv, &args); !error.empty()) {
    std::fprintf(stderr, "podserve bench: %s\n\n%s", error.c_str(), kHelp);
    return 2;
  }
  std::ofstream json_file;
  if (!args.output_json.empty()) {
    json_file.open(args.output_json);
    if (!json_file) {
      fail("cannot write --output-json " + args.output_json);
      return 2;
    }
  }
  const int threads = args.threads > 0 ? args.threads : static_cast<int>(std::thread::hardware_concurrency());
  LoadOptions load_options;
  load_options.show_progress = false;
  load_options.num_threads = threads;
  load_options.dtype = args.dtype;
  load_options.load_format = args.load_format;
  Result<Device> device = resolve_device(args.device);  // once: later loads run on the device chosen here
  if (!device.ok()) {
    fail(device.status().message());
    return 2;
  }
  load_options.device.device = device.value();
  const bool gpu = device.value() == Device::kCuda;
  const char* backend = gpu ? "CUDA" : "CPU";
  if (args.limits && !gpu) {
    fail("--mode limits measures a GPU: it needs --device cuda (or auto on a machine with one)");
    return 2;
  }
  const std::string name = std::filesystem::path(args.model).filename().string();
  uint64_t size = model_bytes(args.model);
  json::object out{{"model_filename", args.model}, {"n_threads", threads},       {"n_batch", args.n_batch},
                   {"backend", backend},           {"build", PODSERVE_VERSION}};
  const BenchProgress progress = [](const std::string& line) { std::fprintf(stderr, "bench: %s\n", line.c_str()); };
  GpuFigures figures;
  if (args.coldstart) {  // before anything else is loaded: its own model, engine and first request
    Result<double> secs = time_cold_start(args.model, load_options, args.seed);
    if (!secs.ok()) {
      fail("coldstart failed: " + secs.status().message());
      return 1;
    }
    figures.cold_start_s = secs.value();
    std::printf("Cold start to the first token: %.3f s\n", figures.cold_start_s);
    out["cold_start_seconds"] = figures.cold_start_s;
  }
  std::unique_ptr<LoadedModel> model;  // not loaded for --mode bandwidth alone
  if (args.pp || args.tg || args.throughput || args.streams) {
    Result<std::unique_ptr<LoadedModel>> loaded = load_model(args.model, load_options);
    if (!loaded.ok()) {
      fail("cannot load model " + args.model + ": " + loaded.status().message());
      return 1;
    }
    model = std::move(loaded).value();
    if (model->dummy_weight_bytes() > 0) size = model->dummy_weight_bytes();
    const ModelConfig& config = model->lm().config();
    const int context = config.context_length;
    const bool too_long = (args.pp && args.n_prompt > context) || (args.tg && args.n_gen > context) ||
                          ((args.throughput || args.streams) && args.tp.input_len + args.tp.output_len > context);
    if (context > 0 && too_long) {
      fail("the test does not fit the model's context length " + std::to_string(context) +
           " (-p, -n, or --input-len + --output-len)");
      return 2;
    }
    out["model_type"] = config.architecture;
  }
  out["model_size"] = size;
  if (args.bandwidth) {
    if (const int rc = run_bandwidth(args, threads, out); rc != 0) return rc;
  }
  json::array tests;
  if (args.pp || args.tg) {
    std::printf("| model | size | backend | threads | test | t/s |\n|---|---:|---|---:|---:|---:|\n");
    auto report = [&](const std::string& test, int np, int ng, Result<std::vector<double>> seconds) {
      if (!seconds.ok()) {
        fail(test + " failed: " + seconds.status().message());
        return false;
      }
      json::object r = test_result(test, np, ng, seconds.value());
      std::printf("| %s | %.2f MiB | %s | %d | %s | %.2f ± %.2f |\n", name.c_str(), size / 1048576.0, backend, threads,
                  test.c_str(), r["avg_ts"].as_double(), r["stddev_ts"].as_double());
      (np > 0 ? figures.pp_tokens_per_s : figures.tg_tokens_per_s) = r["avg_ts"].as_double();
      std::fflush(stdout);
      tests.push_back(std::move(r));
      return true;
    };
    CausalLm& lm = model->lm();
    if (args.pp && !report("pp" + std::to_string(args.n_prompt), args.n_prompt, 0,
                           time_prompt(lm, args.n_prompt, args.n_batch, args.reps, args.seed, progress))) {
      return 1;
    }
    if (args.tg && !report("tg" + std::to_string(args.n_gen), 0, args.n_gen,
                           time_generation(lm, args.n_gen, args.reps, args.seed, progress))) {
      return 1;
    }
    out["tests"] = std::move(tests);
  }
  figures.pp_tokens = args.n_prompt;
  if (args.streams) {
    Result<DecodeStreamsResult> r = time_decode_streams(model->lm(), args.n_streams, args.tp.input_len,
                                                        args.tp.output_len, args.reps, args.seed, progress);
    if (!r.ok()) {
      fail("streams failed: " + r.status().message());
      return 1;
    }
    figures.streams = r.value();
    const double tps = r->streams * r->steps / r->seconds;
    std::printf("Decode, %d streams at %d + %d tokens: %.2f tokens/s (%.3f ms per step)\n", r->streams,
                args.tp.input_len, args.tp.output_len, tps, 1e3 * r->seconds / r->steps);
    out["streams"] = json::object{{"streams", r->streams}, {"steps", r->steps}, {"seconds", r->seconds},
                                  {"tokens_per_s", tps}, {"input_len", args.tp.input_len}};
  }
  if (gpu && model != nullptr) {
    figures.weight_bytes = model->lm().decode_weight_bytes();
    figures.experts_per_token = 0;  // dense models; Mixtral's figures would count the routed experts
    figures.kv_elem_bytes = 2;
  }
  if (gpu && (args.limits || model != nullptr)) {
    Result<DeviceLimits> limits = measure_device_limits(0);
    if (!limits.ok()) {
      fail("measuring the GPU's limits failed: " + limits.status().message());
      return 1;
    }
    const ModelConfig config = model != nullptr ? model->lm().config() : ModelConfig{};
    out["gpu"] = report_gpu_ratios(limits.value(), config, figures);
  }
  if (args.throughput) {
    Result<ThroughputResult> r = run_throughput(std::move(model), args.tp, progress);
    if (!r.ok()) {
      fail("throughput failed: " + r.status().message());
      return 1;
    }
    const ThroughputResult& t = r.value();
    const int64_t total = t.prompt_tokens + t.output_tokens;
    std::printf("Throughput: %.2f requests/s, %.2f total tokens/s, %.2f output tokens/s\n",
                t.num_requests / t.elapsed_s, total / t.elapsed_s, t.output_tokens / t.elapsed_s);
    std::printf("Total num prompt tokens:  %lld\nTotal num output tokens:  %lld\n",
                static_cast<long long>(t.prompt_tokens), static_cast<long long>(t.output_tokens));
    // vLLM's --output-json fields, then what its printout adds.
    out["throughput"] = json::object{{"elapsed_time", t.elapsed_s},
                                     {"num_requests", t.num_requests},
                                     {"total_num_tokens", total},
                                     {"requests_per_second", t.num_requests / t.elapsed_s},
                                     {"tokens_per_second", total / t.elapsed_s},
                                     {"total_prompt_tokens", t.prompt_tokens},
                                     {"total_output_tokens", t.output_tokens},
                                     {"output_tokens_per_second", t.output_tokens / t.elapsed_s},
                                     {"input_len", args.tp.input_len},
                                     {"output_len", args.tp.output_len}};
  }
  if (json_file.is_open()) {
    json_file << json::serialize(out) << '\n';
    json_file.close();
    if (!json_file) {
      fail("cannot write " + args.output_json);
      return 1;
    }
  }
  return 0;
}

}  // namespace podserve
