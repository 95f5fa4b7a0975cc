// `podserve serve`: config -> model -> engine -> HTTP server, until SIGINT/SIGTERM.
#pragma once

namespace podserve {

/// Runs the server. `argv[0]` is the subcommand name ("serve"); the rest are its flags. Returns the process exit
/// code: 0 after a clean shutdown or --help, 1 if the model cannot be loaded or the port cannot be bound,
/// 2 for a bad flag or environment value.
int run_serve(int argc, char** argv);

}  // namespace podserve
