// The public-error checker; see public_error.h. The patterns are what the
// cluster's internals actually produce (gRPC's transport text, SQLite's and
// OpenSSL's error strings, host paths, exception text), tuned so that the
// texts services write for clients — gRPC method paths such as
// "/cloister.api.Exec/Call", a Lua script's "[string \"fn\"]:3:", a
// client's own "../../etc/passwd" echoed back — stay clean.
#include "tests/support/public_error.h"

#include <regex>

namespace cloister::testing {
namespace {

struct Pattern {
  const char* kind;
  std::regex re;
};

std::regex Re(const char* pattern, bool icase = true) {
  auto flags = std::regex::ECMAScript | std::regex::optimize;
  if (icase) flags |= std::regex::icase;
  return std::regex(pattern, flags);
}

const std::vector<Pattern>& Patterns() {
  static const std::vector<Pattern> kPatterns = [] {
    std::vector<Pattern> p;
    // Addresses: what gRPC writes for peers and backends.
    p.push_back({"an IPv4 address", Re(R"(\b\d{1,3}(\.\d{1,3}){3}\b)")});
    p.push_back({"an IPv6 address", Re(R"(\[[0-9a-f]*:[0-9a-f:.]*\](:\d+)?)")});
    p.push_back({"a gRPC peer or target URI", Re(R"(\b(ipv4|ipv6|unix|unix-abstract|vsock|dns):)")});
    p.push_back({"a local host name", Re(R"(\blocalhost\b)")});
    // Host paths: an absolute path of two or more components whose first has
    // no dot (a gRPC method path's first component is its package), a named
    // system root, a file URI, a path inside the cluster's data directory,
    // a database or socket file name.
    p.push_back({"a host path", Re(R"((^|[\s'"(\[=,:;<])/[a-z0-9_-]+/)")});
    p.push_back({"a host path",
                 Re(R"((^|[^a-z0-9_./-])/(tmp|work|home|var|run|proc|etc|usr|opt|srv|root|dev|sys|mnt|lib)\b)")});
    p.push_back({"a file URI", Re(R"(\bfile:/)")});
    p.push_back({"a data-directory path",
                 Re(R"(\b(data|audit|blobs|uploads)/(auth|storage|exec|tasks|keyvault|gateway|platform|[0-9a-f]{2})\b)")});
    p.push_back({"a database or socket file", Re(R"(\w\.(db|sqlite3?|sock|wal|shm)\b)")});
    // Source references and what a crash or an escaped exception prints.
    p.push_back({"a source-file reference", Re(R"(\w\.(cc|cpp|cxx)\b|\w\.(hh|hpp|h|c):\d*)")});
    p.push_back({"exception text",
                 Re(R"(std::|\bwhat\(\)|terminate called|__cxa|basic_string|bad_alloc|bad_function_call|\b_M_[a-z]|\bsto(i|l|ll|ul|ull|f|d|ld)\b)")});
    p.push_back({"stack detail",
                 Re(R"(stack traceback|stack trace|backtrace|segmentation fault|core dumped|assertion .* failed|#\d+ +0x)")});
    p.push_back({"a memory address", Re(R"(\b0x[0-9a-f]{6,}\b)")});
    // Library internals.
    p.push_back({"SQLite internals",
                 Re(R"(sqlite|constraint failed|no such (table|column)|database is locked|sql logic error|disk i/o error|database disk image|file is not a database|near "[^"]*": syntax error)")});
    p.push_back({"OpenSSL internals", Re(R"(error:[0-9a-f]{6,8}:|openssl|ssl routines|routines::)")});
    p.push_back({"OpenSSL internals", Re(R"(\b(EVP|SSL|X509|BIO|PEM|ASN1|ERR)_[A-Za-z0-9_]+)", false)});
    p.push_back({"gRPC internals",
                 Re(R"(grpc_|\bgrpc:|socket closed|failed to connect|dns resolution|connection refused|connections to all backends|broken pipe|connection reset|endpoint (read|write)|stream removed|rst_stream|goaway|subchannel|last error|created_time|received message larger|sent message larger|\btsi_|handshaker)")});
    return p;
  }();
  return kPatterns;
}

std::string Excerpt(std::string_view text, size_t pos, size_t len) {
  const size_t from = pos > 20 ? pos - 20 : 0;
  const size_t to = std::min(text.size(), pos + len + 20);
  return std::string(text.substr(from, to - from));
}

std::string Describe(int code, std::string_view message, std::string_view reason) {
  return "[code " + std::to_string(code) + ", reason '" + std::string(reason) + "', message '" +
         std::string(message) + "']";
}

}  // namespace

bool IsStableReason(std::string_view reason) {
  if (reason.empty() || reason.size() > 64 || !(reason[0] >= 'A' && reason[0] <= 'Z'))
    return false;
  for (char ch : reason)
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  return true;
}

std::vector<std::string> InternalDetailsIn(std::string_view text,
                                           const std::vector<std::string>& internal) {
  std::vector<std::string> found;
  const std::string s(text);
  for (const Pattern& p : Patterns()) {
    std::smatch m;
    if (std::regex_search(s, m, p.re))
      found.push_back(std::string(p.kind) + ": '" +
                      Excerpt(text, static_cast<size_t>(m.position(0)),
                              static_cast<size_t>(m.length(0))) +
                      "'");
  }
  for (const std::string& x : internal) {
    if (x.empty()) continue;
    if (size_t at = s.find(x); at != std::string::npos)
      found.push_back("an internal string ('" + x + "'): '" + Excerpt(text, at, x.size()) + "'");
  }
  return found;
}

std::string InternalDetailText(std::string_view text, const std::vector<std::string>& internal) {
  std::string out;
  for (const std::string& f : InternalDetailsIn(text, internal))
    out += (out.empty() ? "" : "; ") + f;
  return out;
}

std::string PublicErrorProblem(int code, std::string_view message, std::string_view reason,
                               const std::vector<std::string>& internal) {
  if (code == 0) return "";
  std::string problem;
  if (!IsStableReason(reason)) problem = "the reason is not an UPPER_SNAKE token";
  if (message.empty()) problem += std::string(problem.empty() ? "" : "; ") + "the message is empty";
  if (std::string leaks = InternalDetailText(message, internal); !leaks.empty())
    problem += std::string(problem.empty() ? "" : "; ") + "the message holds " + leaks;
  return problem.empty() ? "" : problem + " " + Describe(code, message, reason);
}

std::string PublicErrorProblem(const grpc::Status& s, const std::vector<std::string>& internal) {
  return PublicErrorProblem(static_cast<int>(s.error_code()), s.error_message(), s.error_details(),
                            internal);
}

std::string PublicErrorProblem(const Error& e, const std::vector<std::string>& internal) {
  return PublicErrorProblem(static_cast<int>(e.code()), e.message(), e.reason(), internal);
}

std::string PublicErrorProblem(const Status& s, const std::vector<std::string>& internal) {
  return s.ok() ? "" : PublicErrorProblem(s.error(), internal);
}

Status WithoutClientText(const Status& s, std::string_view client_text) {
  if (s.ok() || client_text.empty()) return s;
  std::string m = s.error().message();
  for (size_t at; (at = m.find(client_text)) != std::string::npos;)
    m.replace(at, client_text.size(), "<client>");
  return Error(s.error().code(), std::move(m), s.error().reason());
}

std::string PublicReason(const grpc::Status& s) {
  if (s.ok()) return "<ok>";
  std::string problem = PublicErrorProblem(s);
  return problem.empty() ? s.error_details() : "<not a public error: " + problem + ">";
}

std::string PublicReason(const Error& e) {
  std::string problem = PublicErrorProblem(e);
  return problem.empty() ? e.reason() : "<not a public error: " + problem + ">";
}

std::string PublicReason(const Status& s) {
  return s.ok() ? std::string("<ok>") : PublicReason(s.error());
}

}  // namespace cloister::testing
