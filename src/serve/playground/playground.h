// The chat playground at `/`: one page, its script, style sheet and icon, compiled into the binary (no files to
// install, nothing fetched from elsewhere). The page talks to the same server's OpenAI routes from the browser.
#pragma once

#include <optional>
#include <string_view>

#include "serve/http/http_types.h"
#include "serve/http/router.h"

namespace podserve::playground {

/// Adds `GET /` (the page) and `GET /playground/<file>` to the table.
void register_routes(http::Router& router);

/// The answer for the embedded file `name` ("index.html", "playground.js", ...): its Content-Type, an ETag, and
/// `Cache-Control: no-cache` (the browser revalidates, so a new binary's page shows at once); 304 with no body
/// when `if_none_match` names the current ETag. The page also carries a Content-Security-Policy that allows
/// only this server's own script, styles and API, so no injected markup can run. nullopt: no such file.
std::optional<http::HttpResponse> file_response(std::string_view name, std::string_view if_none_match);

}  // namespace podserve::playground
