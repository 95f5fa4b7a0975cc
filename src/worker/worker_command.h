// `podserve worker`: the RunPod serverless worker. Loads the model like `podserve serve`, then pulls jobs from
// the job server named by RUNPOD_WEBHOOK_GET_JOB and answers them through the same OpenAI routes, in-process.
#pragma once

namespace podserve {

/// Runs the worker. `argv[0]` is the subcommand name ("worker"); the rest are `podserve serve`'s engine flags
/// plus `--test_input '<json>'`. Returns 0 after SIGTERM once the held jobs are finished (or after a successful
/// local test job), 1 when the model cannot be loaded, the engine fails or a local test job fails, 2 for a bad
/// flag or environment value.
int run_worker(int argc, char** argv);

}  // namespace podserve
